"""Warehouse backends: SQL databases that take Arrow loads with exactly-once checkpoints.

``connect(url)`` picks the backend from the URL (DuckDB, SQLite, PostgreSQL, or anything
SQLAlchemy reaches); every backend offers the same :class:`WarehouseBackend` methods.
See docs/warehouse.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names as _lazy_names

if TYPE_CHECKING:
    from cauce.warehouse.base import Transaction, WarehouseBackend
    from cauce.warehouse.checkpoints import Checkpoint
    from cauce.warehouse.urls import connect

__all__ = ["Checkpoint", "Transaction", "WarehouseBackend", "connect"]

# name -> defining module, imported on first access: the backends pull in pyarrow, which
# `import cauce` (it needs only Checkpoint) should not pay for.
_DEFINED_IN = {
    "Checkpoint": "cauce.warehouse.checkpoints",
    "Transaction": "cauce.warehouse.base",
    "WarehouseBackend": "cauce.warehouse.base",
    "connect": "cauce.warehouse.urls",
}


__getattr__, __dir__ = _lazy_names(globals(), _DEFINED_IN, __all__)
