"""Whether a registered process is known to be gone: only a process of this machine can be
looked at; one on another machine, or one of another user here, counts as running."""

from __future__ import annotations

import os
import socket


def gone(host: str, pid: int) -> bool:
    """True only when ``pid`` on ``host`` is this machine's and no process holds that id (it was
    killed without a chance to say it stopped)."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process holds that id: it runs
        return False
    return False
