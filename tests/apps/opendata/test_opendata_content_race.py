"""Two datasets of one content recorded at once: each id is added to the content's item, and
neither is lost to the other's write."""

from __future__ import annotations

import pytest

from cauce.apps.opendata import app, catalog, datasets
from cauce.apps.opendata.profile import Profile
from cauce.testing import TestRuntime

PROFILE = Profile(sha256="ab" * 32, size=10, rows=2)


def test_an_id_added_between_the_reads_of_another_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # the item was read, then its version: an id added in between gave its fresh version to
    # the stale item, and the put of the stale item with one id more succeeded, dropping it
    with TestRuntime(app):
        assert catalog.record_content(datasets, {"ID": "aaaa-0001"}, PROFILE, "v1")
        read = datasets.get_with_version
        added: list[str] = []

        def read_then_added(key: str) -> tuple[dict, int] | None:
            found = read(key)
            if not added:  # once: the other writer's own reads go on as they are
                added.append("cccc-0003")
                catalog.record_content(datasets, {"ID": "cccc-0003"}, PROFILE, "v1")
            return found

        monkeypatch.setattr(datasets, "get_with_version", read_then_added)
        assert not catalog.record_content(datasets, {"ID": "bbbb-0002"}, PROFILE, "v1")
        assert sorted(datasets.get(PROFILE.sha256)["IDS"]) == [
            "aaaa-0001",
            "bbbb-0002",
            "cccc-0003",
        ]
