"""Retry back-off: exponential, capped, with jitter so that failures do not retry in lockstep."""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: base·2^(attempt-1), capped, times 0.5–1."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay * (0.5 + 0.5 * (rng or random).random())
