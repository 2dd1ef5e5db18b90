"""Warehouse: a SQL database for pipeline outputs, with loads that commit a checkpoint too.

The embedded default is a DuckDB file under the cauce home; any URL the warehouse backends
accept can replace it (``sqlite:///…``, ``postgresql://…``, a SQLAlchemy URL), given literally or
through a setting. See docs/warehouse.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from .base import Resource

if TYPE_CHECKING:
    import pyarrow as pa

    from ..warehouse import Checkpoint, WarehouseBackend

Params = Sequence[Any] | Mapping[str, Any] | None


class Warehouse(Resource):
    """SQL for pipeline outputs. Each call is its own transaction unless inside
    ``transaction()``."""

    kind = "warehouse"

    def _backend(self) -> WarehouseBackend:
        return self._runtime().warehouse_backend(self)

    @property
    def dialect(self) -> str:
        return self._backend().dialect

    @property
    def resolved_url(self) -> str:
        """The URL in use at run time (from the declaration, configuration or the default)."""
        return self._backend().url

    def quote(self, identifier: str) -> str:
        return self._backend().quote(identifier)

    def execute(self, sql: str, params: Params = None) -> None:
        self._backend().execute(sql, params)

    def executescript(self, sql: str) -> None:
        self._backend().executescript(sql)

    def query(self, sql: str, params: Params = None) -> pa.Table:
        return self._backend().query(sql, params)

    def table_exists(self, name: str) -> bool:
        return self._backend().table_exists(name)

    def columns(self, name: str) -> list[str]:
        return self._backend().columns(name)

    def load(self, table: str, data: Any, checkpoint: Checkpoint | None = None) -> int:
        """Write rows (Arrow, Polars or a list of dicts), and the checkpoint, in one transaction."""
        return self._backend().load(table, data, checkpoint)

    def checkpoint(self, name: str) -> Any:
        return self._backend().checkpoint(name)

    def transaction(self) -> AbstractContextManager[Any]:
        """Group loads, statements and a checkpoint so they commit together or not at all."""
        return self._backend().transaction()
