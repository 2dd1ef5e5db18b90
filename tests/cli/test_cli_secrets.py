"""Secret settings never reach the terminal: not in live log lines, not in `cauce config`."""

from __future__ import annotations

SECRET = "tok-5ecr3t-value"

APP = """
from cauce import App

app = App("keys")
token = app.setting("token", str, secret=True, help="API token")
region = app.setting("region", str, default="cl", help="where the API lives")


@app.job
def call(ctx, page: int = 1) -> dict:
    ctx.log.info("calling page %d with token %s", page, ctx.settings.token)
    return {"page": page}
"""


def test_cauce_run_masks_a_secret_given_as_an_option(cli, app_file) -> None:
    ref = app_file(APP)
    result = cli("run", ref, "call", "--page", "2", "--token", SECRET)
    assert result.status == 0, result.err
    assert "with token ********" in result.err
    assert SECRET not in result.out + result.err
    assert '"page": 2' in result.out


def test_cauce_run_masks_a_secret_from_the_environment(cli, app_file, monkeypatch) -> None:
    ref = app_file(APP)
    monkeypatch.setenv("CAUCE_KEYS_TOKEN", SECRET)
    result = cli("run", ref, "call", "--json")
    assert result.status == 0, result.err
    assert SECRET not in result.out + result.err
    assert result.json()["params"] == {"page": 1}


def test_cauce_config_masks_secrets_and_says_where_values_came_from(cli, app_file,
                                                                    tmp_path) -> None:
    ref = app_file(APP)
    (tmp_path / ".env").write_text(f"CAUCE_KEYS_TOKEN={SECRET}\n")
    (tmp_path / "cauce.toml").write_text('[apps.keys]\nregion = "us"\n')
    result = cli("config", ref, "--json")
    assert result.status == 0, result.err
    assert SECRET not in result.out
    rows = {row["setting"]: row for row in result.json()["settings"]}
    assert rows["token"]["value"] == "********"
    assert rows["token"]["source"] == ".env CAUCE_KEYS_TOKEN"
    assert rows["region"] == {"setting": "region", "value": "us",
                              "source": "cauce.toml [apps.keys] region",
                              "env": "CAUCE_KEYS_REGION", "help": "where the API lives"}
    table = cli("config", ref)
    assert SECRET not in table.out + table.err
    assert "********" in table.out


def test_cauce_config_lists_missing_settings_without_failing(cli, app_file) -> None:
    ref = app_file(APP)
    result = cli("config", ref, "--json")
    assert result.status == 0
    report = result.json()
    assert report["problems"].startswith("token (API token): missing")
    assert {row["setting"]: row["value"] for row in report["settings"]} == {"token": None,
                                                                           "region": "cl"}
