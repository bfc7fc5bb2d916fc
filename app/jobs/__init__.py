"""Background jobs on arq. Every arq import stays inside this package (DESIGN.md §1)."""
