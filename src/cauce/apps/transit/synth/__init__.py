"""A synthetic city and day with known true trips, written in the real input formats."""
