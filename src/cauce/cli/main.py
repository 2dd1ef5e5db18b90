"""Entry point of the `cauce` command: global options, command groups, and error handling.

Library errors become one line and a hint on stderr with exit status 1; usage errors are one
line too and exit 2; an interrupt exits 130 (SIGTERM 143). ``--debug`` (or ``CAUCE_DEBUG=1``)
shows the traceback instead; an unexpected exception is one line that says so.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from pathlib import Path

import typer

from ..errors import CauceError, first_line
from . import (
    config,
    console,
    demo,
    dlq,
    execution_commands,
    feed,
    logs,
    migrate,
    queues,
    runs,
    state,
    stdio,
    streams,
    ui,
    workers,
)
from .helptext import CommandInterrupted, PlainHelpGroup
from .home import GLOBALS, home_option_path
from .lazygroup import LazyGroup
from .signals import stopped_by, terminated_as_interrupted

# The commands, declared here and built by typer when named (see `CauceGroup`), in the order
# `cauce --help` lists them: commands, then groups.
commands = typer.Typer(rich_markup_mode=None)
execution_commands.register(commands)
commands.add_typer(runs.runs_cli, name="runs", cls=PlainHelpGroup)
commands.command("logs")(logs.logs_command)
commands.command("workers")(workers.workers_command)
commands.command("queues")(queues.queues_command)
commands.command("streams")(streams.streams_command)
commands.add_typer(dlq.dlq_cli, name="dlq", cls=PlainHelpGroup)
commands.command("schedules")(queues.schedules_command)
commands.command("config")(config.config_command)
commands.command("apps")(config.apps_command)
commands.command("send")(feed.send_command)
commands.command("publish")(feed.publish_command)
commands.command("put")(feed.put_command)
demo.register(commands)
commands.add_typer(state.state_cli, name="state", cls=PlainHelpGroup)
commands.command("migrate")(migrate.migrate_command)
ui.register(commands)


class CauceGroup(LazyGroup):
    """`cauce` itself: its options, and the commands above built only when named."""

    declared = commands


cli = typer.Typer(
    name="cauce",
    help="Cloud-style data pipelines — buckets, queues, topics, tables, streams, warehouses, "
    "schedules — as plain Python, on one machine.",
    epilog="Example: cauce run census demo-data && cauce run census load --all",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # click's plain help: flags as flags, [default: ...] kept as text, and no markdown-it or
    # pygments imported by typer's rich help
    rich_markup_mode=None,
    cls=CauceGroup,
    context_settings={"max_content_width": 100},
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        console.out.print(f"cauce {__version__}")
        raise typer.Exit()


@cli.callback()
def main_options(
    home: Path = typer.Option(None, "--home", metavar="<path>", parser=home_option_path,
                              help="cauce home folder for every command "
                              "[default: ./.cauce in the current folder, or CAUCE_HOME]"),
    state_url: str = typer.Option(None, "--state", metavar="URL",
                                  help="the state store [default: sqlite:///<home>/state.db, "
                                  "or CAUCE_STATE]"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks [or CAUCE_DEBUG=1]"),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="print cauce's version and exit"),
) -> None:
    from .waits import say_warnings  # with logging: for a command run, not for its help

    GLOBALS.home = home
    GLOBALS.state = state_url
    GLOBALS.debug = debug
    say_warnings()


def _printable_output() -> None:
    """Text the output's encoding cannot hold printed as its nearest ASCII (``✓`` as ``ok``,
    ``ñ`` as ``n``, `cauce.cli.fallbacks`), or as its ``\\uXXXX`` escape when it has none (an
    emoji, or a lone surrogate in a message body, a run's result or a log line, which the
    state keeps exactly), rather than failing the command: stdout is strict by default."""
    from ..fallbacks import ERRORS

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # not on a test's captured stream
        if reconfigure is not None:
            reconfigure(errors=ERRORS)


def _debug_first(args: list[str]) -> list[str]:
    """`--debug` anywhere before a `--` moved before the command, where it is defined: the
    hints say "run again with --debug", and users add it at the end of the line."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(arg for arg in args[:end] if arg != "--debug"), *args[end:]]


def _without_carriage_returns(args: list[str]) -> list[str]:
    """``args`` without the carriage returns they end in, each one said: a shell script saved
    with Windows line ends gives the last word of each line a CR (``--who ana\\r`` ran with
    the name ``ana\\r``; ``--json\\r`` was no option). An argument that is nothing but CRs
    (a line that ended in a space) is no argument."""
    kept = []
    for arg in args:
        if arg.endswith("\r"):
            console.err.print(f"warning: the argument {arg!r} ends in a carriage return (a "
                              "script saved with Windows line ends?): read without it",
                              markup=False, soft_wrap=True)
            arg = arg.rstrip("\r")
            if not arg:
                continue
        kept.append(arg)
    return kept


def _shadowing_file(error: BaseException) -> Path | None:
    """A file named like a module of Python's standard library that ``error`` (or one it
    happened while handling) went through, outside the standard library: with ``python -m``
    the working folder comes first on the module path, and a ``json.py`` there took the place
    of ``json`` for every import of it, failing every command."""
    import os
    import traceback  # only on the way to an error message

    # the folders put first: the working folder (python -m), an app file's folder (load_app)
    first = {os.path.realpath(folder or ".") for folder in sys.path[:1]}
    with contextlib.suppress(OSError):
        first.add(os.path.realpath("."))
    seen: BaseException | None = error
    while seen is not None:
        for frame in traceback.extract_tb(seen.__traceback__):
            path = Path(frame.filename)
            if path.suffix == ".py" and path.stem in sys.stdlib_module_names \
                    and os.path.realpath(path.parent) in first:
                return path
        seen = seen.__cause__ or seen.__context__
    return None


