"""Transit: ADATRAP Miner on cauce, plus an open engine for stages, trips, OD and profiles.

See README.md next to this file. The app object lives in `app.py`.
"""

from .app import app

__all__ = ["app"]
