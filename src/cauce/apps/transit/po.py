"""The operation programme archive `YYYY-MM-DD.po.zip`: pack and unpack it as the original does.

Inside: one top folder `YYYY-MM-DD/`; files directly in it and one level of subfolders are gzipped
(`Paraderos/ConsolidadoParadas_POYYYYMMDD.csv.gz`). Unpacking extracts the archive and gunzips every
`.gz` there next to itself, so the parameter file's `{po_path}` = `tmp/YYYY-MM-DD` works.
"""

from __future__ import annotations

import errno
import gzip
import io
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

from isal import igzip

from cauce.textfiles import decode

from .errors import InputFileError

#: text encoding of the PO files written here (the real ConsolidadoParadas sample is UTF-8)
PO_ENCODING = "utf-8"
#: the first two bytes of every gzip stream
GZIP_MAGIC = b"\x1f\x8b"
#: the start of the resource-fork files macOS puts beside each file (`._X.csv.gz`): no gzip
APPLE_DOUBLE = "._"
#: the earliest time a zip member can carry: written where a clock would break same-seed bytes
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def po_member(day: date, folder: str, stem: str, ext: str = "csv") -> str:
    """Path of a PO file inside the archive, e.g. `2021-04-22/Paraderos/X_PO20210422.csv.gz`."""
    name = f"{stem}_PO{day:%Y%m%d}.{ext}.gz"
    return f"{day.isoformat()}/{folder + '/' if folder else ''}{name}"


def write_po_zip(files: dict[str, str], path: Path) -> None:
    """Write `files` (archive path -> text) gzipped into a zip at `path`.

    No clock goes into the bytes (member times are the zip epoch, gzip times 0), so the same
    files always make the same archive."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for member, text in files.items():
            info = zipfile.ZipInfo(member, date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, gzip.compress(text.encode(PO_ENCODING), compresslevel=6,
                                                 mtime=0))


def unpack_po(zip_path: Path, dest: Path, day_text: str) -> Path:
    """Extract the archive into `dest`, gunzip its members; return the `YYYY-MM-DD` folder."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = _with_forward_slashes(archive.infolist())
            names = [member.filename for member in members]
            if not any(n.startswith(f"{day_text}/") for n in names):
                raise InputFileError(
                    f"{zip_path.name}: has no top folder '{day_text}/' (it holds "
                    f"{_top_level(names)})",
                    hint="the po.zip must hold a folder named like its date")
            _check_names(zip_path.name, names, dest)
            archive.extractall(dest, members=members)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        _raise_if_machine(error)
        raise InputFileError(f"{zip_path.name}: not a readable zip archive ({error})",
                             hint="upload the file again; it may be truncated") from None
    folder = dest / day_text
    files = [p for p in folder.iterdir() if p.is_file()]
    files += [p for sub in folder.iterdir() if sub.is_dir() for p in sub.iterdir()
              if p.is_file()]
    for member in files:
        if member.suffix != ".gz" or member.name.startswith(APPLE_DOUBLE):
            continue
        plain = member.with_suffix("")
        try:
            with gzip.open(member) as source:
                plain.write_bytes(source.read())
        except (OSError, EOFError) as error:
            _raise_if_machine(error)
            raise InputFileError(f"{zip_path.name}: member {member.relative_to(dest)} is not "
                                 f"a readable gzip file ({error})",
                                 hint="gzip that file again and zip the PO folder anew") from None
    return folder


def _check_names(zip_name: str, names: list[str], dest: Path) -> None:
    """Every member stays inside `dest`, and no file is listed twice (extracting would keep
    the last one silently, whichever of the two the supplier meant) or is a folder too (its
    extraction failed as if the archive were truncated)."""
    for name in names:
        if not (dest / name).resolve().is_relative_to(dest.resolve()):
            raise InputFileError(f"{zip_name}: member {name!r} escapes the folder",
                                 hint="zip the PO folder anew, with paths relative to it")
    counts = Counter(name for name in names if not name.endswith("/"))
    twice = sorted(name for name, count in counts.items() if count > 1)
    if twice:
        shown = ", ".join(repr(name) for name in twice[:3]) + (", ..." if len(twice) > 3 else "")
        raise InputFileError(f"{zip_name}: lists {shown} more than once",
                             hint="zip the PO folder anew, each file once")
    folders = {name[:at] for name in names for at, char in enumerate(name) if char == "/"}
    both = sorted(counts.keys() & folders)
    if both:
        raise InputFileError(f"{zip_name}: uses {both[0]!r} both as a file and as a folder",
                             hint="zip the PO folder anew")


def _top_level(names: list[str]) -> str:
    """The first names at the top of an archive, to show what it holds instead."""
    top = sorted({name.split("/")[0] + ("/" if "/" in name else "") for name in names})
    if not top:
        return "nothing"
    shown = ", ".join(repr(name) for name in top[:5])
    return shown + ", ..." if len(top) > 5 else shown


def _with_forward_slashes(members: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """`members` with `/` between folders, as zips made on Windows (PowerShell 5's
    `Compress-Archive`, old .NET) separate them with `\\`, a character of the name on Linux."""
    for member in members:
        member.filename = member.filename.replace("\\", "/")
    return members


def gunzip_to(source: Path, target: Path, *, label: str) -> None:
    """Decompress one input (`2021-04-22.gps.gz` -> `2021-04-22.gps`), naming it on failure.

    ISA-L's inflate (`isal.igzip`) reads the big daily inputs about twice as fast as zlib."""
    _check_gzip(source, label)
    try:
        with igzip.open(source) as stream, target.open("wb") as out:
            while chunk := stream.read(16 * 1024 * 1024):
                out.write(chunk)
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        target.unlink(missing_ok=True)
        _raise_if_machine(error)
        raise InputFileError(f"{label}: not a readable gzip file ({error})",
                             hint="upload the file again; it may be truncated") from None
    if _starts_with(target, GZIP_MAGIC):
        raise InputFileError(f"{label}: is compressed twice (gzip inside gzip)",
                             hint="decompress it once (`gunzip`) and upload the result")


# what the work folder's disk or this process's limits say while an input is unpacked into it:
# no fault of the input, which a hint to upload it again would blame
_MACHINE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EMFILE, errno.ENFILE,
                      errno.ENOMEM})


def _raise_if_machine(error: BaseException) -> None:
    if isinstance(error, OSError) and error.errno in _MACHINE:
        raise error


def _check_gzip(source: Path, label: str) -> None:
    """An empty object (a failed upload) or an uncompressed one named `.gz` fails saying so,
    rather than passing for a day without rows or for a truncated archive."""
    if source.stat().st_size == 0:
        raise InputFileError(f"{label}: is empty (0 bytes), not a gzip file",
                             hint="upload the file again; the upload may have failed")
    if not _starts_with(source, GZIP_MAGIC):
        with source.open("rb") as stream:
            start = stream.read(16)
        raise InputFileError(f"{label}: is not gzip-compressed (it starts with {start!r})",
                             hint="compress it with gzip and upload it under the same name")


def _starts_with(path: Path, prefix: bytes) -> bool:
    with path.open("rb") as stream:
        return stream.read(len(prefix)) == prefix


def read_text(path: Path) -> str:
    """A PO text file in the encoding it was saved in: UTF-8 (with or without a byte-order
    mark), UTF-16 with a mark, or a Windows single-byte encoding (as older files are)."""
    return decode(path.read_bytes(), name=path.name)


def csv_bytes(path: Path) -> bytes:
    """A PO file re-encoded as UTF-8 bytes for the CSV reader."""
    return io.BytesIO(read_text(path).encode("utf-8")).getvalue()
