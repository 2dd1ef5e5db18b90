"""Synthetic bulk exports of the eleven sources, with planted irregularities and their truth.

`write_synthetic` writes each export under its real file name, with its real headers (the
leading space of ``' Codigo Proveedor Objeto de la Multa'``, the en dash of ``Presupuesto
General de la Nacion – PGN``, the empty first header of ``obras inconclusas.csv``) and the
quirks of the real files: a byte-order mark (RUES), CRLF line ends (the PACO files), Windows
Latin-1 (``obras inconclusas.csv``, saved from Excel), one unreadable record at the end of two
exports (for the quarantine), and the row-level quirks of `background`. Rows are shuffled, so
planted cases sit anywhere. Next to the exports, ``truth/<date>.json`` has the exact value of
every indicator under the fixed definitions and as the original computes them
(docs/contracting.md). The same seed writes the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cauce import Bucket
from cauce.apps.contracting.scales import SCALES
from cauce.apps.contracting.sources import SOURCES
from cauce.apps.contracting.synth import background as bg
from cauce.apps.contracting.synth.planted import FIXED, INDICATORS, PUBLISHED, Planted, plant
from cauce.apps.contracting.synth.redflags import CODES, background_flags, plant_flags

PROCESOS = "t_seii_procecotrata_compraadjudi"
OFERTAS = "t_seii_ofertaproces_procesocompr"
CONTRATOS = "t_seii_contratelect_cregistrados"
PLACEHOLDERS = ("No Definido", "No Adjudicado")
# how each export is written: (encoding, line end)
STYLE = {
    "t_otro_pernajuesadl_camarcomerci": ("utf-8-sig", "\n"),
    "t_paco_registro_obras_inconclusa": ("cp1252", "\r\n"),
    "t_paco_responsabilidad_fiscales": ("utf-8", "\r\n"),
}
RAGGED = ("t_seii_ejecucioncon_avancerevses", "t_otro_pernajuesadl_camarcomerci")


def generate(scale: str, *, seed: int = 0) -> tuple[dict[str, pl.DataFrame], Planted]:
    """Every export as a frame of text (the processes with their hidden columns)."""
    planted = planted_cases()
    return dict(each_export(scale, seed, planted)), planted


def planted_cases() -> Planted:
    """The planted cases of the ten indicators and of the thirteen red flags."""
    planted = plant()
    plant_flags(planted)
    return planted


def each_export(scale: str, seed: int, planted: Planted) -> Iterator[tuple[str, pl.DataFrame]]:
    """(raw table, export frame) one at a time, ``planted``'s rows among the background's, the
    processes last (the others are drawn from them), so a writer holds one export at a time."""
    sizes = bg.Sizes(SCALES[scale])
    rng = np.random.default_rng(seed)
    unique = int((SCALES[scale] - len(planted.rows[PROCESOS])) / 1.03)
    procesos = bg.processes(rng, unique, 1_000_000, duplicates=0.03)
    contracts = sizes.of(CONTRATOS)
    makers: dict[str, Callable[[int], pl.DataFrame]] = {
        OFERTAS: lambda n: bg.offers(rng, procesos, n, 1),
        "t_otro_pernajuesadl_camarcomerci": lambda n: bg.rues(rng, procesos, n),
        "t_otro_persexpupoli_sigepperexpo": lambda n: bg.pep(rng, n),
        "t_otro_puestsensibl_sigeppsscorr": lambda n: bg.puestos(rng, n),
        "t_seii_contracanela_aislamiencon": lambda n: bg.cancelados(rng, n),
        CONTRATOS: lambda n: bg.contratos(rng, procesos, n),
        "t_seii_ejecucioncon_avancerevses": lambda n: bg.ejecucion(rng, n, contracts),
        "t_seii_multasysanci_secopiimulsa": lambda n: bg.multas(rng, n),
        "t_paco_registro_obras_inconclusa": lambda n: bg.obras(rng, n),
        "t_paco_responsabilidad_fiscales": lambda n: bg.responsables(rng, n),
    }
    for key, make in makers.items():
        yield key, _with_planted(key, make(sizes.of(key)), planted, rng)
    yield PROCESOS, _with_planted(PROCESOS, procesos, planted, rng)


def _with_planted(
    key: str, background: pl.DataFrame, planted: Planted, rng: np.random.Generator
) -> pl.DataFrame:
    rows = planted.rows.get(key)
    return scatter(background, _planted_frame(key, rows, rng), rng) if rows else background


def scatter(background: pl.DataFrame, rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """``rows`` shuffled and put at random places among ``background``: the background is cut
    into slices, so none of its text is copied."""
    rows = rows[rng.permutation(rows.height)]
    cuts = np.sort(rng.integers(0, background.height + 1, rows.height))
    pieces, start = [], 0
    for index, cut in enumerate(cuts):
        pieces += [background.slice(start, cut - start), rows.slice(index, 1)]
        start = cut
    pieces.append(background.slice(start))
    return pl.concat(pieces, how="diagonal_relaxed")


def _planted_frame(key: str, rows: list[dict[str, Any]], rng: np.random.Generator) -> pl.DataFrame:
    src = SOURCES[key]
    given = {
        header: pl.Series([row.get(header) for row in rows], dtype=pl.String)
        for header in src.headers
        if any(header in row for row in rows)
    }
    out = bg.frame(src, rng, len(rows), given)
    if key == PROCESOS:
        out = out.with_columns(
            pl.Series("_year", [r["_year"] for r in rows], dtype=pl.Int32),
            pl.Series("_base", [r["_base"] for r in rows], dtype=pl.Int64),
            pl.Series("_adjudicated", [r["_adjudicated"] for r in rows], dtype=pl.Int64),
            pl.Series("_awarded", [r["_awarded"] for r in rows], dtype=pl.Boolean),
            pl.Series("_updated", [r["_updated"] for r in rows], dtype=pl.Int32),
            pl.Series("_current", [r["_current"] for r in rows], dtype=pl.Boolean),
        )
    return out


def truth(
    frames: dict[str, pl.DataFrame],
    planted: Planted,
    day: str,
    scale: str,
    seed: int,
    *,
    rows: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The expected results: the planted cases' contributions plus the totals. ``frames``
    needs the processes and the offers' ``ID del Proceso de Compra`` only; ``rows`` (each
    export's rows) defaults to the frames' heights."""
    procesos = (
        frames[PROCESOS]
        .select(  # only what is read here, in one chunk
            "ID del Proceso",
            "ID del Portafolio",
            "Nit Entidad",
            "NIT del Proveedor Adjudicado",
            "Nombre del Proveedor Adjudicado",
            "_year",
            "_base",
        )
        .rechunk()
    )
    raw_rows = procesos.height  # what the original counts as totales: duplicates included
    distinct = procesos["ID del Proceso"].n_unique()
    # the duplicate rows of a process agree on everything read here: any row is the first
    first = procesos.select(
        "ID del Proceso", "Nit Entidad", "NIT del Proveedor Adjudicado", "_year"
    ).unique("ID del Proceso", keep="any")
    nit = pl.col("NIT del Proveedor Adjudicado")
    groups = (
        first.filter(nit.is_not_null() & ~nit.is_in(PLACEHOLDERS))
        .group_by("Nit Entidad", "NIT del Proveedor Adjudicado", "_year")
        .len()
        .height
    )
    portfolios = procesos.select(pl.col("ID del Portafolio").alias("ID del Proceso de Compra"))
    joined_offers = (
        frames[OFERTAS]
        .select("ID del Proceso de Compra")
        .join(portfolios.unique(), on="ID del Proceso de Compra", how="semi")
        .height
    )
    undefined = (
        procesos.select("ID del Portafolio", "Nombre del Proveedor Adjudicado", "_base").unique(
            "ID del Portafolio", keep="any"
        )
    ).filter(
        pl.col("Nombre del Proveedor Adjudicado").str.strip_chars(" ").str.to_uppercase()
        == "NO DEFINIDO"
    )
    fixed, positives, near_misses = planted.fixed_on(date.fromisoformat(day))
    tally = {name: {FIXED: fixed[name], PUBLISHED: list(by[PUBLISHED])}
             for name, by in planted.tally.items()}
    if undefined.height:  # the fine on "No Definido" (see planted._multas)
        published = tally[INDICATORS[7]][PUBLISHED]
        published[0] += 1
        published[1] += undefined.height
        published[2] += int(undefined["_base"].sum() or 0)
    result: dict[str, dict[str, dict[str, Any]]] = {FIXED: {}, PUBLISHED: {}}
    for index, name in enumerate(INDICATORS):
        for definition in (FIXED, PUBLISHED):
            irregular, contracts, amount = tally[name][definition]
            if definition == FIXED:
                total = distinct
            else:
                total = {0: groups, 1: joined_offers}.get(index, raw_rows)
            result[definition][name] = {
                "cantidad_irregularidades": irregular,
                "cantidad_contratos_irregularidades": contracts,
                "monto_total_irregularidades": f"{amount}.000",
                "cantidad_contratos_totales": total,
            }
    return {
        "fecha_corte_datos": day,
        "scale": scale,
        "seed": seed,
        "rows": rows or {key: frame.height for key, frame in frames.items()},
        "indicators": result,
        "planted": {
            name: {
                "positives": positives.get(name, []),
                "near_misses": near_misses.get(name, []),
            }
            for name in INDICATORS
        },
        "flags": flag_truth(frames[PROCESOS], planted),
        "planted_flags": {
            code: {
                "positives": planted.flag_positives.get(code, []),
                "near_misses": planted.flag_near_misses.get(code, []),
            }
            for code in CODES
        },
        "notes": {
            INDICATORS[6]: "fixed: delivery lines whose quantities both parse as numbers and "
            "received < due, expected on or before the cut date, whose contract (SECOP II "
            "Contratos) belongs to an awarded process; contratos and monto over those processes",
        },
    }


