"""Who may reach the UI: loopback only without a token, the token on every request with one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cauce.errors import ConfigError
from cauce.web.security import check_bind, is_loopback

TOKEN = "a-long-enough-test-token-0123456789"


@pytest.fixture
def token_client(hostile_home: Path) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        client = TestClient(create_app(Home(hostile_home, [rt], []), token=TOKEN),
                            base_url="http://ui.example:8765")
        with client:
            yield client


def test_binding_beyond_loopback_needs_a_token():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(host, None)
        assert is_loopback(host)
    for host in ("0.0.0.0", "192.0.2.10", "::", "example.org"):
        with pytest.raises(ConfigError, match="without a token"):
            check_bind(host, None)
        check_bind(host, TOKEN)
    with pytest.raises(ConfigError, match="shorter than 16"):
        check_bind("0.0.0.0", "short")
    with pytest.raises(ConfigError, match=r"on every address \(an empty --host, as 0\.0\.0\.0\)"):
        check_bind("", None)


def test_requests_without_the_token_are_refused(token_client):
    for path in ("/", "/runs", "/apps/hostile", "/static/app.css"):
        refused = token_client.get(path)
        assert refused.status_code == 401 and "token is required" in refused.text
    wrong = token_client.get("/", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert token_client.get("/", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_token_link_sets_a_cookie_and_leaves_the_address(token_client):
    first = token_client.get(f"/runs?app=hostile&token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].endswith("/runs?app=hostile")
    assert TOKEN not in first.headers["location"]
    cookie = [c for c in first.headers.get_list("set-cookie") if c.startswith("cauce_token_8765=")]
    assert cookie and "HttpOnly" in cookie[0] and "SameSite=strict" in cookie[0]
    assert token_client.get("/runs?app=hostile").status_code == 200  # the cookie carries it


def test_without_a_token_only_loopback_host_names_are_answered(ui_client):
    rebound = ui_client.get("/", headers={"host": "attacker.example"})
    assert rebound.status_code == 421
    assert ui_client.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_pages_forbid_framing_and_foreign_scripts(ui_client):
    headers = ui_client.get("/").headers
    assert headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    download = ui_client.get("/apps/hostile/data/bucket/inbox/download",
                             params={"key": "folder/deeper/'quoted'.csv"})
    assert download.status_code == 200 and download.content == b"a,b\n1,2\n"
    assert download.headers["cross-origin-resource-policy"] == "same-origin"


def test_the_policy_allows_no_inline_script_style_or_eval(ui_client):
    """Scripts and styles come from the UI's files only (tests/web/test_ui_csp.py checks every
    page kind in a browser under this policy), and no page carries an inline one."""
    import re

    policy = ui_client.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in policy
    for path in ("/", "/runs", "/apps/hostile", "/apps/hostile/partitions/per-day",
                 "/apps/hostile/logs", "/apps/hostile/dlq/handle", "/apps/hostile/dashboard"):
        text = ui_client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", text), path
        assert not re.search(r"<[^>]*\s(style|on[a-z]+)=", text), path


def test_a_link_cannot_make_a_page_say_what_the_ui_did_not_do(ui_client):
    said = "run 42 failed: sign in again at http://elsewhere.example"
    for query in ({"done": said}, {"done": said, "sig": "0" * 64}):
        for path in ("/apps/hostile/dlq/handle", "/apps/hostile/partitions/per-day", "/runs"):
            page = ui_client.get(path, params=query)
            assert page.status_code == 200
            assert 'class="flash' not in page.text, path  # no banner (links keep the query)
    # what a form did is still said after its redirect (tests/web/test_ui_pages.py replays one)
    signed = ui_client.app.state.ui.pages.flash_query(said)
    shown = ui_client.get(f"/apps/hostile/dlq/handle?{signed}").text
    assert f'class="flash ">{said}</p>' in shown


def test_a_form_drawn_before_the_ui_restarted_is_refused_saying_why(hostile_home: Path):
    """A page left open while `cauce ui` restarted posts a token made with the old key: it was
    refused as "did not come from a page of this UI", which sent a daily user looking for an
    attack; now the line names the likely cause, and a reload is enough."""
    import re

    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        home = Home(hostile_home, [rt], [])
        with TestClient(create_app(home), base_url="http://127.0.0.1") as before:
            page = before.get("/apps/hostile/partitions/per-day").text  # always a form
            old = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            cookies = dict(before.cookies)
        with TestClient(create_app(home), base_url="http://127.0.0.1",
                        cookies=cookies) as after:  # the same browser, the UI started anew
            stale = after.post("/apps/hostile/dlq/handle/purge",
                               data={"confirm": "nothing-to-match", "csrf": old})
            assert stale.status_code == 403
            assert stale.text == (
                "refused: this form is not from a page of this UI's current session (CSRF "
                "check): the UI restarted, or the browser's cookies were cleared, since the "
                "page was drawn; reload the page and try again")
            elsewhere = after.post("/apps/hostile/dlq/handle/purge",
                                   data={"confirm": "x", "csrf": old},
                                   headers={"origin": "http://attacker.example"})
            assert elsewhere.status_code == 403 and "a page of another site" in elsewhere.text
            page = after.get("/apps/hostile/partitions/per-day").text  # reloaded
            fresh = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            reloaded = after.post("/apps/hostile/dlq/handle/purge",
                                  data={"confirm": "nothing-to-match", "csrf": fresh})
            assert reloaded.status_code == 400 and "purge not confirmed" in reloaded.text


def test_two_uis_on_one_host_keep_their_own_token_cookies(hostile_home: Path):
    """A browser keeps cookies per host, not per port: the second UI's token cookie replaced
    the first's, and the first UI then asked for its token again."""
    from starlette.testclient import TestClient

    from cauce import Runtime
    from cauce.web.home import Home
    from cauce.web.server import create_app

    from .hostile_app import app

    tokens = {8765: TOKEN, 8766: "another-long-enough-token-987654321"}
    jar: dict[str, str] = {}  # the browser's cookies for host 127.0.0.1, whatever the port
    with Runtime(app, home=hostile_home, lenient_settings=True) as rt:
        home = Home(hostile_home, [rt], [])
        clients = {port: TestClient(create_app(home, token=token),
                                    base_url=f"http://127.0.0.1:{port}")
                   for port, token in tokens.items()}
        for port, client in clients.items():  # each opened from the link its UI printed
            first = client.get(f"/?token={tokens[port]}", follow_redirects=False)
            for header in first.headers.get_list("set-cookie"):
                name, _, rest = header.partition("=")
                jar[name] = rest.split(";")[0]
        for port, client in clients.items():
            client.cookies.clear()
            for name, value in jar.items():
                client.cookies.set(name, value)
            assert client.get("/").status_code == 200, port
