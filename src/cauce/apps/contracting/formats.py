"""Numbers as Colombians write them: dots between thousands, pesos with a leading ``$``."""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any


def cop(value: Any) -> str:
    """Pesos rounded to the peso: ``$ 1.234.568``; ``–`` when unknown."""
    if value is None:
        return "–"
    whole = Decimal(str(value)).quantize(Decimal(1), context=Context(prec=80))
    return "$ " + miles(whole)


def miles(value: Any) -> str:
    """A whole number with dots between thousands: ``12.345``; ``–`` when unknown."""
    if value is None:
        return "–"
    return f"{int(value):,}".replace(",", ".")
