"""census app (wiring comes with the core)."""
