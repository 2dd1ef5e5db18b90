"""A machine clock stepped back (NTP, by hand) while work runs: what is done every so often on
the runtime's clock goes on at its pace, instead of waiting for the clock to come back to where
it was last done — an hour after a one-hour step."""

from __future__ import annotations

from pathlib import Path

import pytest

from cauce import App
from cauce.testing import TestRuntime


def test_cancellations_are_looked_for_every_second_across_a_clock_stepped_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = App("steps")
    app.job(name="noop")(lambda ctx: None)
    with TestRuntime(app) as rt:
        dispatcher = rt.runtime.dispatcher(threads=1, processes=1)
        looks: list[float] = []
        monkeypatch.setattr(dispatcher, "_check_cancellations",
                            lambda: looks.append(rt.clock.time()))
        try:
            dispatcher.pump()  # the first look
            rt.clock.advance(0.5)
            dispatcher.pump()  # not a second yet
            rt.clock.set_back(3600)
            dispatcher.pump()  # stepped back past the last look: looks again
            rt.clock.advance(1.0)
            dispatcher.pump()
        finally:
            dispatcher.shutdown(0)
    # before, one look: `cauce runs cancel` went unheard until the clock came back an hour on
    assert len(looks) == 3


def test_a_watched_bucket_is_looked_into_at_its_pace_across_a_clock_stepped_back(
        tmp_path: Path) -> None:
    app = App("steps")
    inbox = app.bucket("inbox", url=str(tmp_path / "drop"), watch="1m")
    seen: list[str] = []
    app.on(inbox, name="arrived")(lambda obj, ctx: seen.append(obj.key))
    (tmp_path / "drop").mkdir()
    with TestRuntime(app, home=tmp_path / "home") as rt:
        rt.advance("30s")
        rt.clock.set_back(3600)
        (tmp_path / "drop" / "a.csv").write_text("a\n")
        rt.advance("1m")
        # before, the next look waited for the clock to come back an hour on
        assert seen == ["a.csv"]
