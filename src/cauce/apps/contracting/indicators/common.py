"""Expressions shared by the indicators: identity keys, names, deduplication, reference dates.

Fixed definitions match people and firms on canonical document numbers (`doc`), fall back to
normalised names (`name`) only where a document is missing, and keep one deterministic row per
process (`processes`); the as-published definitions reproduce the original's arbitrary
`dropDuplicates` with a fixed order (`first_per`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from ..tables import PROCESOS

PLACEHOLDERS = ("No Definido", "No Adjudicado")


@dataclass(frozen=True)
class Inputs:
    """The raw tables of one cut date, as Ibis tables; a source that is missing is absent.

    ``cached`` holds relations several indicators share (the deduplicated processes…),
    materialised once per run by the engine; pass the same dict to every `Inputs` of a run.
    """

    tables: Mapping[str, ir.Table]
    fecha_corte: date
    cached: dict[str, ir.Table] = field(default_factory=dict)
    materialize: Callable[[ir.Table], ir.Table] = ir.Table.cache

    def __getitem__(self, name: str) -> ir.Table:
        return self.tables[name]

    def shared(self, key: str, build: Callable[[], ir.Table]) -> ir.Table:
        """``build()`` materialised by the engine the first time ``key`` is asked for: small
        plans for every indicator, and the work done once."""
        if key not in self.cached:
            self.cached[key] = self.materialize(build())
        return self.cached[key]


def doc(value: ir.StringValue) -> ir.StringValue:
    """A document number as digits without leading zeros and without a NIT's check digit
    written after a hyphen (`900.123.456-7` is 900123456, as RUES and SIGEP keep it); null
    when it has no digit (so the placeholders `No Definido` and `No Adjudicado` are null too)."""
    bare = value.re_replace(r"-\s*[0-9]\s*$", "")
    return bare.re_replace(r"[^0-9]", "").re_replace(r"^0+", "").nullif("")


_INTEGER = r"^[+-]?[0-9]+([.]0*)?$"
_DECIMAL = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"


def number(value: ir.StringValue, to: str) -> ir.NumericValue:
    """Text as a number of type ``to`` (``int64`` or a decimal), trimmed; null unless written
    with ASCII digits, a sign, a point and an exponent only (an integer: a point followed by
    zeros at most, as in ``3.0``): each engine's own cast also reads other spellings (DuckDB
    ``1_000``, Spark ``５`` or ``١٢``), which would make them differ."""
    text = value.strip()
    if to.startswith("int"):
        plain, text = text.re_search(_INTEGER), text.re_replace(r"[.]0*$", "")
    else:
        plain = text.re_search(_DECIMAL)
    return ibis.ifelse(plain, text, ibis.null(str)).try_cast(to)


# Spark's upper case (Java's) writes these as two letters; DuckDB's keeps them, or gives ẞ
_TWO_LETTERS = (("ß", "SS"), ("ﬀ", "FF"), ("ﬁ", "FI"), ("ﬂ", "FL"), ("ﬃ", "FFI"),
                ("ﬄ", "FFL"), ("ﬅ", "ST"), ("ﬆ", "ST"), ("ŉ", "ʼN"))


def name(value: ir.StringValue) -> ir.StringValue:
    """A person's or firm's name for comparison: trimmed, upper case, single spaces, no acute
    accents or diaeresis (Ñ is kept); null when empty. The spaces and the letters that
    upper-case to two are spelt out, so both engines give the same text."""
    cleaned = value.strip().re_replace(r"[ \t\n\r\x0b\x0c]+", " ")
    for letter, letters in _TWO_LETTERS:
        cleaned = cleaned.replace(letter, letters)
    return cleaned.upper().translate("ÁÉÍÓÚÜ", "AEIOUU").nullif("")


def first_per(table: ir.Table, key: str | Sequence[str],
              order: Sequence[ir.Value | ibis.Deferred]) -> ir.Table:
    """One row per ``key``: the first by ``order`` (give orders that leave no ties; rows whose
    key is null count as one group, as Spark's ``dropDuplicates`` does).

    Only the keys that repeat go through the window: most processes have one row, and sorting
    every wide row by its key costs twice the time of finding the few that repeat."""
    keys = [key] if isinstance(key, str) else list(key)
    known = ibis.and_(*(table[k].notnull() for k in keys))
    keyed, unkeyed = table.filter(known), table.filter(~known)
    counts = keyed.aggregate(by=keys, _n=_.count())
    single = keyed.semi_join(counts.filter(_._n == 1), keys)
    repeated = keyed.semi_join(counts.filter(_._n > 1), keys).union(unkeyed)
    ranked = repeated.mutate(_rank=ibis.row_number().over(group_by=keys, order_by=list(order)))
    return single.union(ranked.filter(_._rank == 0).drop("_rank"))


def asc_first(column: str) -> ibis.Deferred:
    """Ascending with nulls first, as Spark sorts by default (and the original relied on)."""
    return ibis.asc(_[column], nulls_first=True)


def the_rest(table: ir.Table, used: Collection[str], *,
             nulls_first: bool) -> list[ibis.Deferred]:
    """Every column of ``table`` not in ``used``, ascending: the last tie-break of a
    `first_per`, so rows equal on its chosen order are never kept by the order they were read
    in (an export's, or a parallel reader's)."""
    return [ibis.asc(_[c], nulls_first=nulls_first) for c in table.columns if c not in used]


def published_first(table: ir.Table, key: str) -> ir.Table:
    """The original's ``dropDuplicates([key])``: it keeps an arbitrary row; this keeps the first
    by (id_proceso, id_portafolio, monto_precio_base, id_nit_proveedor), then by the other
    columns, so runs agree."""
    order = [c for c in ("id_proceso", "id_portafolio", "monto_precio_base", "id_nit_proveedor")
             if c != key]
    rest = the_rest(table, {key, *order}, nulls_first=True)
    return first_per(table, key, [*(asc_first(c) for c in order), *rest])


def processes(inputs: Inputs) -> ir.Table:
    """P deduplicated on id_proceso (the fixed definitions' `Pd`): the latest published row,
    with the keys and dates every fixed indicator uses."""
    return inputs.shared("processes", lambda: _processes(inputs))


def published_processes(inputs: Inputs, key: str) -> ir.Table:
    """The original's ``dropDuplicates([key])`` of P, materialised once per key."""
    return inputs.shared(f"published:{key}", lambda: published_first(inputs[PROCESOS], key))


LATEST = (("fecha_actualizacion", ibis.desc), ("fecha_adjudicacion", ibis.desc),
          ("monto_total_adjudicado", ibis.desc), ("monto_precio_base", ibis.desc),
          ("id_nit_proveedor", ibis.asc), ("nombre_proveedor", ibis.asc))


def _processes(inputs: Inputs) -> ir.Table:
    p = inputs[PROCESOS].filter(_.id_proceso.notnull())
    # the latest row; phase rows updated the same day can tie on all of that
    keys = [order(_[c], nulls_first=False) for c, order in LATEST]
    rest = the_rest(p, {"id_proceso", *dict(LATEST)}, nulls_first=False)
    latest = first_per(p, "id_proceso", keys + rest)
    return latest.mutate(
        doc_proveedor=doc(_.id_nit_proveedor),
        doc_entidad=doc(_.id_nit_entidad),
        name_proveedor=name(_.nombre_proveedor),
        fecha_ref=ibis.coalesce(_.fecha_adjudicacion, _.fecha_publicacion),
    )


def awarded(inputs: Inputs) -> ir.Table:
    """`Pd` restricted to processes with a provider document (placeholders are not providers)."""
    return inputs.shared("awarded", lambda: processes(inputs).filter(_.doc_proveedor.notnull()))


def by_doc_or_name(pd: ir.Table, ref: ir.Table, ref_doc: str, ref_name: str) -> ir.Table:
    """Processes of ``pd`` whose provider matches a row of ``ref`` on the document when the
    reference row has one, else on the normalised name (never on a placeholder name)."""
    keyed = ref.mutate(_doc=doc(ref[ref_doc]), _name=name(ref[ref_name]))
    docs = keyed.filter(_._doc.notnull()).select("_doc").distinct()
    names = keyed.filter(_._doc.isnull() & _._name.notnull() & (_._name != "NO DEFINIDO")) \
        .select("_name").distinct()
    by_doc = pd.join(docs, pd.doc_proveedor == docs._doc).select(pd.columns)
    by_name = pd.join(names, pd.name_proveedor == names._name).select(pd.columns)
    return by_doc.union(by_name, distinct=True)
