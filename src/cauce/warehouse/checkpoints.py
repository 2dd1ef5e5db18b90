"""Checkpoints: named JSON values stored next to the rows they describe.

They live in ``_cauce_checkpoints`` in the warehouse itself, so a checkpoint and the rows of a
chunk are committed by one transaction: after a crash either both are there or neither is.
Moving a checkpoint is a compare-and-set on its previous value, which is what stops two loaders
from both committing the same chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cauce.errors import WarehouseError

TABLE = "_cauce_checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    """Move checkpoint ``name`` from ``expect`` (None: not set yet) to ``value`` with a load."""

    name: str
    value: Any
    expect: Any = None


def encode(name: str, value: Any) -> str:
    """Canonical JSON text of a checkpoint value, so equal values compare equal as text."""
    if value is None:
        raise WarehouseError(
            f"checkpoint {name!r}: the value must not be None",
            hint="None means 'no checkpoint yet'; store a number, string, list or dict",
        )
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise WarehouseError(
            f"checkpoint {name!r}: the value is not JSON-serialisable ({error})",
            hint="store numbers, strings, booleans, lists and dicts only",
        ) from error


def decode(name: str, text: str) -> Any:
    """The value stored as ``text`` for checkpoint ``name``."""
    try:
        return json.loads(text)
    except ValueError as error:
        raise WarehouseError(
            f"checkpoint {name!r}: the stored value is not JSON ({error})",
            hint=f"fix or delete the row named {name!r} in {TABLE}",
        ) from error
