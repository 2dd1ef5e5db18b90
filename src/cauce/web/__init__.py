"""cauce's web UI: every app of a home in a browser (install with ``pip install 'cauce[ui]'``).

``cauce ui [APP ...]`` or ``cauce serve APP --ui`` start it; `open_ui` does the same from Python.
"""

from __future__ import annotations

from .server import Server, create_app, open_ui

__all__ = ["Server", "create_app", "open_ui"]
