from datetime import date

import pytest

from cauce import CauceError
from cauce.apps.transit.errors import MissingInputs
from cauce.apps.transit.resolve import (
    resolve_daily,
    resolve_inputs,
    resolve_po,
    resolve_service_detail,
)

PO_KEYS = [f"{d}.po.zip" for d in ("2019-03-01", "2019-04-01", "2019-07-01", "2019-10-12",
                                   "2020-03-02", "2020-06-27")]
DETAIL_KEYS = ["Diccionario-DetalleServicioZP_20200627_20200731.csv.gz",
               "Diccionario-DetalleServicioZP_20200801_20200815.csv.gz"]


@pytest.mark.parametrize(("day", "expected"), [
    ("2019-01-01", None), ("2019-03-01", "2019-03-01.po.zip"),
    ("2019-09-03", "2019-07-01.po.zip"), ("2020-06-27", "2020-06-27.po.zip"),
    ("2020-08-27", "2020-06-27.po.zip")])
def test_po_is_the_latest_on_or_before_the_day(day, expected):
    assert resolve_po(PO_KEYS, date.fromisoformat(day)) == expected


def test_other_objects_in_the_po_bucket_are_ignored():
    assert resolve_po(["README.txt", *PO_KEYS], date(2019, 9, 3)) == "2019-07-01.po.zip"


@pytest.mark.parametrize(("day", "expected"), [
    ("2020-01-01", None), ("2020-06-27", DETAIL_KEYS[0]), ("2020-06-30", DETAIL_KEYS[0]),
    ("2020-07-31", DETAIL_KEYS[0]), ("2020-08-27", None)])
def test_service_detail_range_is_inclusive_without_fallback(day, expected):
    assert resolve_service_detail(list(reversed(DETAIL_KEYS)), date.fromisoformat(day)) == expected


def test_daily_inputs_match_the_exact_name_only():
    keys = ["2021-04-22.gps.gz.bak", "old-2021-04-22.gps.gz"]
    assert resolve_daily(keys, date(2021, 4, 22), "gps") is None
    assert resolve_daily(["2021-04-22.gps.gz"], date(2021, 4, 22), "gps") == "2021-04-22.gps.gz"


def test_missing_inputs_are_all_named_with_their_bucket():
    listings = {"service_detail": ("detail", DETAIL_KEYS), "gps": ("gps-b", []),
                "196": ("runs-b", ["2020-07-01.196.gz"]), "trx": ("trx-b", []),
                "po": ("po-b", PO_KEYS)}
    with pytest.raises(MissingInputs) as error:
        resolve_inputs(listings, date(2020, 7, 1))
    message = str(error.value)
    assert "gps (2020-07-01.gps.gz) in bucket 'gps-b'" in message
    assert "trx (2020-07-01.trx.gz) in bucket 'trx-b'" in message
    assert "runs-b" not in message and "'detail'" not in message and "'po-b'" not in message
    assert isinstance(error.value, CauceError)


def test_a_complete_day_resolves_every_kind():
    listings = {"service_detail": ("d", DETAIL_KEYS), "gps": ("g", ["2020-07-01.gps.gz"]),
                "196": ("r", ["2020-07-01.196.gz"]), "trx": ("t", ["2020-07-01.trx.gz"]),
                "po": ("p", PO_KEYS)}
    resolved = resolve_inputs(listings, date(2020, 7, 1))
    assert resolved.keys["po"] == "2020-06-27.po.zip"
    assert resolved.po_date == date(2020, 6, 27)
