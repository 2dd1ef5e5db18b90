"""What a failure says about the machine it ran on, rather than about the code: a full disk, a
file size limit, too many open files, no memory left, no thread or process to be had, a file
this user may not touch. Each is one reason and a hint naming the limit in force, read from
this process, and how to raise it; `of` finds one anywhere in an error's chain.

Python ignores SIGXFSZ from the start, so a file that outgrows ``ulimit -f`` is an ``OSError``
(EFBIG) like a full disk, not a process killed in the middle of a write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from dataclasses import dataclass

try:  # here, not when a limit is read: with no file descriptor left, no module can be loaded
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Cause:
    """Why something failed, in words about the machine, and what to do about it."""

    reason: str
    hint: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.hint}"


# the words of errors that carry no errno: Rust's "(os error 28)", SQLite's, dlopen's
_CODE = re.compile(r"\(os error (\d+)\)")
_MEMORY_WORDS = re.compile(r"cannot allocate memory|failed to map segment|out of memory"
                           r"|memory allocation of \d+ bytes failed", re.IGNORECASE)
# Python's words, and a Rust thread pool's (Polars') panic when clone() says EAGAIN
_THREAD_WORDS = re.compile(r"can't start new thread|cannot start new thread"
                           r"|Os \{ code: 11, kind: WouldBlock", re.IGNORECASE)


def of(error: BaseException) -> Cause | None:
    """The cause, if ``error`` or an error it was raised from or during is one of exhaustion
    or permission (None otherwise: the error says what it is about)."""
    seen: set[int] = set()
    current: BaseException | None = error
    implicit = False  # reached through __context__: raised while another was handled
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = _one(current, permissions=not implicit)
        if cause is not None:
            return cause
        implicit = current.__cause__ is None
        current = current.__cause__ or (None if current.__suppress_context__  # `from None`
                                        else current.__context__)
    return None


def _one(error: BaseException, *, permissions: bool = True) -> Cause | None:
    """The cause ``error`` itself names; a refused permission only with ``permissions`` (an
    error raised while a PermissionError was handled is most often about something else)."""
    if isinstance(error, MemoryError):
        return memory()
    try:
        text = str(error)
    except Exception:  # an exception whose __str__ fails: nothing to read in it
        text = ""
    if isinstance(error, OSError) and (permissions or error.errno not in (errno.EACCES,
                                                                          errno.EPERM)):
        code = error.errno
        if code is None and (found := _CODE.search(text)):
            code = int(found.group(1))
        filename = error.filename if isinstance(error.filename, str | bytes) else None
        cause = by_errno(code, os.fsdecode(filename) if filename is not None else None)
        if cause is not None:
            return cause
    if _THREAD_WORDS.search(text):
        return threads()
    if _MEMORY_WORDS.search(text):
        return memory()
    return None


def by_errno(code: int | None, filename: str | None = None) -> Cause | None:
    """The cause an errno names (None for one about something else)."""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(filename)
    if code == errno.EFBIG:
        return file_size()
    if code == errno.EMFILE:
        return open_files()
    if code == errno.ENFILE:
        return Cause("the machine has too many files open at once (all processes together)",
                     "close programs that hold many files, or raise the system's limit "
                     "(sysctl fs.file-max)")
    if code == errno.ENOMEM:
        return memory()
    if code in (errno.EACCES, errno.EPERM) and filename:
        return Cause(f"this user may not use {filename}",
                     "check the permissions of that file and of the folders above it "
                     "(ls -ld), then run it again")
    return None


def _limit(name: str) -> tuple[int, int] | None:
    """This process's soft and hard limit of ``resource.RLIMIT_<name>`` (None where the
    platform has none)."""
    if resource is None:
        return None
    which = getattr(resource, f"RLIMIT_{name}", None)
    if which is None:
        return None
    try:
        return resource.getrlimit(which)
    except (OSError, ValueError):
        return None


def open_file_limit() -> tuple[int, int] | None:
    """This process's soft and hard limit on open files (None where there is none)."""
    return _limit("NOFILE")


