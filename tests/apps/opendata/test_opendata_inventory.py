"""Reading the asset inventory by field name, with filters and a limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cauce.apps.opendata.errors import InventoryError
from cauce.apps.opendata.inventory import (
    Asset,
    Selection,
    read_inventory,
    resolve_fields,
    split_values,
    where_clause,
)
from cauce.connectors.soda import RetryPolicy, SodaClient
from cauce.connectors.soda.portal import INVENTORY_COLUMNS, INVENTORY_ID, Portal, PortalState


@pytest.fixture
def soda(portal: Portal) -> Iterator[SodaClient]:
    with SodaClient(portal.url, retry=RetryPolicy(attempts=2, backoff=0)) as client:
        yield client


def test_default_selection_is_public_datasets_limited_to_100(
    soda: SodaClient, state: PortalState
) -> None:
    assets = read_inventory(soda, INVENTORY_ID, Selection())
    assert {a.id for a in assets} == set(state.datasets)  # the extras are charts, filters, links
    jbjy = next(a for a in assets if a.id == "jbjy-vk9h")
    assert jbjy.message() == {
        "ID": "jbjy-vk9h",
        "OWNER": state.datasets["jbjy-vk9h"].owner,
        "NAME": "SECOP II - Contratos Electrónicos",
        "EMAIL": state.datasets["jbjy-vk9h"].email,
        "CATEGORY": "Gastos Gubernamentales",
    }
    assert len(read_inventory(soda, INVENTORY_ID, Selection(limit=2))) == 2
    assert read_inventory(soda, INVENTORY_ID, Selection(limit=0)) == []


def test_filters_by_category_owner_type_and_ids(soda: SodaClient, state: PortalState) -> None:
    health = read_inventory(
        soda, INVENTORY_ID, Selection(categories=("Salud y Protección Social",))
    )
    assert {a.id for a in health} == {
        d.id for d in state.datasets.values() if d.category == "Salud y Protección Social"
    }
    owned = read_inventory(soda, INVENTORY_ID, Selection(owners=("Instituto Nacional de Salud",)))
    assert {a.id for a in owned} == {"gt2j-8ykr", "8835-5baf"}
    charts = read_inventory(soda, INVENTORY_ID, Selection(types=("chart", "filter"), audiences=()))
    assert {a.type for a in charts} == {"chart", "filter"}
    chosen = read_inventory(
        soda, INVENTORY_ID, Selection(ids=("it5q-hg94", "9ssf-i6c5"), limit=None)
    )
    assert sorted(a.id for a in chosen) == ["9ssf-i6c5", "it5q-hg94"]


def test_fields_are_found_by_name_in_any_order() -> None:
    shuffled = [c.field for c in reversed(INVENTORY_COLUMNS)]
    assert resolve_fields(shuffled)["id"] == "uid"
    assert resolve_fields(["u_id", "name", "commoncore_contactemail"]) == {
        "id": "u_id",
        "name": "name",
        "email": "commoncore_contactemail",
    }
    with pytest.raises(InventoryError, match="no id field"):
        resolve_fields(["name", "owner"])


def test_a_filter_on_a_missing_field_is_refused_and_literals_are_quoted() -> None:
    fields = resolve_fields(["uid", "name", "owner"])
    with pytest.raises(InventoryError, match="cannot filter by type"):
        where_clause(fields, Selection())
    clause = where_clause(fields, Selection(types=(), audiences=(), owners=("O'Higgins",)))
    assert clause == "owner IN ('O''Higgins')"


def test_assets_from_metadata_and_split_ids() -> None:
    view = {
        "id": "abcd-1234",
        "name": "N",
        "owner": {"displayName": "Dueño"},
        "category": "C",
        "metadata": {"custom_fields": {"Contacto": {"Correo": "a@b.co"}}},
    }
    assert Asset.from_metadata("abcd-1234", view) == Asset("abcd-1234", "N", "Dueño", "a@b.co", "C")
    assert split_values(["a,b", " c ", "", "a"]) == ("a", "b", "c")


@pytest.mark.parametrize(
    "view",
    [
        {"name": "N"},  # no id
        {"id": "../../etc", "name": "N"},  # another id, not even a dataset id
        {"id": "abcd-1234", "name": "N", "metadata": [1], "owner": {"id": 7}},
        {"name": "N", "metadata": {"custom_fields": ["Correo"]}},
    ],
)
def test_an_asset_from_metadata_of_odd_shape_keeps_the_id_asked_for(view: dict) -> None:
    """A view without an id, naming another, or with metadata of another shape still describes
    the dataset asked for (its download then says whether it is there)."""
    assert Asset.from_metadata("abcd-1234", view) == Asset("abcd-1234", "N")


@pytest.mark.parametrize(
    "columns",
    [None, ["uid", "name"], [{"fieldName": 3}], "uid,name"],
)
def test_an_inventory_view_with_odd_columns_is_an_inventory_error(columns: object) -> None:
    """An inventory view whose ``columns`` are not Socrata's list of objects fails the harvest
    in one line naming what is missing, not with a TypeError or AttributeError."""
    import httpx

    answer = httpx.Response(200, json={"columns": columns})
    transport = httpx.MockTransport(lambda request: answer)
    with (
        SodaClient("http://portal.test", transport=transport) as soda,
        pytest.raises(InventoryError, match="has no id or name field") as failed,
    ):
        read_inventory(soda, INVENTORY_ID, Selection())
    assert "no fields it can read" in str(failed.value.hint)


def test_filters_hold_when_the_portal_ignores_where(
    soda: SodaClient, state: PortalState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A portal that ignores `$where` returns charts, maps and private views too: the harvest
    must still keep only what the selection asks for."""
    import polars as pl

    from cauce.connectors.soda.portal import server

    monkeypatch.setattr(server.soql, "where", lambda text, schema: pl.lit(True))
    assets = read_inventory(soda, INVENTORY_ID, Selection(limit=None))
    assert {a.id for a in assets} == set(state.datasets)
    assert {a.type for a in assets} == {"dataset"} and {a.audience for a in assets} == {"public"}
    owner = state.datasets["jbjy-vk9h"].owner
    chosen = read_inventory(soda, INVENTORY_ID, Selection(owners=(owner,), limit=None))
    assert chosen and {a.owner for a in chosen} == {owner}
    assert [a.id for a in read_inventory(soda, INVENTORY_ID, Selection(ids=("jbjy-vk9h",)))] == [
        "jbjy-vk9h"
    ]


