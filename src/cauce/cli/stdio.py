"""The standard streams of a command, and what happens when writing to one fails.

``cauce runs | head -1`` closes the pipe under the command, ``cauce runs > /dev/full`` finds the
device full, ``cauce runs >&-`` starts with no standard output at all. A failed write to stdout
raises `OutputFailed`, which `cauce.cli.main` ends the command with: a pipe closed by
its reader silently, with the status a shell gives a command killed by SIGPIPE (141), as other
Unix tools end; any other failure of stdout with one line on stderr and status 1. A failed write
to stderr is dropped: the command goes on, and its status says how it went.

A standard stream that is closed when the command starts is opened on the null device first,
so that no file the command opens (the state database) takes its descriptor and gets a child
process's output, while writes to it still fail (said as above).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any, TextIO

#: The exit status of a command whose output pipe was closed by its reader (128 + SIGPIPE).
BROKEN_PIPE_STATUS = 128 + signal.SIGPIPE.value


class OutputFailed(Exception):
    """Writing to stdout (``stream``) failed with ``errno`` and ``strerror``. Not an
    OSError: click would take a broken pipe for its own and exit 1, and code that catches the
    OSError of a file it writes would take it for that file's."""

    def __init__(self, stream: str, error: OSError) -> None:
        super().__init__(f"cannot write {stream}: {error.strerror or error}")
        self.stream = stream
        self.errno = error.errno
        self.strerror = error.strerror or str(error)

    @property
    def broken_pipe(self) -> bool:
        return self.errno == errno.EPIPE


class GuardedStream:
    """A standard stream whose failed writes raise `OutputFailed`; everything else is the
    stream's own. ``closed_at_start`` is a stream that was closed when the command started: its
    writes fail as writes to a closed descriptor do."""

    def __init__(self, stream: TextIO, name: str, closed_at_start: bool = False) -> None:
        self._stream = stream
        self._name = name
        self._closed_at_start = closed_at_start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        if self._closed_at_start and text:
            raise OutputFailed(self._name, OSError(errno.EBADF, f"{self._name} is closed"))
        try:
            return self._stream.write(text)
        except OSError as error:
            raise OutputFailed(self._name, error) from None

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            raise OutputFailed(self._name, error) from None

    def isatty(self) -> bool:
        return not self._closed_at_start and self._stream.isatty()


class BestEffortStream:
    """stderr, where a failed write (a full device, a reader gone) is dropped, with every later
    one: what it says is for the user and the command's outcome is its exit status, so a run
    that succeeded is not failed by a log line that could not be shown (`2>> run.log` on a
    full disk), and an error still exits 1 when its line cannot be written."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError:
            silence("stderr")
            return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError:
            silence("stderr")


def _open_closed_descriptors() -> set[int]:
    """The standard descriptors (0, 1, 2) that were closed, now open on the null device."""
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    return closed


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """stdout as a `GuardedStream` and stderr as a `BestEffortStream` while a command runs
    (then as they were). A failure to write stderr has nowhere to be said."""
    closed = _open_closed_descriptors()
    before = sys.stdout, sys.stderr
    stream = sys.stdout
    if stream is None:  # closed when Python started: a text stream on the null device
        stream = open(1, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      closefd=False)
    if not isinstance(stream, GuardedStream):
        sys.stdout = GuardedStream(stream, "stdout", closed_at_start=1 in closed)
    if sys.stderr is not None and not isinstance(sys.stderr, BestEffortStream):
        sys.stderr = BestEffortStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = before


def silence(stream: str) -> None:
    """The null device in place of ``stream`` ("stdout" or "stderr") from now on, so that what
    is left in its buffer when Python exits is not written there again, failing once more
    ("Exception ignored ... BrokenPipeError")."""
    fd = 1 if stream == "stdout" else 2
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
