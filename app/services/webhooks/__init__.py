"""Signed webhooks (issue 10 §5): endpoints, the address guard, and delivery."""
