"""The reference sources as the stream indicators read them: each raw table's latest committed
partition, reduced to in-memory lookup keys, and swapped for a newer one without a pause.

A key set is a sorted NumPy array of 64-bit row hashes (`keys_of`), so looking a batch up is a
vectorised hash of the batch's column and one `searchsorted`; nothing loops over reference rows
in Python. Two different strings sharing a 64-bit hash would match each other: with the
registries' sizes (10⁶ keys) the odds are about 10⁻⁷ per year of records.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import polars as pl

from cauce import Bucket

from .. import rawzone
from ..tables import CANCELADOS, FISCALES, MULTAS, OBRAS, PEP, PROCESOS, PUESTOS, RUES

SEED = 0x5EC0
_PARTITION = re.compile(rf"^([^/]+)/{rawzone.PARTITION}=(\d{{4}}-\d{{2}}-\d{{2}})/_SUCCESS$")
PLACEHOLDERS = ("No Definido", "No Adjudicado")

#: key set name -> (raw table, SQL over relation ``t`` giving the key column(s))
QUERIES: dict[str, tuple[str, str]] = {
    "pep": (PEP, "SELECT DISTINCT id_nit_pep FROM t WHERE id_nit_pep IS NOT NULL"),
    "puestos": (
        PUESTOS,
        "SELECT DISTINCT id_nit_identificacion FROM t WHERE id_nit_identificacion IS NOT NULL",
    ),
    # grouped by the legal representative's id, `No Definido` removed (the original's key)
    "cancelados": (
        CANCELADOS,
        "SELECT DISTINCT id_nit_rep_legal FROM t "
        "WHERE id_nit_rep_legal IS NOT NULL AND id_nit_rep_legal <> 'No Definido'",
    ),
    "multas": (
        MULTAS,
        "SELECT DISTINCT nombre_contratista_sancionado FROM t "
        "WHERE nombre_contratista_sancionado IS NOT NULL",
    ),
    "obras": (OBRAS, "SELECT DISTINCT nombre_rol_1 FROM t WHERE nombre_rol_1 IS NOT NULL"),
    # the original's ETL kept only the bulletin rows whose R is empty
    "fiscales": (
        FISCALES,
        "SELECT DISTINCT nombre_responsable_fiscal FROM t "
        "WHERE nombre_responsable_fiscal IS NOT NULL "
        "AND cant_registros_responsable_fiscal IS NULL",
    ),
    # registrations cancelled, by NIT or by identification number (compared exactly)
    "inactivos": (
        RUES,
        "SELECT id_nit_empresa AS k FROM t WHERE tipo_estado_matricula = "
        "'CANCELADA' AND id_nit_empresa IS NOT NULL UNION SELECT id_empresa FROM t "
        "WHERE tipo_estado_matricula = 'CANCELADA' AND id_empresa IS NOT NULL",
    ),
    # historic processes per (entity, provider): one row per process, placeholders dropped
    "abuso": (
        PROCESOS,
        "SELECT id_nit_entidad, id_nit_proveedor, count(*) AS n FROM ("
        "SELECT id_nit_entidad, id_nit_proveedor FROM t QUALIFY row_number() OVER ("
        "PARTITION BY id_proceso ORDER BY id_nit_entidad, id_nit_proveedor) = 1) "
        "WHERE id_nit_proveedor NOT IN ('No Definido', 'No Adjudicado') "
        "AND id_nit_entidad IS NOT NULL GROUP BY ALL",
    ),
}
TABLES = sorted({table for table, _ in QUERIES.values()})

Version = tuple[tuple[str, str | None, str | None], ...]  # (table, cut date, run) per table


def keys_of(frame: pl.DataFrame) -> np.ndarray:
    """64-bit hashes of the frame's rows (all string columns), the lookup key of both sides."""
    return frame.hash_rows(seed=SEED).to_numpy()


