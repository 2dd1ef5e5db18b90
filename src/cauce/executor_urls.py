"""Executor URLs: where a job's runs execute, named the way state and bucket URLs are.

``local`` (the default) runs them in this process's worker threads, or in a child process for
jobs declared ``worker="process"``; ``dask`` starts a local Dask cluster of processes, one per
core; ``dask://HOST:PORT`` sends them to the Dask scheduler listening there.
"""

from __future__ import annotations

from .errors import ConfigError

LOCAL = "local"
DASK = "dask"
HINT = "use local, dask (a local Dask cluster) or dask://HOST:PORT (a Dask scheduler)"


def parse_executor(value: str) -> str:
    """The normalised form of an executor URL (``local``, ``dask``, ``dask://host:port``);
    raises ConfigError naming what is wrong."""
    text = value.strip()
    if text.lower() in (LOCAL, DASK):
        return text.lower()
    scheme, sep, address = text.partition("://")
    if sep and scheme.lower() == DASK:
        host, colon, port = address.rstrip("/").rpartition(":")
        if host and colon and port.isdigit() and 0 < int(port) < 65536:
            return f"{DASK}://{host}:{port}"
        raise ConfigError(f"executor {value!r} names no scheduler address",
                          hint="give it as dask://HOST:PORT (a port from 1 to 65535), e.g. "
                          "dask://scheduler:8786")
    if sep and scheme.lower() == "tcp":  # as `dask scheduler` prints its address
        raise ConfigError(f"unknown executor {value!r}",
                          hint=f"a Dask scheduler's address is given as dask://{address}")
    raise ConfigError(f"unknown executor {value!r}", hint=HINT)


def scheduler_address(url: str) -> str | None:
    """The Dask scheduler address (``tcp://host:port``) of a ``dask://`` URL; None for a local
    cluster (``dask``)."""
    if url == DASK:
        return None
    return "tcp://" + url.removeprefix(f"{DASK}://")
