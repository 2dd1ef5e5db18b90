"""Read a Socrata asset inventory (datos.gov.co: `uzcf-b9dh`) into the list of datasets to harvest.

Fields are found by name in the inventory's own metadata (`columns[].fieldName`), never by
position, so a reordered inventory still reads right; each field has a few known spellings
(``uid`` or ``u_id``; ``contact_email`` or ``commoncore_contactemail``). Filters (type, audience,
category, owner, explicit ids) become one SoQL ``$where`` so the portal does the filtering, and
are applied again to every row read, so a portal that ignores ``$where`` gets nothing else
harvested; paging is by ``:id``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cauce.apps.opendata.errors import InventoryError
from cauce.connectors.soda import (
    DatasetForbidden,
    DatasetGone,
    SodaClient,
    SodaRequestError,
    check_dataset_id,
)

log = logging.getLogger("cauce.apps.opendata")

FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("uid", "u_id", "id"),
    "name": ("name",),
    "owner": ("owner", "attribution"),
    "category": ("category",),
    "email": ("contact_email", "commoncore_contactemail", "email"),
    "type": ("type", "asset_type"),
    "audience": ("audience",),
    "updated": ("last_data_updated_date",),
}
REQUIRED = ("id", "name")


@dataclass(frozen=True)
class Asset:
    """One catalogue entry: what the harvest needs to download and describe a dataset."""

    id: str
    name: str = ""
    owner: str = ""
    email: str = ""
    category: str = ""
    type: str = "dataset"
    audience: str = "public"

    def message(self) -> dict[str, str]:
        """The original's queue message: ID, OWNER, NAME, EMAIL, CATEGORY (all strings)."""
        return {
            "ID": self.id,
            "OWNER": self.owner,
            "NAME": self.name,
            "EMAIL": self.email,
            "CATEGORY": self.category,
        }

    @classmethod
    def from_metadata(cls, dataset: str, view: Mapping[str, Any]) -> Asset:
        """Dataset ``dataset`` described by its `/api/views/{id}.json` (for ids not in the
        inventory). The id is the one asked for, whatever the view says (it may lack one, or
        name another); parts of the view of another shape than Socrata's are left out."""
        owner = view.get("owner") or {}
        custom = _mapping(_mapping(view.get("metadata")).get("custom_fields"))
        email = next(
            (
                v
                for group in custom.values()
                if isinstance(group, dict)
                for k, v in group.items()
                if "correo" in str(k).lower() or "email" in str(k).lower()
            ),
            "",
        )
        return cls(
            id=dataset,
            name=str(view.get("name") or ""),
            owner=str(
                owner.get("displayName") or ""
                if isinstance(owner, dict)
                else owner or view.get("attribution") or ""
            ),
            email=str(email),
            category=str(view.get("category") or ""),
            type=str(view.get("assetType") or "dataset"),
        )


@dataclass(frozen=True)
class Selection:
    """Which inventory entries to harvest. Empty tuples mean "any"; ``limit=None`` means all."""

    types: tuple[str, ...] = ("dataset",)
    audiences: tuple[str, ...] = ("public",)
    categories: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    limit: int | None = 100

    def filters(self) -> dict[str, tuple[str, ...]]:
        return {
            "type": self.types,
            "audience": self.audiences,
            "category": self.categories,
            "owner": self.owners,
            "id": self.ids,
        }


def resolve_fields(available: Iterable[str]) -> dict[str, str]:
    """Map each concept (id, name, owner...) to the inventory's field name for it."""
    names = set(available)
    found = {
        concept: next((n for n in options if n in names), "")
        for concept, options in FIELD_NAMES.items()
    }
    missing = [concept for concept in REQUIRED if not found[concept]]
    if missing:
        raise InventoryError(
            f"the asset inventory has no {' or '.join(missing)} field",
            hint=f"expected one of {', '.join(FIELD_NAMES[missing[0]])}; "
            f"it has: {', '.join(sorted(names))[:300] or 'no fields it can read'}",
        )
    return {concept: name for concept, name in found.items() if name}


