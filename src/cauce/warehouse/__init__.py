"""Warehouse backends: SQL databases that take Arrow loads with exactly-once checkpoints.

``connect(url)`` picks the backend from the URL (DuckDB, SQLite, PostgreSQL, or anything
SQLAlchemy reaches); every backend offers the same :class:`WarehouseBackend` methods.
See docs/warehouse.md.
"""

from cauce.warehouse.base import Transaction, WarehouseBackend
from cauce.warehouse.checkpoints import Checkpoint
from cauce.warehouse.urls import connect

__all__ = ["Checkpoint", "Transaction", "WarehouseBackend", "connect"]
