"""Declaring an app does no I/O, and every mistake is a DeclarationError at declaration time."""

from __future__ import annotations

import re

import pytest

from cauce import App, Context, DeclarationError, NotAttached, NotFound, daily, weekly


def test_declaring_does_no_io(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = App("quiet")
    app.bucket("raw")
    app.queue("work")
    app.table("items")
    app.topic("events")
    app.stream("readings", shards=2)
    app.warehouse("main")
    assert list(tmp_path.iterdir()) == []


def test_resources_used_outside_a_runtime_say_where_to_use_them() -> None:
    app = App("idle")
    work = app.queue("work")
    with pytest.raises(NotAttached,
                       match="queue 'work' of app 'idle' is not attached to a runtime") as info:
        work.send({"n": 1})
    assert "TestRuntime" in (info.value.hint or "")


@pytest.mark.parametrize("name", ["Census", "1app", "", "my app", "app!"])
def test_app_names_are_lower_case_words(name: str) -> None:
    with pytest.raises(DeclarationError, match=r"app name .* is not valid"):
        App(name)


def test_unknown_time_zone() -> None:
    with pytest.raises(DeclarationError, match="unknown time zone 'Mars/Olympus'") as info:
        App("demo", timezone="Mars/Olympus")
    assert "America/Santiago" in (info.value.hint or "")


@pytest.mark.parametrize(("zone", "meant"), [("america/santiago", "America/Santiago"),
                                             ("utc", "UTC"), ("Europe/Berln", "Europe/Berlin"),
                                             ("etc/gmt+3", "Etc/GMT+3")])
def test_a_time_zone_written_in_other_case_or_misspelt_names_the_one_meant(zone, meant) -> None:
    # read as it is on a case-insensitive disk (a Mac), refused on Linux with a generic hint
    with pytest.raises(DeclarationError, match=re.escape(f"unknown time zone {zone!r}")) as info:
        App("demo", timezone=zone)
    assert info.value.hint == f"did you mean {meant!r}? (time zone names are case-sensitive)"


@pytest.mark.parametrize(("zone", "meant"), [
    ("localtime", "America/Santiago"), ("Factory", "America/Santiago"),
    ("posixrules", "America/Santiago"), ("right/UTC", "UTC"),
    ("posix/America/Santiago", "America/Santiago"),
])
def test_a_zone_file_naming_no_place_is_refused_with_the_zone_meant(
        zone: str, meant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # "localtime" was accepted: the app's schedules then kept another machine's hours, and
    # "right/" zones count leap seconds, every time 27 s off
    monkeypatch.setenv("TZ", "America/Santiago")
    with pytest.raises(DeclarationError, match=re.escape(f"time zone {zone!r} is not")) as info:
        App("demo", timezone=zone)
    assert f"timezone={meant!r}" in (info.value.hint or "")


def test_invalid_cron() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError, match="invalid cron expression '61 \\* \\* \\* \\*'"):
        @app.job(schedule="61 * * * *")
        def tick(ctx): ...
    assert "tick" not in app.jobs


def test_invalid_interval() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError, match="every: 'sometimes' is not a duration"):
        @app.job(every="sometimes")
        def tick(ctx): ...


def test_schedule_and_every_together() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError, match="job 'tick' takes schedule= or every=, not both"):
        @app.job(schedule="* * * * *", every="1m")
        def tick(ctx): ...


def test_duplicate_resource_names_even_across_kinds() -> None:
    app = App("demo")
    app.bucket("raw")
    with pytest.raises(DeclarationError, match="app 'demo' already has a bucket named 'raw'"):
        app.queue("raw")


@pytest.mark.parametrize("name", ["Raw", "raw files", "work.dlq", "", "-x"])
def test_resource_names(name: str) -> None:
    with pytest.raises(DeclarationError, match=r"queue name .* is not valid"):
        App("demo").queue(name)


DECLARE_NAMED = {
    "app": App,
    "queue": lambda name: App("demo").queue(name),
    "bucket": lambda name: App("demo").bucket(name),
    "table": lambda name: App("demo").table(name, key="id"),
    "topic": lambda name: App("demo").topic(name),
    "stream": lambda name: App("demo").stream(name),
    "warehouse": lambda name: App("demo").warehouse(name),
    "job": lambda name: App("demo").job(name=name)(lambda ctx: None),
    "setting": lambda name: App("demo").setting(name, str, default=""),
}


