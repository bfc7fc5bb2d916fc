"""Domain rules. Services never commit themselves (their unit of work does) and never import the API layer."""
