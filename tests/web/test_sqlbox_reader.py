"""The SQL box on a PostgreSQL warehouse whose user is a superuser: said on the page in one
line, refused for typed SQL when the UI is shared, and safe with a connection of its own
(CAUCE_<APP>_<WAREHOUSE>_SQLBOX_URL) naming a user that is not a superuser.

Runs against the local server (127.0.0.1:5432, user postgres, a superuser); skipped with the
reason when it cannot be reached. A role of the test's own is made and dropped."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cauce import App, Runtime
from cauce.web.home import Home
from cauce.web.server import create_app
from postgres_server import POSTGRES_SERVER, fresh_schema

SERVER = "postgresql://{user}@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
ENV = "CAUCE_LOOKS_W_SQLBOX_URL"
# the way back to a superuser's rights that the box's reading role alone leaves open: the
# first inner query sets the role back, the second then runs with its rights
REGAIN = ("SELECT query_to_xml('SELECT set_config(''role'', ''postgres'', true)', true, true, "
          "'') AS a, query_to_xml('SELECT pg_read_file(''/etc/hostname'')', true, true, '') AS b")


@pytest.fixture
def schema(request: pytest.FixtureRequest) -> str:
    return fresh_schema(request, "cauce_ui_reader", create=True)


@pytest.fixture
def reader(schema: str) -> Iterator[str]:
    """A login role that reads every table and is no superuser, dropped after the test."""
    import psycopg

    role = f"cauce_reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as con:
        con.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER')
        con.execute(f'GRANT pg_read_all_data TO "{role}"')
    try:
        yield role
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as con:
            con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = %s", (role,))
            con.execute(f'DROP ROLE "{role}"')


Page = Callable[..., Any]


def open_page(tmp_path: Path, schema: str, token: str | None = None) -> Iterator[Page]:
    app = App("looks")
    warehouse = app.warehouse("w", url=SERVER.format(user="postgres", schema=schema))
    with Runtime(app, home=tmp_path) as rt:
        rt.warehouse_backend(warehouse).load("trips", [{"zone": "a", "n": 1}])
        headers = {"authorization": f"Bearer {token}"} if token else {}
        with TestClient(create_app(Home(tmp_path, [rt], []), token=token),
                        base_url="http://127.0.0.1", headers=headers) as client:

            def get(**params: str) -> Any:
                page = client.get("/apps/looks/data/warehouse/w", params=params)
                assert page.status_code == 200 and "Traceback" not in page.text
                return page

            yield get


def lines(page: Any, kind: str) -> list[str]:
    return [html.unescape(text) for text in
            re.findall(rf'<p class="{kind}">(.*?)</p>', page.text, flags=re.S)]


def cells(page: Any) -> list[str]:
    table = page.text.partition('class="result"')[2]
    return [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", table)]


def test_a_superusers_sql_box_says_so_in_one_line(tmp_path: Path, schema: str,
                                                   monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ENV, raising=False)
    for get in open_page(tmp_path, schema):
        page = get(sql="SELECT count(*) AS n FROM trips")
        (notice,) = lines(page, "warning")
        assert notice.startswith("the SQL box runs as postgres, a PostgreSQL superuser")
        assert f"set {ENV} in the environment or .env" in notice and "\n" not in notice
        assert cells(page) == ["1"] and lines(page, "error") == []  # a laptop's box still works
        # what the line warns of: the guard alone lets a SELECT read the server's files
        taken = get(sql=REGAIN)
        assert lines(taken, "error") == [] and "<pg_read_file>" in html.unescape(taken.text)


def test_a_shared_ui_refuses_typed_sql_as_a_superuser(tmp_path: Path, schema: str,
                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ENV, raising=False)
    for get in open_page(tmp_path, schema, token="a-token-of-the-shared-ui-1234"):
        page = get(table="trips", sql="SELECT count(*) FROM trips")
        assert lines(page, "error") == [
            "typed SQL is refused: this UI is shared (it has a token), and its SQL box would "
            f"run as the PostgreSQL superuser postgres (hint: set {ENV} to the URL of a user "
            "that is not a superuser (one granted pg_read_all_data, say))"]
        assert cells(page) == [] and ">trips</a>" in page.text  # tables still listed
        assert "1 rows" in page.text  # and the chosen one described


def test_a_sql_box_url_naming_a_superuser_is_said_so_too(tmp_path: Path, schema: str,
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV, SERVER.format(user="postgres", schema=schema))
    for get in open_page(tmp_path, schema):
        (notice,) = lines(get(sql="SELECT 1"), "warning")
        assert notice == (f"the SQL box runs as postgres, a PostgreSQL superuser, through {ENV}:"
                          " a SELECT can take the superuser's rights back (hint: give "
                          f"{ENV} a user that is not a superuser, one granted "
                          "pg_read_all_data, say)")


def test_a_sql_box_url_that_is_no_url_is_one_line_naming_where_it_was_set(
        tmp_path: Path, schema: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV, "postgres-reader-without-scheme")
    for get in open_page(tmp_path, schema):
        (problem,) = lines(get(sql="SELECT 1"), "error")
        assert problem.startswith(f"the SQL box's URL (environment {ENV}) cannot be used: not "
                                  "a warehouse URL: 'postgres-reader-without-scheme' (hint: ")


def test_a_reader_connection_of_its_own_cannot_take_a_superusers_rights(
        tmp_path: Path, schema: str, reader: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(ENV, SERVER.format(user=reader, schema=schema))
    for get in open_page(tmp_path, schema, token="a-token-of-the-shared-ui-1234"):
        page = get(sql="SELECT session_user::text AS who, count(*) AS n FROM trips")
        assert lines(page, "warning") == [] and lines(page, "error") == []
        assert cells(page) == [reader, "1"]
        assert f"({'environment ' + ENV})" in page.text
        (problem,) = lines(get(sql=REGAIN), "error")
        assert "permission denied" in problem
        (problem,) = lines(get(sql="SELECT pg_read_file('/etc/hostname')"), "error")
        assert "permission denied" in problem
