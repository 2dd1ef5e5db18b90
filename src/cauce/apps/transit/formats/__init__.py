"""Readers and writers of the ADATRAP input and output formats."""
