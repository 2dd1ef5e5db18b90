"""The synthetic exports as datasets of a local SODA portal, with their real 4x4 ids.

Columns get API field names made from the display names as Socrata makes them (lower case,
accents and punctuation to ``_``), so a download must map them back through ``columns[]``. The
sources published as plain files (PACO's bulletin) are served under ``/files/paco/``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import polars as pl

from cauce.apps.contracting.sources import SOURCES
from cauce.apps.contracting.synth import write_export
from cauce.connectors.soda.portal import ColumnSpec, Dataset, PortalState

OWNER = "AGENCIA NACIONAL DE CONTRATACION PUBLICA -COLOMBIA COMPRA EFICIENTE-"
FILES = "paco"  # the plain files' folder: <portal>/files/paco/<file>


def field_name(header: str) -> str:
    """``Fecha de Publicacion del Proceso`` → ``fecha_de_publicacion_del_proceso``."""
    plain = unicodedata.normalize("NFKD", header.strip().lower())
    plain = "".join("_" if unicodedata.combining(c) else c for c in plain).replace("n_", "n")
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_") or "column"


def portal_datasets(
    frames: dict[str, pl.DataFrame], *, moment: int = 1_681_603_200
) -> list[Dataset]:
    """The Socrata sources among ``frames`` (export text, headers as display names)."""
    datasets = []
    for key, frame in frames.items():
        src = SOURCES[key]
        if src.dataset is None:
            continue
        columns = [ColumnSpec(field_name(h), h, "text") for h in src.headers]
        rows = frame.select(pl.col(c.name).alias(c.field) for c in columns)
        datasets.append(
            Dataset(
                id=src.dataset,
                name=src.title,
                owner=OWNER,
                category="Gastos Gubernamentales",
                email="datos@colombiacompra.gov.co",
                kind=key,
                columns=columns,
                frame=rows,
                created_at=moment,
                rows_updated_at=moment,
            )
        )
    return datasets


def synthetic_portal(frames: dict[str, pl.DataFrame], workdir: Path) -> PortalState:
    """A portal serving ``frames``: the Socrata sources as datasets, the files PACO publishes
    as plain files (written as their exports are, in ``workdir`` first)."""
    state = PortalState.of(portal_datasets(frames))
    for key, frame in frames.items():
        src = SOURCES[key]
        if src.dataset is None and src.url is not None:
            path = workdir / src.file
            write_export(key, frame, path)
            state.files[f"{FILES}/{src.file}"] = path.read_bytes()
    return state
