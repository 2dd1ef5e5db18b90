"""The open engine: runs, boardings, alightings, trips, expansion, profiles and speeds."""