def _keep_traceback(error: BaseException, args: list[str]) -> str | None:
    """The traceback of an error no code path expected, kept in a new file of the temporary
    folder (readable by its owner alone): a failure that does not come again is reported
    with it, where the terminal showed one line. Its path; None when it cannot be written."""
    import tempfile
    import traceback  # only on the way to an error message

    from .. import __version__
    from ..backends.state import redact

    try:
        handle, path = tempfile.mkstemp(prefix="cauce-error-", suffix=".log")
        with open(handle, "w", encoding="utf-8", errors="backslashreplace") as kept:
            kept.write(f"cauce {__version__}, Python {sys.version.split()[0]}\n"
                       f"command: cauce {redact(' '.join(args))}\n\n")
            kept.write("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    _printable_output()
    with stdio.guarded():
        try:
            return _main(argv)
        except stdio.OutputFailed as failure:
            return _output_failed(failure)


def _output_failed(failure: stdio.OutputFailed) -> int:
    """The status of a command whose stdout or stderr could not be written: a pipe its reader
    closed ends it silently, as it ends other Unix tools; stdout that failed otherwise is one
    line on stderr (a failed stderr has nowhere to say anything)."""
    stdio.silence(failure.stream)
    if failure.broken_pipe:
        return stdio.BROKEN_PIPE_STATUS
    if failure.stream == "stdout":
        hint = {errno.ENOSPC: "the device it goes to is full: free room on it, or send the "
                "output elsewhere",
                errno.EBADF: "the command was started with its output closed (>&-): send it "
                "to a file, or to /dev/null to drop it"}.get(
            failure.errno or 0, "send the output elsewhere, e.g. > out.txt")
        with contextlib.suppress(OSError):
            console.print_problem(f"cannot write the output: {failure.strerror}", hint)
    return 1


def _main(argv: list[str] | None) -> int:
    from ..causes import fewer_arenas_under_an_address_limit

    fewer_arenas_under_an_address_limit()  # before threads allocate: each takes an arena
    args = _debug_first(_without_carriage_returns(list(sys.argv[1:] if argv is None
                                                        else argv)))
    GLOBALS.debug = bool(args) and args[0] == "--debug"
    command = typer.main.get_command(cli)
    try:
        # Without standalone mode click returns the status of an Exit instead of raising it.
        # SIGTERM stops every command as Ctrl-C does (a service manager's stop, `kill`): its
        # cleanup runs, a `logs --follow -o` file is closed with what it read; it ended most
        # at once, its buffers unwritten and no line said.
        with terminated_as_interrupted():
            status = command.main(args=args, prog_name="cauce", standalone_mode=False)
    except typer.Exit as done:
        return int(getattr(done, "exit_code", 0) or 0)
    except typer.Abort:
        console.err.print("aborted")
        return 130
    except typer.TyperException as err:
        # usage errors from typer's parser (its own click); those of the options built per app
        # and job come as an Exit with the status (cauce.cli.execution)
        return console.print_usage_error(err, args)
    except stdio.OutputFailed:
        raise
    except CauceError as err:
        if console.debugging():
            raise
        console.print_error(err)
        return 1
    except (KeyboardInterrupt, CommandInterrupted) as stop:
        cause = stop if isinstance(stop, KeyboardInterrupt) else stop.__cause__
        signal_name, stopped = stopped_by(cause if isinstance(cause, KeyboardInterrupt)
                                          else KeyboardInterrupt())
        console.err.print("interrupted" if stopped == 130 else f"stopped by {signal_name}")
        return stopped
    except Exception as err:
        # a bug, or an error no seam translated: still one line, the traceback with --debug
        if console.debugging():
            raise
        if shadow := _shadowing_file(err):
            # said without cauce's printing, which imports what the file took the place of
            sys.stderr.write(f"error: {shadow} takes the place of Python's own {shadow.stem} "
                             "module (its folder comes first on the module path)\n"
                             f"hint: rename {shadow.name} (python -m cauce puts the working "
                             "folder first; the cauce command does not)\n")
            return 1
        from ..causes import of  # only on the way to an error message

        if (cause := of(err)) is not None:
            # the machine's limit, not a bug: said as such, the error it came as in brackets
            console.print_problem(first_line(f"{cause.reason} ({type(err).__name__}: {err})"),
                                  cause.hint)
            return 1
        kept = _keep_traceback(err, args)
        where = (f"its traceback is in {kept}: report it with that file (--debug, or "
                 "CAUCE_DEBUG=1, shows it)" if kept else
                 "run again with --debug (or CAUCE_DEBUG=1) for the traceback, and report it")
        console.print_problem(first_line(f"unexpected {type(err).__name__}: {err}"), where)
        return 1
    return status if isinstance(status, int) else 0


def run() -> None:
    """The console script: exit with `main`'s status."""
    GLOBALS.exiting = True
    sys.exit(main())


if __name__ == "__main__":
    run()