def test_job_and_handler_names_do_not_end_in_dlq() -> None:
    # the queue of "h.dlq" would be the dead-letter queue of "h", which then got h's failures
    app = App("demo")
    inbox = app.bucket("inbox")
    with pytest.raises(DeclarationError, match=r"job name 'x\.dlq' is not valid") as info:
        app.job(name="x.dlq")(lambda ctx: None)
    assert "not ending in .dlq" in (info.value.hint or "")
    with pytest.raises(DeclarationError, match=r"handler name 'h\.dlq' is not valid"):
        app.on(inbox, name="h.dlq")(lambda obj, ctx: None)
    app.job(name="x.dlq2")(lambda ctx: None)


@pytest.mark.parametrize("kind", DECLARE_NAMED)
def test_a_name_is_matched_whole_a_trailing_newline_included(kind: str) -> None:
    with pytest.raises(DeclarationError, match=rf"{kind} name 'name\\n' is not valid"):
        DECLARE_NAMED[kind]("name\n")


@pytest.mark.parametrize("kind", DECLARE_NAMED)
def test_a_name_fits_in_a_file_name(kind: str) -> None:
    DECLARE_NAMED[kind]("n" * 100)
    with pytest.raises(DeclarationError, match=rf"{kind} name 'n+'… is 101 characters long"):
        DECLARE_NAMED[kind]("n" * 101)


@pytest.mark.parametrize("kind", DECLARE_NAMED)
def test_a_name_that_is_not_text_is_refused(kind: str) -> None:
    with pytest.raises(DeclarationError, match=rf"{kind} name 5 is not valid"):
        DECLARE_NAMED[kind](5)


def test_handler_on_an_unknown_resource_name_suggests_the_closest() -> None:
    app = App("demo")
    app.queue("work")
    with pytest.raises(DeclarationError, match="app 'demo' has no resource 'wrok'") as info:
        @app.on("wrok")
        def handle(msg, ctx): ...
    assert info.value.hint == "did you mean 'work'?"


def test_handler_on_a_resource_name_works_like_the_object() -> None:
    app = App("demo")
    work = app.queue("work")

    @app.on("work")
    def handle(msg, ctx): ...

    assert app.handlers["handle"].resource is work


def test_handler_on_another_apps_resource() -> None:
    other = App("other")
    theirs = other.queue("work")
    app = App("demo")
    app.queue("work")
    with pytest.raises(DeclarationError, match="queue 'work' is not a resource of app 'demo'"):
        @app.on(theirs)
        def handle(msg, ctx): ...


def test_handler_on_something_that_is_not_a_resource() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError, match="42 is not a resource"):
        app.on(42)  # type: ignore[arg-type]


def test_handler_on_a_table_or_warehouse() -> None:
    app = App("demo")
    items = app.table("items")
    with pytest.raises(DeclarationError, match="table 'items' has no events to handle"):
        app.on(items)


def test_a_queue_has_one_consumer() -> None:
    app = App("demo")
    work = app.queue("work")

    @app.on(work)
    def first(msg, ctx): ...

    with pytest.raises(DeclarationError, match="queue 'work' already has handler 'first'") as info:
        @app.on(work)
        def second(msg, ctx): ...
    assert "topic" in (info.value.hint or "")