def flag_truth(procesos: pl.DataFrame, planted: Planted) -> dict[str, dict[str, Any]]:
    """Each red flag's processes and amount: the background's plus the planted cases'."""
    background = background_flags(procesos)
    result = {}
    for code in CODES:
        count, amount = background.get(code, (0, 0))
        extra = planted.flags.get(code, [0, 0])
        result[code] = {"procesos": count + extra[0], "monto": f"{amount + extra[1]}.000"}
    return result


def write_export(key: str, frame: pl.DataFrame, path: Path) -> None:
    """One export as the portal's bulk download (or a hand-saved PACO file) writes it."""
    encoding, newline = STYLE.get(key, ("utf-8", "\n"))
    data = frame.drop([c for c in frame.columns if c.startswith("_")])  # hidden columns
    if encoding == "utf-8":
        data.write_csv(path, line_terminator=newline, include_bom=False)
    elif encoding == "utf-8-sig":
        data.write_csv(path, line_terminator=newline, include_bom=True)
    else:
        text = data.write_csv(line_terminator=newline)
        path.write_bytes(text.encode(encoding, errors="replace"))
    if key in RAGGED:  # one record with a field too few: the ETL quarantines it
        fields = len(SOURCES[key].headers) - 1
        with path.open("ab") as out:
            out.write((",".join(["x"] * fields) + newline).encode("utf-8"))


