"""Embedded backends: one SQLite file in WAL mode for state, folders for buckets."""