def set_open_file_limit(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def unlimited(value: int) -> bool:
    return _unlimited(value)


def _unlimited(value: int) -> bool:
    if resource is None:
        return True
    return value == resource.RLIM_INFINITY or value < 0


def _size(count: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}".replace(".0 ", " ")
    return f"{count} bytes"


def disk_full(filename: str | None = None) -> Cause:
    where = f"the disk of {filename}" if filename else "a disk cauce writes to"
    return Cause(f"{where} is full (or its quota is used up)",
                 "free some space on it (df -h shows how much is left), or point the home, "
                 "bucket or database at another disk; then run it again")


def file_size() -> Cause:
    limit = _limit("FSIZE")
    if limit is not None and not _unlimited(limit[0]):
        return Cause(f"a file outgrew the largest this process may write ({_size(limit[0])}: "
                     "ulimit -f)",
                     "raise it (ulimit -f unlimited) in the shell that starts cauce, then run "
                     "it again")
    return Cause("a file outgrew the largest its file system takes",
                 "put the home, bucket or database on another file system")


def open_files() -> Cause:
    limit = _limit("NOFILE")
    if limit is None:
        return Cause("this process has too many files open",
                     "raise the limit on open files, or run fewer --threads")
    soft, hard = limit
    said = f"this process has too many files open: it may have {soft} (ulimit -n)"
    if _unlimited(hard) or hard > soft:
        wanted = 4096 if _unlimited(hard) else min(hard, max(4096, 2 * soft))
        return Cause(said, f"raise it, e.g. `ulimit -n {wanted}` in the shell that starts "
                     "cauce (LimitNOFILE= for a systemd service), or run fewer --threads")
    return Cause(said, f"raise it: its hard limit is {hard} too, which only root raises "
                 f"(`ulimit -n {max(4096, 2 * soft)}` as root, nofile in "
                 "/etc/security/limits.conf, LimitNOFILE= for a systemd service), or run "
                 "fewer --threads")


def out_of_descriptors() -> bool:
    """Whether this process has (nearly) as many files open as it may: what a SQLite "unable
    to open database file" means when the file and its folder are fine."""
    try:
        os.close(os.open(os.devnull, os.O_RDONLY))
    except OSError as err:
        return err.errno in (errno.EMFILE, errno.ENFILE)
    limit = _limit("NOFILE")
    if limit is None or _unlimited(limit[0]):
        return False
    try:
        count = len(os.listdir("/proc/self/fd"))
    except OSError:
        return False
    return count >= limit[0] - 4  # the files other threads let go since the failure


def memory() -> Cause:
    limit = _limit("AS")
    if limit is not None and not _unlimited(limit[0]):
        return Cause(f"this process ran out of memory: it may use {_size(limit[0])} of address "
                     "space (ulimit -v)",
                     "raise it (ulimit -v unlimited), or do less at once (a smaller chunk, "
                     "scale or batch where the job has one); then run it again")
    return Cause("this process ran out of memory",
                 "free memory on the machine, or do less at once (a smaller chunk, scale or "
                 "batch where the job has one); then run it again")


def threads(what: str = "thread") -> Cause:
    """No thread (or, with ``what="process"``, no process: fork's EAGAIN) to be had, with the
    limits in force that count them."""
    limits = []
    processes = _limit("NPROC")
    tasks = _pids_max()
    if tasks is not None:
        limits.append(f"its control group's pids.max is {tasks}")
    space = _limit("AS")
    if space is not None and not _unlimited(space[0]):
        limits.append(f"ulimit -v is {_size(space[0])} of address space, from which each "
                      "thread's stack is taken")
    if processes is not None and not _unlimited(processes[0]) \
            and (processes[0] < 16384 or not limits):
        # a system's default (tens of thousands) is named only when nothing else is lower
        limits.append(f"ulimit -u is {processes[0]} processes and threads for this user")
    said = "; ".join(limits) or "a container's or service's limit on tasks (TasksMax=)"
    return Cause(f"no {what} can be started", f"this process is at a limit ({said}): raise it, "
                 "or run fewer --threads and --processes; then run it again")


def _pids_max() -> int | None:
    """The task limit of this process's control group (cgroup v2, or v1's pids controller),
    None when it has none or it cannot be read."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as lines:
            groups = [line.rstrip("\n").split(":", 2) for line in lines]
    except OSError:
        return None
    for entry in groups:
        if len(entry) != 3:
            continue
        _, controllers, path = entry
        if "pids" in controllers.split(","):
            folder = f"/sys/fs/cgroup/pids{path}"
        elif controllers == "":
            folder = f"/sys/fs/cgroup{path}"
        else:
            continue
        try:
            with open(f"{folder.rstrip('/')}/pids.max", encoding="utf-8") as value:
                text = value.read().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


# glibc's malloc gives each thread that allocates an arena of its own, up to 8 per core, each
# reserving 64 MB of address space: under `ulimit -v` the reservations of Polars', DuckDB's and
# cauce's threads ran out of it before the data did (a census load aborted at 1.2 GB, which two
# arenas load within).
ARENAS_UNDER_AN_ADDRESS_LIMIT = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter


def fewer_arenas_under_an_address_limit() -> bool:
    """Under an address-space limit (``ulimit -v``), have glibc's malloc keep to two arenas, in
    this process (mallopt) and in the processes it starts (MALLOC_ARENA_MAX, read by each at its
    start); a MALLOC_ARENA_MAX set by the user is left alone. Whether the limit was set."""
    limit = _limit("AS")
    if limit is None or _unlimited(limit[0]) or "MALLOC_ARENA_MAX" in os.environ:
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(ARENAS_UNDER_AN_ADDRESS_LIMIT)
    # not glibc (musl, macOS): no mallopt, or none like it
    with contextlib.suppress(OSError, AttributeError):
        import ctypes  # only here: costly to import, and needed only under such a limit

        ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS_UNDER_AN_ADDRESS_LIMIT)
    return True