def field_names(view: Mapping[str, Any]) -> list[str]:
    """The field names a view's ``columns`` declare; columns of another shape than Socrata's
    (not a list, an entry that is no object or has no text ``fieldName``) name none."""
    columns = view.get("columns")
    return [
        c["fieldName"]
        for c in (columns if isinstance(columns, list) else [])
        if isinstance(c, dict) and isinstance(c.get("fieldName"), str)
    ]


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def where_clause(fields: Mapping[str, str], selection: Selection) -> str | None:
    """The SoQL ``$where`` for a selection; fails if it filters on a field the inventory lacks."""
    clauses = []
    for concept, values in selection.filters().items():
        if not values:
            continue
        if concept not in fields:
            raise InventoryError(
                f"cannot filter by {concept}: the asset inventory has no such field",
                hint=f"drop the {concept} filter (it has: {', '.join(sorted(fields.values()))})",
            )
        quoted = ", ".join(_literal(v) for v in values)
        clauses.append(f"{fields[concept]} IN ({quoted})")
    return " AND ".join(clauses) or None


def read_inventory(
    client: SodaClient, inventory_id: str, selection: Selection, *, page_size: int = 1_000
) -> list[Asset]:
    """The inventory entries matching ``selection``, in `:id` order, at most ``selection.limit``."""
    try:
        view = client.metadata(inventory_id)
    except (DatasetGone, DatasetForbidden) as err:
        said = "gone" if isinstance(err, DatasetGone) else "forbidden"
        raise InventoryError(
            f"the asset inventory {inventory_id} is {said} (HTTP {err.status})",
            hint="check the inventory setting (`cauce config opendata`; datos.gov.co's is "
            "uzcf-b9dh)",
        ) from None
    fields = resolve_fields(field_names(view))
    select = ", ".join(dict.fromkeys(fields.values()))
    size = min(page_size, selection.limit) if selection.limit else page_size
    assets: list[Asset] = []
    seen: set[str] = set()  # an inventory listing an id twice must not download it twice at once
    if selection.limit == 0:
        return assets
    for row in client.iter_rows(
        inventory_id, select=select, where=where_clause(fields, selection), page_size=size
    ):
        asset = asset_from_row(row, fields)
        if asset.id in seen or not _valid_id(asset):
            continue
        if selected(asset, selection):
            assets.append(asset)
            seen.add(asset.id)
        if selection.limit is not None and len(assets) >= selection.limit:
            break
    return assets


def _valid_id(asset: Asset) -> bool:
    """Whether an inventory row's id is a dataset id; a row whose id is not is skipped (its id
    would become a URL and a folder name), with a warning naming it."""
    try:
        check_dataset_id(asset.id)
    except SodaRequestError as err:
        log.warning("inventory row %r skipped: %s", asset.name[:80], err.message)
        return False
    return True


def selected(asset: Asset, selection: Selection) -> bool:
    """Whether ``asset`` passes every filter of ``selection`` (the client-side check)."""
    values = {
        "type": asset.type,
        "audience": asset.audience,
        "category": asset.category,
        "owner": asset.owner,
        "id": asset.id,
    }
    return all(not wanted or values[c] in wanted for c, wanted in selection.filters().items())


def asset_from_row(row: Mapping[str, Any], fields: Mapping[str, str]) -> Asset:
    def value(concept: str, default: str = "") -> str:
        name = fields.get(concept)
        found = row.get(name) if name else None
        return default if found is None else str(found)

    return Asset(
        id=value("id"),
        name=value("name"),
        owner=value("owner"),
        email=value("email"),
        category=value("category"),
        type=value("type", "dataset"),
        audience=value("audience", "public"),
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def split_values(values: Sequence[str]) -> tuple[str, ...]:
    """Option values as given on the command line: repeated and/or comma-separated; each once."""
    parts = (part.strip() for value in values for part in value.split(","))
    return tuple(dict.fromkeys(part for part in parts if part))
