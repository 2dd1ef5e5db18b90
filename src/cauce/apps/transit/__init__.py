"""Transit: ADATRAP Miner on cauce, plus an open engine for stages, trips, OD and profiles.

See README.md next to this file. The app object lives in `app.py`.
"""

from . import dashboard as _dashboard  # noqa: F401 - declares @app.dashboard
from .app import app

__all__ = ["app"]
