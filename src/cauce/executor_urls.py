"""Executor URLs: where a job's runs execute, named the way state and bucket URLs are.

``local`` (the default) runs them in this process's worker threads, or in a child process for
jobs declared ``worker="process"``; ``dask`` starts a local Dask cluster of processes, one per
core; ``dask://HOST:PORT`` sends them to the Dask scheduler listening there, and
``dask+tls://HOST:PORT`` to one listening with TLS (Dask's own ``tls://``), with the
certificates Dask's configuration names.
"""

from __future__ import annotations

from .errors import ConfigError

LOCAL = "local"
DASK = "dask"
DASK_TLS = "dask+tls"
HINT = ("use local, dask (a local Dask cluster), dask://HOST:PORT (a Dask scheduler) or "
        "dask+tls://HOST:PORT (one with TLS)")


def parse_executor(value: str) -> str:
    """The normalised form of an executor URL (``local``, ``dask``, ``dask://host:port``);
    raises ConfigError naming what is wrong."""
    text = value.strip()
    if text.lower() in (LOCAL, DASK):
        return text.lower()
    scheme, sep, address = text.partition("://")
    scheme = scheme.lower()
    if sep and scheme in (DASK, DASK_TLS):
        host, colon, port = address.rstrip("/").rpartition(":")
        if host and colon and port.isdigit() and 0 < int(port) < 65536:
            return f"{scheme}://{host}:{port}"
        raise ConfigError(f"executor {value!r} names no scheduler address",
                          hint=f"give it as {scheme}://HOST:PORT (a port from 1 to 65535), "
                          f"e.g. {scheme}://scheduler:8786")
    if sep and scheme in ("tcp", "tls"):  # as `dask scheduler` prints its address
        written = DASK if scheme == "tcp" else DASK_TLS
        raise ConfigError(f"unknown executor {value!r}",
                          hint=f"a Dask scheduler's address is given as {written}://{address}")
    raise ConfigError(f"unknown executor {value!r}", hint=HINT)


def scheduler_address(url: str) -> str | None:
    """The Dask scheduler address (``tcp://host:port``, or ``tls://host:port`` for
    ``dask+tls://``) of a normalised URL; None for a local cluster (``dask``)."""
    if url == DASK:
        return None
    if url.startswith(f"{DASK_TLS}://"):
        return "tls://" + url.removeprefix(f"{DASK_TLS}://")
    return "tcp://" + url.removeprefix(f"{DASK}://")
