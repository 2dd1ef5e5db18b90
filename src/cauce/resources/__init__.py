"""Resource facades: what an app declares and calls; each delegates to a backend at run time."""
