"""Domain rules. Services never commit (their unit of work does) nor import the API layer."""