def _move_into(staging: Bucket) -> Callable[[str, Path], Any]:
    return lambda key, path: staging.put_file(key, path, move=True)


def write_synthetic(
    staging: Bucket,
    *,
    scale: str,
    day: str,
    seed: int,
    workdir: Path,
    put: Callable[[str, Path], Any] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Write the eleven exports into ``staging`` under ``origen/`` and the truth under
    ``truth/``, one export at a time; ``put(key, path)`` moves each export in (default:
    ``staging.put_file``) and ``progress(done, total, name)`` hears of each."""
    date.fromisoformat(day)
    folder = workdir / "synth"
    folder.mkdir(parents=True, exist_ok=True)
    planted = planted_cases()
    kept: dict[str, pl.DataFrame] = {}
    rows: dict[str, int] = {}
    for key, frame in each_export(scale, seed, planted):
        path = folder / SOURCES[key].file
        write_export(key, frame, path)
        (put or _move_into(staging))(f"origen/{SOURCES[key].file}", path)
        rows[key] = frame.height
        if progress is not None:
            progress(len(rows), len(SOURCES), SOURCES[key].file)
        if key == PROCESOS:
            kept[key] = frame
        elif key == OFERTAS:
            kept[key] = frame.select("ID del Proceso de Compra")
    expected = truth(kept, planted, day, scale, seed, rows=rows)
    staging.put(f"truth/{day}.json", json.dumps(expected, ensure_ascii=False, indent=1))
    return expected
