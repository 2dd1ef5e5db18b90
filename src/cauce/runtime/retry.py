"""Retry back-off: exponential, capped, with jitter so that failures do not retry in lockstep."""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: base·2^(attempt-1), capped, times 0.5–1.
    The doublings stop at 1,000, past any cap: 2^1024 is no float, and a message retried that
    often (a queue with ``max_receives`` in the thousands) failed where it was settled."""
    delay = min(cap, base * 2.0 ** min(max(0, attempt - 1), 1000))
    return delay * (0.5 + 0.5 * (rng or random).random())
