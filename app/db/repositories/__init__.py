"""Repositories: all SQL lives here; each takes an explicit session and returns domain records."""
