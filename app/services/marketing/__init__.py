"""Marketing sends and unsubscribe (issue 10 §4): campaigns, their fan-out, their messages."""
