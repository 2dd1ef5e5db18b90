"""One day's run as the original worker does it, over any object store with get/list.

1. choose each input (resolve.py) and fail before any work if one is missing;
2. download into `tmp/` and decompress (`tmp/2021-04-22.gps`, the PO under `tmp/YYYY-MM-DD/`);
3. render the parameter file as `{date}.par` in the working folder;
4. (not in a dry run) run the engine — the closed executable or the open one;
5. zip the output folder flat, without kmls/, reportes/, debug/.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from .errors import InputFileError, TransitError
from .params import ParFile, parse_par, render_par
from .po import gunzip_to, unpack_po
from .resolve import GPS, PO, RUNS, SERVICE_DETAIL, TRANSACTIONS, ResolvedInputs, resolve_inputs
from .zipping import pack_day

log = logging.getLogger(__name__)

#: seconds the original gives the executable (1 h 15 min)
EXECUTABLE_TIMEOUT_S = 4500
#: the inputs in the order they are unpacked, two at a time: the largest first
UNPACK_ORDER = (GPS, TRANSACTIONS, RUNS, PO, SERVICE_DETAIL)


class ObjectStore(Protocol):
    name: str

    def list(self, prefix: str = "") -> list: ...

    def get(self, key: str) -> bytes: ...


@dataclass
class PreparedDay:
    day: date
    workdir: Path
    inputs: ResolvedInputs
    par_path: Path
    par: ParFile


def resolve_day(stores: dict[str, ObjectStore], day: date) -> ResolvedInputs:
    """Choose the day's object in each input store (kind -> store)."""
    listings = {kind: (store.name, [ref.key for ref in store.list()])
                for kind, store in stores.items()}
    return resolve_inputs(listings, day)


def prepare_day(stores: dict[str, ObjectStore], day: date, workdir: Path, par_text: str,
                say: Callable[[str], None] = log.info) -> PreparedDay:
    """Steps 1-3: resolve, download and unpack into `workdir/tmp`, render `{date}.par`."""
    inputs = resolve_day(stores, day)
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)

    def fetch(kind: str) -> str:
        """Download and unpack one input; its path as the parameter file names it."""
        key = inputs.keys[kind]
        store = stores[kind]
        say(f"found {key} in bucket '{store.name}'; downloading")
        local = tmp / key
        try:
            data = store.get(key)
        except OSError as error:  # a folder bucket's file the run may not read (chmod 000)
            raise InputFileError(f"{key} (bucket '{store.name}'): cannot be read "
                                 f"({error.strerror or error})",
                                 hint="check the file's permissions in the bucket") from error
        local.write_bytes(data)
        if kind == PO:
            unpacked = tmp / unpack_po(local, tmp, inputs.po_date.isoformat()).name
        else:
            # the original cuts the name after its second dot: 2021-04-22.gps.gz -> .gps
            unpacked = tmp / ".".join(key.split(".")[:2])
            gunzip_to(local, unpacked, label=f"{key} (bucket '{store.name}')")
        local.unlink()
        return f"tmp/{unpacked.name}"

    # two at a time, the biggest first: inflating the GPS file and the transactions side by
    # side (ISA-L releases the GIL) halves the unpacking on two cores
    with ThreadPoolExecutor(2, thread_name_prefix="unpack") as pool:
        paths = dict(zip(UNPACK_ORDER, pool.map(fetch, UNPACK_ORDER), strict=True))
    rendered = render_par(par_text, po_path=paths[PO], po_date=f"{inputs.po_date:%Y%m%d}",
                          date=day.isoformat(), service_detail_file=paths[SERVICE_DETAIL])
    par_path = workdir / f"{day.isoformat()}.par"
    par_path.write_text(rendered, encoding="latin-1")
    say(f"parameter file {par_path.name} written (PO of {inputs.po_date.isoformat()})")
    return PreparedDay(day, workdir, inputs, par_path, parse_par(rendered, str(par_path)))


def executable_argv(launcher: str, executable: Path, par_path: Path) -> list[str]:
    """`[*launcher, executable, {date}.par]`: the launcher (e.g. `wine`) makes it run on Linux.

    The launcher is split into words as a shell splits them, so a path with spaces is quoted."""
    try:
        words = shlex.split(launcher)
    except ValueError as error:
        raise TransitError(f"the launcher {launcher!r} cannot be split into words: {error}",
                           hint="quote a path with spaces as a shell does, e.g. "
                           "\"'/opt/my wine/bin/wine'\"") from None
    return [*words, str(executable), par_path.name]


def pack_outputs(prepared: PreparedDay) -> Path:
    """Step 5: `{date}.zip` of the output folder, flat."""
    folder = prepared.workdir / prepared.par.path("output_folder")
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        raise InputFileError(f"the engine left no output in {prepared.par.path('output_folder')}",
                             hint="see the run log for the engine's own messages")
    zip_path = prepared.workdir / f"{prepared.day.isoformat()}.zip"
    names = pack_day(folder, zip_path)
    log.info("zipped %d output files into %s", len(names), zip_path.name)
    return zip_path
