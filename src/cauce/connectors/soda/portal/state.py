"""What the local portal serves, and the faults it has been told to inject.

A `PortalState` holds synthetic datasets and builds the asset inventory (`uzcf-b9dh`) from them
on every request, so a dataset added, dropped or changed shows there at once. Tests drive it in
process (`state.fail("jbjy-vk9h", times=2)`); a running portal exposes the same controls over
HTTP under ``/_portal/`` (see `server.py`), for the command line.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from cauce.connectors.soda.portal.datasets import ColumnSpec, Dataset, asset_id, email_for, iso
from cauce.errors import CauceError

INVENTORY_ID = "uzcf-b9dh"
ROW_ID = ":id"
FAULT_KINDS = ("status", "throttle", "cut")

# The asset inventory's columns, by field name as datos.gov.co publishes them (not in the order
# the original assumed: it read id, name, owner, category and email by position).
INVENTORY_COLUMNS = (
    ColumnSpec("uid", "U ID", "text"),
    ColumnSpec("name", "Name", "text"),
    ColumnSpec("description", "Description", "text"),
    ColumnSpec("owner", "Owner", "text"),
    ColumnSpec("type", "Type", "text"),
    ColumnSpec("category", "Category", "text"),
    ColumnSpec("tags", "Tags", "text"),
    ColumnSpec("url", "URL", "url"),
    ColumnSpec("domain", "Domain", "text"),
    ColumnSpec("creation_date", "Creation Date", "calendar_date"),
    ColumnSpec("last_metadata_updated_date", "Last Metadata Updated Date", "calendar_date"),
    ColumnSpec("last_data_updated_date", "Last Data Updated Date", "calendar_date"),
    ColumnSpec("row_count", "Row Count", "number"),
    ColumnSpec("column_count", "Column Count", "number"),
    ColumnSpec("audience", "Audience", "text"),
    ColumnSpec("public", "Public", "checkbox"),
    ColumnSpec("approval_status", "Approval Status", "text"),
    ColumnSpec("license", "License", "text"),
    ColumnSpec("attribution", "Attribution", "text"),
    ColumnSpec("informacindelaentidad_sector", "Información de la Entidad: Sector", "text"),
    ColumnSpec(
        "informacindedatos_frecuenciadeactualizacin",
        "Información de Datos: Frecuencia de Actualización",
        "text",
    ),
    ColumnSpec("contact_email", "Contact Email", "text"),
)
LICENSE = "Creative Commons Attribution | Share Alike 4.0 International"


class Unavailable(Exception):
    """The dataset was dropped: the portal answers with this HTTP status (404 or 403)."""

    def __init__(self, dataset: str, status: int) -> None:
        super().__init__(dataset)
        self.dataset = dataset
        self.status = status


@dataclass
class Fault:
    """A failure the portal injects into matching requests, ``times`` times (None: until cleared).

    kind ``status`` answers ``status`` (500, 502, 503…); ``throttle`` answers 429 with
    ``Retry-After``; ``cut`` sends half of a response and closes the connection.
    """

    kind: str
    dataset: str | None = None
    status: int = 500
    times: int | None = 1
    from_offset: int = 0
    retry_after: float | None = None

    def matches(self, dataset: str, offset: int) -> bool:
        return (self.dataset in (None, dataset)) and offset >= self.from_offset and self.times != 0


@dataclass(frozen=True)
class RequestRecord:
    """One request the portal answered (the app token itself is not kept, only whether it came)."""

    method: str
    path: str
    dataset: str | None
    params: dict[str, str]
    status: int
    token: bool


@dataclass
class Extra:
    """A non-dataset asset the inventory lists (charts, filtered views, links)."""

    id: str
    name: str
    owner: str
    category: str
    type: str
    audience: str = "public"


@dataclass
class PortalState:
    """Datasets, faults and a request log; every method is safe to call from any thread."""

    datasets: dict[str, Dataset] = field(default_factory=dict)
    domain: str = "localhost"
    clock: Callable[[], float] = time.time
    extras: list[Extra] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    # plain files served at /files/<name>, as a blob store next to the portal publishes them
    files: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _changes: int = 0

    @classmethod
    def of(
        cls, datasets: Iterable[Dataset], *, extras: int = 0, seed: int = 0, **options: Any
    ) -> PortalState:
        """A state serving ``datasets`` plus ``extras`` non-dataset assets in its inventory
        (owned by the datasets' owners, in their categories)."""
        state = cls(datasets={d.id: d for d in datasets}, **options)
        rng = np.random.default_rng(seed + 7)
        kinds = ("chart", "filter", "href", "file", "map")
        owners = sorted({d.owner for d in state.datasets.values()}) or ["datos.gov.co"]
        categories = sorted({d.category for d in state.datasets.values()}) or [""]
        for index in range(extras):
            state.extras.append(
                Extra(
                    id=asset_id(rng),
                    name=f"Vista {index + 1}",
                    owner=owners[index % len(owners)],
                    category=categories[index % len(categories)],
                    type=kinds[index % len(kinds)],
                    audience="private" if index % 4 == 3 else "public",
                )
            )
        return state

    # -- controls ---------------------------------------------------------------------------
    def add(self, dataset: Dataset) -> None:
        with self._lock:
            self.datasets[dataset.id] = dataset

    def drop(self, dataset: str, status: int = 404) -> None:
        """Answer every request for ``dataset`` with 404 (gone) or 403 (forbidden)."""
        if status not in (403, 404):
            raise ValueError("a dropped dataset answers 403 or 404")
        with self._lock:
            self._known(dataset)
            self.dropped[dataset] = status

    def restore(self, dataset: str) -> None:
        with self._lock:
            self.dropped.pop(dataset, None)

    def fail(
        self,
        dataset: str | None = None,
        *,
        status: int = 500,
        times: int | None = 1,
        from_offset: int = 0,
    ) -> Fault:
        """Answer ``status`` to the next ``times`` matching requests (from row ``from_offset``)."""
        return self._inject(Fault("status", dataset, status, times, from_offset))

    def throttle(
        self, dataset: str | None = None, *, times: int | None = 1, retry_after: float = 1.0
    ) -> Fault:
        """Answer 429 with ``Retry-After: retry_after`` to the next ``times`` matching requests."""
        return self._inject(Fault("throttle", dataset, 429, times, retry_after=retry_after))

    def cut(
        self, dataset: str | None = None, *, times: int | None = 1, from_offset: int = 0
    ) -> Fault:
        """Send half of the next ``times`` matching responses, then close the connection."""
        return self._inject(Fault("cut", dataset, 200, times, from_offset))

    def clear_faults(self, dataset: str | None = None) -> None:
        with self._lock:
            self.faults = [f for f in self.faults if dataset is not None and f.dataset != dataset]

    def apply(self, *, drop: Iterable[str] = (), fail: Iterable[str] = ()) -> None:
        """Faults as on the command line: drop ``ID`` or ``ID:403``, fail ``ID:N[:STATUS]``;
        a spec that is not one, or names a dataset the portal lacks, is a `CauceError`."""
        for spec in drop:
            with self._spec("--drop", spec, "ID or ID:403"):
                ident, _, status = spec.partition(":")
                self.drop(ident, int(status or 404))
        for spec in fail:
            with self._spec("--fail", spec, "ID:N or ID:N:STATUS"):
                ident, _, rest = spec.partition(":")
                times, _, status = rest.partition(":")
                self.fail(ident, times=int(times or 1), status=int(status or 500))

    @contextmanager
    def _spec(self, option: str, spec: str, form: str) -> Iterator[None]:
        try:
            yield
        except (KeyError, ValueError) as err:
            reason = err.args[0] if err.args else type(err).__name__
            raise CauceError(
                f"{option} {spec!r}: {reason}",
                hint=f"write {option} {form}, naming one of: {', '.join(sorted(self.datasets))}",
            ) from None

    def _inject(self, fault: Fault) -> Fault:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        with self._lock:
            if fault.dataset is not None and fault.dataset != INVENTORY_ID:
                self._known(fault.dataset)
            self.faults.append(fault)
        return fault

    def change(self, dataset: str, *, share: float = 0.1, added: int = 5) -> None:
        """Rewrite ``share`` of the rows, append ``added`` rows, and move `rowsUpdatedAt` to now."""
        with self._lock:
            current = self._known(dataset)
            self._changes += 1
            frame = current.frame
            keep = frame.height - round(frame.height * share)
            count, seed = frame.height - keep + added, 10_000 + self._changes
            if current.regenerate is not None:
                fresh = current.regenerate(count, seed=seed)
            else:
                fresh = frame.sample(count, with_replacement=True, seed=seed)
            fresh = fresh.select(
                [_like(fresh[c.field], frame.schema[c.field]) for c in current.columns]
            )
            self.datasets[dataset] = replace(
                current,
                frame=pl.concat([frame.head(keep), fresh]),
                rows_updated_at=int(self.clock()),
            )

    def retype(self, dataset: str, column: str, to: str = "text") -> None:
        """Change a column's declared type (and its values) as publishers sometimes do."""
        if to not in ("text", "number"):
            raise ValueError("a column can be retyped to 'text' or 'number'")
        with self._lock:
            current = self._known(dataset)
            if column not in current.frame.columns:
                raise KeyError(f"dataset {dataset} has no column {column!r}")
            target = pl.String if to == "text" else pl.Float64
            series = _like(current.frame[column], target)
            columns = [replace(c, type=to) if c.field == column else c for c in current.columns]
            self.datasets[dataset] = replace(
                current,
                columns=columns,
                frame=current.frame.with_columns(series),
                rows_updated_at=int(self.clock()),
            )

    def touch(self, dataset: str, *, at: float | None = None) -> None:
        """Move a dataset's `rowsUpdatedAt` (to ``at``, epoch seconds) without changing its rows."""
        with self._lock:
            current = self._known(dataset)
            self.datasets[dataset] = replace(
                current, rows_updated_at=int(self.clock() if at is None else at)
            )

    def requests_for(self, dataset: str) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if r.dataset == dataset]

    def _known(self, dataset: str) -> Dataset:
        if dataset not in self.datasets:
            raise KeyError(f"the portal has no dataset {dataset!r}")
        return self.datasets[dataset]

    # -- serving ----------------------------------------------------------------------------
    def take_fault(self, dataset: str, offset: int) -> Fault | None:
        """The first fault matching this request, with one use counted."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(dataset, offset):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def record(self, entry: RequestRecord) -> None:
        with self._lock:
            self.requests.append(entry)

    def resource(self, dataset: str) -> Dataset:
        """The dataset to serve (the inventory included); raises KeyError or `Unavailable`."""
        with self._lock:
            if dataset == INVENTORY_ID:
                return self.inventory()
            if dataset in self.dropped:
                raise Unavailable(dataset, self.dropped[dataset])
            return self._known(dataset)

    def inventory(self) -> Dataset:
        """The asset inventory, built from what the portal holds right now."""
        with self._lock:
            datasets = list(self.datasets.values())
            extras = list(self.extras)
            moment = int(self.clock())
        frame = pl.DataFrame(
            {
                "uid": [d.id for d in datasets] + [e.id for e in extras],
                "name": [d.name for d in datasets] + [e.name for e in extras],
                "description": [d.description for d in datasets] + ["" for _ in extras],
                "owner": [d.owner for d in datasets] + [e.owner for e in extras],
                "type": [d.type for d in datasets] + [e.type for e in extras],
                "category": [d.category for d in datasets] + [e.category for e in extras],
                "tags": ["datos abiertos" for _ in datasets] + [None for _ in extras],
                "url": [f"https://{self.domain}/d/{d.id}" for d in datasets]
                + [f"https://{self.domain}/d/{e.id}" for e in extras],
                "domain": [self.domain] * (len(datasets) + len(extras)),
                "creation_date": [iso(d.created_at) for d in datasets]
                + [iso(moment) for _ in extras],
                "last_metadata_updated_date": [iso(d.rows_updated_at) for d in datasets]
                + [iso(moment) for _ in extras],
                "last_data_updated_date": [iso(d.rows_updated_at) for d in datasets]
                + [None for _ in extras],
                "row_count": [d.rows for d in datasets] + [None for _ in extras],
                "column_count": [len(d.columns) for d in datasets] + [None for _ in extras],
                "audience": [d.audience for d in datasets] + [e.audience for e in extras],
                "public": [d.audience == "public" for d in datasets]
                + [e.audience == "public" for e in extras],
                "approval_status": ["approved"] * (len(datasets) + len(extras)),
                "license": [LICENSE] * (len(datasets) + len(extras)),
                "attribution": [d.owner for d in datasets] + [e.owner for e in extras],
                "informacindelaentidad_sector": [d.category for d in datasets]
                + [e.category for e in extras],
                "informacindedatos_frecuenciadeactualizacin": ["Mensual"]
                * (len(datasets) + len(extras)),
                "contact_email": [d.email for d in datasets] + [email_for(e.owner) for e in extras],
            },
            schema_overrides={
                "row_count": pl.Int64,
                "column_count": pl.Int64,
                "tags": pl.String,
                "last_data_updated_date": pl.String,
            },
        )
        frame = frame.with_columns(
            pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%.3f")
            for c in ("creation_date", "last_metadata_updated_date", "last_data_updated_date")
        )
        return Dataset(
            id=INVENTORY_ID,
            name="Asset Inventory",
            owner="datos.gov.co",
            category="Ciencia, Tecnología e Innovación",
            email=email_for("datos.gov.co"),
            kind="inventory",
            columns=list(INVENTORY_COLUMNS),
            frame=frame,
            created_at=moment,
            rows_updated_at=moment,
            description="Every asset on this portal.",
        )

    def view(self, dataset: str) -> dict[str, Any]:
        """`/api/views/{id}.json`: the dataset's metadata with its `columns[]`."""
        current = self.resource(dataset)
        owner_id = f"{zlib.crc32(current.owner.encode()) % 10_000:04d}-{len(current.owner):04d}"
        return {
            "id": current.id,
            "name": current.name,
            "description": current.description,
            "attribution": current.owner,
            "category": current.category,
            "assetType": current.type,
            "displayType": "table",
            "viewType": "tabular",
            "provenance": "official",
            "publicationStage": "published",
            "createdAt": current.created_at,
            "publicationDate": current.created_at,
            "rowsUpdatedAt": current.rows_updated_at,
            "viewLastModified": current.rows_updated_at,
            "license": {"name": LICENSE},
            "owner": {"id": owner_id, "displayName": current.owner},
            "tableAuthor": {"id": owner_id, "displayName": current.owner},
            "metadata": {
                "custom_fields": {
                    "Información de la Entidad": {"Nombre de la Entidad": current.owner},
                    "Contacto": {"Correo": current.email},
                }
            },
            "columns": [
                {
                    "id": 100_000 + position,
                    "name": spec.name,
                    "fieldName": spec.field,
                    "dataTypeName": spec.type,
                    "renderTypeName": spec.type,
                    "position": position + 1,
                    "description": "",
                }
                for position, spec in enumerate(current.columns)
            ],
        }


def _like(series: pl.Series, target: pl.DataType) -> pl.Series:
    """``series`` in the ``target`` type (to text: numbers as `$ 35000000`, dates `14/11/2019`)."""
    if series.dtype == target:
        return series
    if target == pl.String:
        if series.dtype.is_numeric():
            return (
                pl.select(pl.format("$ {}", pl.lit(series).cast(pl.Int64)))
                .to_series()
                .alias(series.name)
            )
        if series.dtype.is_temporal():
            return series.dt.strftime("%d/%m/%Y")
        return series.cast(pl.String)
    return series.cast(target, strict=False)
