"""Persistence: engines and sessions, ORM models, repositories (all SQL), migrations."""
