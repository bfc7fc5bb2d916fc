"""Plain domain values shared by every layer: records, enums, errors. Imports nothing of app."""
