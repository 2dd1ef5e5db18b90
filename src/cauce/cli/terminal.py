"""The rich parts of the terminal output: consoles as wide as the terminal (unlimited when piped)
and log lines on stderr. Imported by `cauce.cli.console` with the first output, not with the
command line: `cauce --help` prints click's plain help without rich.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleDimensions
from rich.logging import RichHandler
from rich.segment import Segment

from .console import UNLIMITED, masked, redact, visible

if TYPE_CHECKING:
    from ..logs import LogLine


class TerminalConsole(Console):
    """A console as wide as its terminal, or unlimited when its output is not a terminal (rich
    would otherwise take the width of whichever standard stream is one, or 80)."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        columns = os.environ.get("COLUMNS", "")
        given = int(columns) if columns.isdigit() and int(columns) > 0 else None
        if self.is_terminal:
            if size.width > 0:
                return size
            # COLUMNS=0 (as some CI runners set it): rich took it for the width and printed
            # nothing at all; the terminal's own width instead
            try:
                width = os.get_terminal_size(self.file.fileno()).columns
            except (OSError, ValueError, AttributeError):
                width = 0
            return ConsoleDimensions(width or 80, size.height)
        return ConsoleDimensions(given or UNLIMITED, size.height)


    def _write_buffer(self) -> None:
        """rich's write of what was printed, its buffer emptied however the write ends: a
        Ctrl-C or SIGTERM between rich's write and its emptying of the buffer left the line
        there, for the next print to write again (`Ctrl-C or SIGTERM stops it` twice)."""
        try:
            super()._write_buffer()
        finally:
            if self._buffer_index == 0:  # not inside a `with console:` that is gathering
                del self._buffer[:]

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        """What rich writes; not to a terminal, without the spaces that pad a table's last
        column to its widest cell (up to hundreds on each line of `cauce runs > file`, where a
        run's error is long)."""
        text = super()._render_buffer(buffer)
        return text if self.is_terminal else _PADDING.sub("\n", text)


# the columns of a log line on a terminal before its message: the time and the level
LOG_MARGIN = 20
# spaces that end a line: rich's padding
_PADDING = re.compile(r" +\n")


class TerminalLog(RichHandler):
    """Log lines on stderr, with secret setting values masked as in the stored log streams.

    A record's traceback (``exc_info``, or the ``traceback`` a failed run attaches) is stored in
    the run's log stream; here it shows only with ``--debug``. Piped, lines are plain text.
    """

    secrets: Sequence[str] = ()
    debug = False

    def hide(self, secrets: Sequence[str]) -> None:
        """Mask these values (the runtime's secret settings) in every line from now on."""
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def show_stored(self, lines: Iterable[LogLine]) -> None:
        """Show lines a run wrote elsewhere (its child process, a Dask worker) as if they had
        been logged here: the same filters and form, so its failure line, which holds the
        traceback, is left to the command's last line (shown, with the traceback, by --debug)."""
        from ..runtime.execute import is_failure_line

        for line in lines:
            failure = is_failure_line(line.level, line.message)
            first, _, trace = line.message.partition("\n") if failure else (line.message, "", "")
            level = logging.getLevelName(line.level)  # a level the child named itself: INFO
            level = level if isinstance(level, int) else logging.INFO
            if level >= self.level:
                self.handle(logging.makeLogRecord({
                    "name": "cauce.run", "levelname": line.level, "msg": first,
                    "levelno": level, "created": line.ts.timestamp(),
                    "traceback": trace or None, "run_failure": failure}))

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        trace = getattr(record, "traceback", None)
        if record.exc_info and record.exc_info[1] is not None:
            trace = self.formatter.formatException(record.exc_info) if self.formatter else (
                logging.Formatter().formatException(record.exc_info))
        if self.debug and trace:
            message += "\n" + trace
        return visible(masked(redact(message), self.secrets))

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        fits = max(map(len, message.split()), default=0) <= self.console.width - LOG_MARGIN
        if self.console.is_terminal and fits:
            # rich renders the record's message beside time and level, wrapped between words
            plain = logging.makeLogRecord({**record.__dict__, "msg": message,
                                           "args": None, "exc_info": None, "exc_text": None,
                                           "traceback": None})
            super().emit(plain)
            return
        try:
            stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
            line = f"{stamp} {record.levelname:<7} {message}"
            if self.console.is_terminal:
                # a word the message's column cannot hold (a run id on a narrow terminal, a
                # long path), which rich would cut across lines: the line whole, as a pipe
                # gets it, for the terminal to wrap
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
                return
            self.console.file.write(line + "\n")
            self.console.file.flush()
        except Exception:  # logging must never break the command
            self.handleError(record)