def test_two_handlers_with_one_name() -> None:
    app = App("demo")
    raw, events = app.bucket("raw"), app.topic("events")

    @app.on(raw)
    def handle(obj, ctx): ...

    with pytest.raises(DeclarationError, match="app 'demo' already has a handler named 'handle'"):
        @app.on(events)
        def handle(msg, ctx): ...


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("queue", {"prefix": "in/"},
         "prefix= and suffix= filter bucket keys; queue 'r' has no keys"),
        ("queue", {"window": "5m"}, "window= groups stream records"),
        ("bucket", {"batch_size": 10}, "batch_size= applies to queues and streams, not buckets"),
        ("topic", {"batch_size": 10}, "batch_size= applies to queues and streams, not topics"),
        # these named no handler nor resource, and had no hint
        ("queue", {"batch_size": 0},
         "handler of queue 'r': batch_size must be a positive integer, got 0"),
        ("queue", {"max_attempts": 0},
         "handler of queue 'r': max_attempts must be a positive integer"),
        ("queue", {"concurrency": 0},
         "handler of queue 'r': concurrency must be a positive integer"),
        ("stream", {"window": "0s"}, "handler of stream 'r': window must be longer than zero"),
        ("stream", {"visibility": 0},
         "handler of stream 'r': visibility must be longer than zero"),
        ("stream", {"window": "soon"}, "window: 'soon' is not a duration"),
    ],
)
def test_handler_options_that_do_not_fit_the_resource(kind: str, options: dict,
                                                      message: str) -> None:
    app = App("demo")
    resource = getattr(app, kind)("r")
    with pytest.raises(DeclarationError, match=message) as info:
        app.on(resource, **options)
    assert info.value.hint


@pytest.mark.parametrize(
    "func_text",
    ["def handle(): ...", "def handle(event): ...", "def handle(event, ctx, extra): ...",
     "def handle(*, event, ctx): ..."],
)
def test_a_handler_takes_the_event_and_the_context(func_text: str) -> None:
    app = App("demo")
    work = app.queue("work")
    namespace: dict = {}
    exec(func_text, namespace)
    with pytest.raises(DeclarationError, match="handler 'handle' must take \\(event, ctx\\)"):
        app.on(work)(namespace["handle"])


def test_handlers_with_defaults_or_varargs_are_fine() -> None:
    app = App("demo")
    work, events = app.queue("work"), app.topic("events")

    @app.on(work)
    def handle(msg, ctx, verbose=False): ...

    @app.on(events)
    def notify(*args): ...

    assert set(app.handlers) == {"handle", "notify"}


def test_job_without_a_context_parameter() -> None:
    app = App("demo")
    message = "job 'tick' must take the run context as its first parameter"
    with pytest.raises(DeclarationError, match=message) as info:
        @app.job
        def tick(): ...
    assert info.value.hint == "def my_job(ctx): ..."


def test_job_parameter_without_annotation() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError,
                       match="job 'load': parameter 'source' needs a type annotation"):
        @app.job
        def load(ctx, source=None): ...


def test_job_with_var_keywords() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError, match=r"job 'load': \*args/\*\*kwargs cannot be options"):
        @app.job
        def load(ctx, **options: str): ...


def test_scheduled_job_with_required_parameters() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError,
                       match="job 'load' runs by itself but needs --source, --chunk-size") as info:
        @app.job(every="1h")
        def load(ctx, source: str, chunk_size: int, all: bool = False): ...
    assert info.value.hint == "give those parameters defaults"


@pytest.mark.parametrize("trigger", [{"schedule": "0 3 * * *"}, {"run_at_start": True}])
def test_other_self_started_jobs_need_defaults_too(trigger: dict) -> None:
    def load(ctx, day: str): ...

    with pytest.raises(DeclarationError, match="job 'load' runs by itself but needs --day"):
        App("demo").job(**trigger)(load)


def test_after_jobs_need_defaults_too() -> None:
    app = App("demo")

    @app.job
    def extract(ctx): ...

    with pytest.raises(DeclarationError, match="job 'load' runs by itself but needs --day"):
        @app.job(after=[extract])
        def load(ctx, day: str): ...


def test_after_another_apps_job() -> None:
    other = App("other")

    @other.job
    def extract(ctx): ...

    app = App("demo")
    with pytest.raises(DeclarationError,
                       match="job 'load': after= takes jobs of app 'demo'") as info:
        @app.job(after=[extract])
        def load(ctx): ...
    assert "@app.job returned" in (info.value.hint or "")


def test_after_something_that_is_not_a_job() -> None:
    app = App("demo")
    with pytest.raises(DeclarationError, match="after= takes jobs of app 'demo'"):
        @app.job(after=["extract"])  # type: ignore[list-item]
        def load(ctx): ...


