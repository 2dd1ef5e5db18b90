"""Contract records as the original producer (``producer_contracts.py``) put them on Kinesis.

Every field but the two time fields is a function of (seed, counter) only: record ``n`` of a
seed is the same whatever the rate, the batch boundaries or the run that puts it. Values are
drawn with NumPy per block of `BLOCK` counters (no per-field Python), the way the original
drew each field: one of its pool values, or a random number of the listed lengths, with equal
odds per choice (``random.choice`` over the pool plus the random values).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

FIRST_ID = 1_100_069  # the original's first counter value: CO1.REQ.1100069
ID_PREFIX = "CO1.REQ."
PARTITION_KEYS = tuple(f"test-{i}" for i in range(6))
BLOCK = 4096

# value pools of producer_contracts.py (seeds.md §3.7); (pool, random digit counts)
ENTIDADES = (("899999034", "800117801", "800007652", "890981391", "899999098"), (9,))
PROVEEDORES = (
    ("1053796734", "12997401", "1061985955", "1121826041", "1094271247", "1128283143"),
    (9, 10),
)
EMPRESAS = (("1096224724", "7537330", "72171628", "32849160", "1140817007"), (7, 9))
PORTAFOLIOS = (("21082091", "21082091"), (8,))  # listed twice in the original
NOMBRES = (
    "ALD INSTRUMENTS",
    "NEOGLOBAL SAS",
    "ANALYTICA SAS",
    "UNIPLES S.A",
    "EXOGENA LTDA",
    "ERIKA CLARO SANABRIA",
    "LUIS HERNANDO DIAZ CARDONA",
    "MUNICIPIOS ASOCIADOS PARA EL DESARROLLO DEL NORTE DE ANTIOQUIA MADENA",
    "COLTEXAS JEANS SA",
    "SOLUCIONES RAPIDAS LTDA",
    "PANIVI S.A.",
)
RESPONSABLES = (
    "EXOGENA LTDA",
    "MUNICIPIOS ASOCIADOS PARA EL DESARROLLO DEL NORTE DE ANTIOQUIA MADENA",
    "ABONDANO GUZMAN ESPERANZA",
    "LAURA MILENA RAMOS BERMUDEZ",
)

#: The record as Spark read it (explicit schema); ``monto_contrato`` travels as a JSON number.
SCHEMA = pa.schema(
    [
        ("event_date", pa.date32()),
        ("event_time", pa.string()),
        ("id_no_contrato", pa.string()),
        ("id_nit_entidad", pa.string()),
        ("id_nit_proveedor", pa.string()),
        ("id_nit_empresa", pa.string()),
        ("id_portafolio", pa.string()),
        ("nombre_proveedor", pa.string()),
        ("nombre_responsable_fiscal", pa.string()),
        ("monto_contrato", pa.decimal128(30, 3)),
    ]
)


def contract_id(n: int) -> str:
    return f"{ID_PREFIX}{n:07d}"


def _choice(
    rng: np.random.Generator, spec: tuple[tuple[str, ...], tuple[int, ...]], size: int
) -> np.ndarray:
    """One of the pool's values or a random number of one of the digit counts, per record."""
    pool, digits = spec
    pick = rng.integers(0, len(pool) + len(digits), size)
    out = np.asarray(pool, dtype=object)[np.minimum(pick, len(pool) - 1)]
    for i, d in enumerate(digits):
        numbers = rng.integers(10 ** (d - 1), 10**d, size)
        drawn = pick == len(pool) + i
        out[drawn] = numbers[drawn].astype(str)
    return out


def _block(seed: int, block: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, block])
    return {
        "id_nit_entidad": _choice(rng, ENTIDADES, BLOCK),
        "id_nit_proveedor": _choice(rng, PROVEEDORES, BLOCK),
        "id_nit_empresa": _choice(rng, EMPRESAS, BLOCK),
        "id_portafolio": _choice(rng, PORTAFOLIOS, BLOCK),
        "nombre_proveedor": np.asarray(NOMBRES, dtype=object)[rng.integers(0, len(NOMBRES), BLOCK)],
        "nombre_responsable_fiscal": np.asarray(RESPONSABLES, dtype=object)[
            rng.integers(0, len(RESPONSABLES), BLOCK)
        ],
        "monto_contrato": np.round(rng.random(BLOCK) * 1e8, 3),
        "partition_key": np.asarray(PARTITION_KEYS, dtype=object)[
            rng.integers(0, len(PARTITION_KEYS), BLOCK)
        ],
    }


def draw(seed: int, first: int, count: int, when: datetime) -> list[tuple[dict[str, Any], str]]:
    """Records ``first`` … ``first + count - 1`` of ``seed`` stamped with local time ``when``,
    each with its partition key."""
    event_date, event_time = when.date().isoformat(), when.strftime("%H%M%S")
    out: list[tuple[dict[str, Any], str]] = []
    n, end = first, first + count
    while n < end:
        block, offset = divmod(n - FIRST_ID, BLOCK)
        take = min(BLOCK - offset, end - n)
        cols = _block(seed, block)
        sl = slice(offset, offset + take)
        keys = cols.pop("partition_key")[sl]
        amounts = cols.pop("monto_contrato")[sl].tolist()
        fields = [c[sl].tolist() for c in cols.values()]
        names = list(cols)
        for i, (key, amount, *values) in enumerate(zip(keys, amounts, *fields, strict=True)):
            record = {
                "event_date": event_date,
                "event_time": event_time,
                "id_no_contrato": contract_id(n + i),
                **dict(zip(names, values, strict=True)),
                "monto_contrato": amount,
            }
            out.append((record, key))
        n += take
    return out