def contains(keys: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Whether each probe hash is in the sorted key array."""
    if keys.size == 0:
        return np.zeros(probe.shape, dtype=bool)
    at = np.minimum(np.searchsorted(keys, probe), keys.size - 1)
    return keys[at] == probe


@dataclass(frozen=True)
class Reference:
    """One version of the lookup sets; ``pairs``/``counts``: historic processes per pair."""

    version: Version
    sets: dict[str, np.ndarray]
    pairs: np.ndarray
    counts: np.ndarray
    missing: tuple[str, ...] = ()

    def pair_counts(self, probe: np.ndarray) -> np.ndarray:
        if self.pairs.size == 0:
            return np.zeros(probe.shape, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.pairs, probe), self.pairs.size - 1)
        return np.where(self.pairs[at] == probe, self.counts[at], 0)


def latest(raw: Bucket) -> Version:
    """Each reference table's newest committed partition (cut date and run), or None."""
    found: dict[str, tuple[str, str]] = {}
    for table in TABLES:
        for obj in raw.list(f"{table}/{rawzone.PARTITION}="):
            m = _PARTITION.match(obj.key)
            if m and (table not in found or m.group(2) > found[table][0]):
                found[table] = (m.group(2), "")
    version = []
    for table in TABLES:
        if table not in found:
            version.append((table, None, None))
            continue
        commit = rawzone.committed(raw, table, date.fromisoformat(found[table][0]))
        version.append((table, found[table][0], commit.run if commit else None))
    return tuple(version)


def load(raw: Bucket, version: Version) -> Reference:
    """Read the partitions ``version`` names into key sets (DuckDB, one query per set)."""
    cut = {table: day for table, day, _ in version}
    con = duckdb.connect()
    try:
        sets: dict[str, np.ndarray] = {}
        pairs = counts = np.zeros(0, dtype=np.uint64)
        for name, (table, sql) in QUERIES.items():
            day = cut.get(table)
            if day is None:
                frame = None
            else:
                rawzone.read(con, raw, table, date.fromisoformat(day)).create_view("t")
                frame = pl.from_arrow(con.sql(sql).arrow())
            if name == "abuso":
                if frame is not None and frame.height:
                    hashed = keys_of(frame.select("id_nit_entidad", "id_nit_proveedor"))
                    order = np.argsort(hashed, kind="stable")
                    pairs, counts = hashed[order], frame["n"].to_numpy()[order]
                continue
            sets[name] = (
                np.unique(keys_of(frame.select(frame.columns[0])))
                if frame is not None and frame.height
                else np.zeros(0, np.uint64)
            )
    finally:
        con.close()
    missing = tuple(table for table, day, _ in version if day is None)
    return Reference(version, sets, pairs, counts.astype(np.int64), missing)


@dataclass
class ReferenceCache:
    """The reference in use, checked for a newer ETL every ``every`` seconds; a newer one is
    loaded on a thread while batches keep using the current one, then swapped in."""

    raw: Bucket
    every: float
    log: logging.Logger = field(default_factory=lambda: logging.getLogger(__name__))
    _current: Reference | None = None
    _checked: float = float("-inf")
    _loading: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, now: float) -> Reference:
        """The reference to use at ``now`` (seconds); the first call loads it first."""
        if self._current is None:
            with self._lock:
                if self._current is None:
                    self._swap(load(self.raw, latest(self.raw)))
                    self._checked = now
            assert self._current is not None
            return self._current
        if now - self._checked >= self.every and self._loading is None:
            self._checked = now
            version = latest(self.raw)
            if version != self._current.version:
                self._loading = threading.Thread(
                    target=self._reload, args=(version,), name="contracting-reference", daemon=True
                )
                self._loading.start()
        return self._current

    def wait(self) -> None:
        """Wait for a reload in progress (tests, and shutting down cleanly)."""
        thread = self._loading
        if thread is not None:
            thread.join()

    def _reload(self, version: Version) -> None:
        try:
            self._swap(load(self.raw, version))
        except Exception:  # the current sets stay in use; the next check tries again
            self.log.exception("reference reload failed; keeping the current one")
        finally:
            self._loading = None

    def _swap(self, reference: Reference) -> None:
        self._current = reference
        cuts = ", ".join(f"{t} {d}" for t, d, _ in reference.version if d)
        self.log.info("reference sources in use: %s", cuts or "none")
        if reference.missing:
            self.log.warning(
                "no committed partition of %s: their alerts are all No",
                ", ".join(reference.missing),
            )