def test_an_inventory_row_whose_id_is_not_a_dataset_id_or_seen_before_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A portal's inventory names the ids the harvest turns into URLs and folders."""
    import httpx

    rows = [
        {"uid": "../../etc", "name": "evil"},
        {"uid": "abcd-1234", "name": "fine"},
        {"uid": "abcd-1234", "name": "listed twice"},  # downloaded once, not twice at once
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/api/views/{INVENTORY_ID}.json":
            return httpx.Response(
                200, json={"columns": [{"fieldName": "uid"}, {"fieldName": "name"}]}
            )
        offset = int(request.url.params.get("$offset", "0"))
        return httpx.Response(200, json=rows if offset == 0 else [])

    transport = httpx.MockTransport(answer)
    with SodaClient("http://portal.test", transport=transport) as soda:
        assets = read_inventory(soda, INVENTORY_ID, Selection(types=(), audiences=(), limit=None))
    assert [a.id for a in assets] == ["abcd-1234"]
    assert "'evil' skipped" in caplog.text and "not a Socrata dataset id" in caplog.text


@pytest.mark.parametrize(("status", "said"), [(404, "gone"), (403, "forbidden")])
def test_an_inventory_the_portal_does_not_serve_names_the_inventory_setting(
    status: int, said: str
) -> None:
    """A wrong `inventory` setting failed the harvest as "dataset ... is gone" with a hint to
    check the id on the portal, not saying the id was the inventory's, nor where it is set."""
    import httpx

    answer = httpx.Response(status, json={"message": "Cannot find view"})
    transport = httpx.MockTransport(lambda request: answer)
    with (
        SodaClient("http://portal.test", transport=transport) as soda,
        pytest.raises(InventoryError, match=f"asset inventory zzzz-zzzz is {said}") as failed,
    ):
        read_inventory(soda, "zzzz-zzzz", Selection())
    assert "inventory setting" in str(failed.value.hint)