def test_after_inherits_the_upstream_partitions() -> None:
    app = App("demo")

    @app.job(partitions=daily(start="2024-01-01"))
    def extract(ctx): ...

    @app.job(after=[extract])
    def report(ctx): ...

    assert report.partitions == extract.partitions
    assert extract.downstream == [report]


def test_after_jobs_with_different_partitions() -> None:
    app = App("demo")

    @app.job(partitions=daily(start="2024-01-01"))
    def per_day(ctx): ...

    @app.job(partitions=weekly(start="2024-01-01"))
    def per_week(ctx): ...

    with pytest.raises(DeclarationError,
                       match="job 'report' follows jobs with different partitions"):
        @app.job(after=[per_day, per_week])
        def report(ctx): ...
    with pytest.raises(DeclarationError,
                       match="job 'summary' declares partitions unlike its upstream jobs"):
        @app.job(after=[per_day], partitions=weekly(start="2024-01-01"))
        def summary(ctx): ...


def test_every_given_as_another_apps_setting() -> None:
    other = App("other")
    interval = other.setting("every", str, default="1m")
    app = App("demo")
    with pytest.raises(DeclarationError, match="job 'tick': every= names a setting of another app"):
        @app.job(every=interval)
        def tick(ctx): ...


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"worker": "fiber"}, "worker must be 'thread' or 'process'"),
        ({"retries": -1}, "retries must be a non-negative integer"),
        ({"timeout": "a while"}, "timeout: 'a while' is not a duration"),
        ({"retry_delay": "later"}, "retry_delay: 'later' is not a duration"),
    ],
)
def test_job_options(options: dict, message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        App("demo").job(name="load", **options)(lambda ctx: None)


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(DeclarationError, match="job name '<lambda>' is not valid") as info:
        App("demo").job(lambda ctx: None)
    assert "name=" in (info.value.hint or "")
    app = App("demo")
    work = app.queue("work")
    with pytest.raises(DeclarationError, match="handler name '<lambda>' is not valid"):
        app.on(work)(lambda msg, ctx: None)
    app.on(work, name="handle")(lambda msg, ctx: None)
    assert app.handlers["handle"].resource is work


def test_two_jobs_with_one_name() -> None:
    app = App("demo")

    @app.job
    def load(ctx): ...

    with pytest.raises(DeclarationError, match="app 'demo' already has a job named 'load'"):
        app.job(name="load")(lambda ctx: None)


def test_job_names_come_from_the_function_with_dashes() -> None:
    app = App("demo")

    @app.job
    def daily_summary(ctx: Context) -> None:
        """Summarise the day.

        More detail that `cauce apps` does not show."""

    assert app.get_job("daily-summary") is daily_summary
    assert daily_summary.description == "Summarise the day."


def test_unknown_job_suggests_the_closest() -> None:
    app = App("demo")
    app.job(name="daily-summary")(lambda ctx: None)
    with pytest.raises(NotFound, match="app 'demo' has no job 'daily-sumary'") as info:
        app.get_job("daily-sumary")
    assert info.value.hint == "did you mean 'daily-summary'?"


def test_unknown_resource_of_a_kind_lists_the_choices() -> None:
    app = App("demo")
    app.queue("work")
    app.queue("mail")
    app.bucket("raw")
    with pytest.raises(NotFound, match="app 'demo' has no queue 'raw'") as info:
        from cauce import Queue

        app.get_resource("raw", Queue)
    assert info.value.hint == "choose one of: mail, work"


def test_names_that_would_share_an_environment_variable() -> None:
    app = App("demo")
    app.bucket("raw.files")
    with pytest.raises(DeclarationError, match=r"bucket 'raw-files' and bucket 'raw\.files' would "
                       "both be set by the environment variable CAUCE_DEMO_RAW_FILES_URL"):
        app.bucket("raw-files")
    with pytest.raises(DeclarationError, match=r"setting 'raw_files_url' and bucket 'raw\.files'"):
        app.setting("raw_files_url", str, default="")
    app.setting("other", str, default="", env="CAUCE_DEMO_RAW_FILES")  # its own variable


def test_duplicate_settings() -> None:
    app = App("demo")
    app.setting("db", str, default="x")
    with pytest.raises(DeclarationError, match="app 'demo' declares setting 'db' twice"):
        app.setting("db", str, default="y")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda app: app.queue("q", max_receives=0), "max_receives must be a positive integer"),
        (lambda app: app.queue("q", visibility_timeout=0), "visibility_timeout must be positive"),
        (lambda app: app.stream("s", shards=0), "shards must be a positive integer"),
        # kept nothing: a serve dropped every record, read or not, at its next trim
        (lambda app: app.stream("s", retention=0), "retention must be longer than zero"),
        (lambda app: app.stream("s", retention="0s"), "retention must be longer than zero"),
        (lambda app: app.table("t", key=()), "key must be an attribute name or a tuple"),
        (lambda app: app.table("t", key="id", indexes=["id"]), "is already the key"),
        (lambda app: app.table("t", indexes=["", "a"]), "indexes must be attribute names"),
        (lambda app: app.table("t", indexes=[1]), "indexes must be attribute names"),
        (lambda app: app.table("t", indexes=["a\x00"]), "indexes must be attribute names"),
        (lambda app: app.topic("t", subscribers=[App("x").queue("q")]),
         "can only be subscribed by queues of app"),
    ],
)
def test_resource_options(make, message: str) -> None:
    with pytest.raises(DeclarationError, match=message) as info:
        make(App("demo"))
    assert info.value.hint


