"""The real files into SQLite, DuckDB and PostgreSQL: the same table, counts and shares."""

from __future__ import annotations

import pytest
from census_helpers import INJECTED

from cauce.apps.census import app, load, report, target
from cauce.testing import TestRuntime


@pytest.fixture(params=["sqlite", "duckdb", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'census.db'}"
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'census.duckdb'}"
    return request.getfixturevalue("postgres").url


def scalar(sql: str):
    return target.query(sql).column(0)[0].as_py()


def test_the_real_files_load_the_same_everywhere(
    real_dir, database_url, real_description, tmp_path
):
    sources = [str(real_dir / "Adult.data"), str(real_dir / "Adult.test")]
    with TestRuntime(app, settings={"db": database_url, "source": sources}) as rt:
        run = rt.run(load, all=True)
        assert run.error is None
        assert [(s["name"], s["lines"], s["records"], s["comment_lines"], s["blank_lines"])
                for s in run.result["sources"]] == [
            ("Adult.data", 32_562, 32_561, 0, 1), ("Adult.test", 16_283, 16_281, 1, 1)]
        total = run.result["total"]
        assert (total["read"], total["loaded"], total["quarantined"]) == (48_842, 48_837, 5)
        assert total["files"] == {
            "Adult.data": {"read": 32_561, "loaded": 32_557, "quarantined": 4},
            "Adult.test": {"read": 16_281, "loaded": 16_280, "quarantined": 1},
        }
        assert target.columns("adult")[:15] == real_description.names
        # no --description: the original's, found next to the first source
        assert run.result["description"]["origin"] == str(real_dir / "Description")
        assert scalar('SELECT COUNT(*) FROM "adult"') == 48_837
        assert scalar('SELECT COUNT(DISTINCT "_source" || \':\' || "_line") FROM "adult"') == 48_837
        assert scalar('SELECT SUM(CASE WHEN "_duplicate" THEN 1 ELSE 0 END) FROM "adult"') == 29
        other_classes = """SELECT COUNT(*) FROM "adult" WHERE "class" NOT IN ('>50K', '<=50K')"""
        assert scalar(other_classes) == 0
        rejected = target.query(
            'SELECT "_source", "_line", "reason" FROM "adult_rejected" ORDER BY 1, 2'
        ).to_pylist()
        assert [tuple(row.values()) for row in rejected] == INJECTED
        by_sex = {row["sex"]: row["rows"] for row in
                  target.query('SELECT * FROM "adult_income_by_sex"').to_pylist()}
        assert sum(by_sex.values()) == 48_837 and set(by_sex) == {"Female", "Male"}
        checks = rt.run(report, out=str(tmp_path / "report")).result["class_distribution"]
    assert [(c["stated"], round(c["measured"], 2), c["matches"]) for c in checks] == [
        (23.93, 23.93, True), (24.78, 24.78, True)]