def test_one_index_may_be_given_as_its_name_alone() -> None:
    # as key= is: indexes="status" is the index status, not six one-letter ones
    assert App("demo").table("t", indexes="status").indexes == ("status",)


def test_the_app_reference_names_module_and_attribute() -> None:
    from cauce.apps.example import app

    assert app.reference == "cauce.apps.example:app"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "job 'load': concurrency must be a positive integer, got 0"),
        ({"concurrency": "2"}, "job 'load': concurrency must be a positive integer, got '2'"),
        ({"timeout": 0}, "job 'load': timeout must be longer than zero"),
    ],
)
def test_job_limits_that_would_never_let_it_run(options: dict, message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        App("demo").job(name="load", **options)(lambda ctx: None)


def test_jobs_and_handlers_share_one_set_of_names() -> None:
    app = App("demo")
    work = app.queue("work")
    app.job(name="load")(lambda ctx: None)
    with pytest.raises(DeclarationError, match="app 'demo' already has a job named 'load'") as info:
        app.on(work, name="load")(lambda msg, ctx: None)
    assert "found by name" in (info.value.hint or "")
    app.on(work, name="handle")(lambda msg, ctx: None)
    with pytest.raises(DeclarationError, match="app 'demo' already has a handler named 'handle'"):
        app.job(name="handle")(lambda ctx: None)


def test_a_queue_shares_its_name_only_with_the_handler_that_consumes_it() -> None:
    """`cauce dlq list APP NAME` finds a queue's dead letters first: a job or another handler
    of that name would have dead letters no name reaches."""
    shared = "would have their dead letters found by the same name"
    app = App("demo")
    work = app.queue("work")
    app.queue("other")
    app.on(work, name="work")(lambda msg, ctx: None)  # one dead-letter queue: allowed
    with pytest.raises(DeclarationError, match=f"job 'other' and queue 'other' {shared}"):
        app.job(name="other")(lambda ctx: None)
    inbox = app.bucket("inbox")
    with pytest.raises(DeclarationError, match=f"handler 'other' and queue 'other' {shared}"):
        app.on(inbox, name="other")(lambda msg, ctx: None)
    app.job(name="later")(lambda ctx: None)
    with pytest.raises(DeclarationError, match=f"queue 'later' and job 'later' {shared}") as info:
        app.queue("later")
    assert info.value.hint == "give one of them another name"
    assert set(app.jobs) == {"later"} and "later" not in app.resources
    assert set(app.handlers) == {"work"}


def test_a_stream_handler_reads_by_count_or_by_time() -> None:
    app = App("demo")
    readings = app.stream("readings")
    with pytest.raises(DeclarationError, match=r"read batches by count \(batch_size=\) "
                                               r"or by time \(window=\), not both"):
        app.on(readings, batch_size=10, window="5m")
