"""The flat zip of a day's outputs, and the deflated copies that make it without recompression.

The engine writes each text output through a `DeflatingFile`: the text goes to its file and, in
a thread, through ISA-L's deflate into a sidecar with its CRC and sizes. `pack_day` then lays
those deflate streams into the zip as they are. Members without a sidecar (the closed
executable's outputs) are deflated in parallel threads; members that are compressed already
(`.gz`, `.zip`, `.parquet`, images) are stored, not compressed again. ZIP64 records are written
when a member or the archive passes 4 GiB.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import struct
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from isal import isal_zlib

#: folders the original leaves out of the day's zip
SKIPPED_FOLDERS = ("kmls", "reportes", "debug")
#: members stored as they are: compressing them again gains nothing
COMPRESSED_SUFFIXES = (".gz", ".zip", ".parquet", ".bz2", ".xz", ".zst", ".7z", ".kmz", ".png",
                       ".jpg", ".jpeg")
#: ISA-L deflate level (0-3): level 1 compresses like zlib's 1 and runs about twice as fast
LEVEL = 1
_CHUNK = 16 * 1024 * 1024
_ZIP32_LIMIT = 0xFFFFFFFF
_STORED, _DEFLATED = 0, 8


def deflated_dir(folder: Path) -> Path:
    """Where the deflated copies of `folder`'s outputs are kept: beside it, not in it."""
    return folder.parent / f"{folder.name}.deflated"


@dataclass(frozen=True)
class Member:
    """One zip member: its data file (deflated or stored bytes) and what the headers need."""

    name: str
    data: Path
    method: int
    crc: int
    size: int
    compressed: int
    time: int
    date: int


class DeflatingFile:
    """A file opened for writing whose bytes are also deflated, in a thread, into `folder`.

    Closing it waits for the deflate stream and writes its CRC and sizes next to it, with the
    text file's size and modification time, so `pack_day` can tell the copy is current."""

    def __init__(self, path: Path, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path, self._sidecar = path, folder / f"{path.name}.deflate"
        self._file = path.open("wb")
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._error: BaseException | None = None
        self._crc = self._size = self._compressed = 0
        self._thread = threading.Thread(target=self._deflate, name=f"deflate {path.name}",
                                        daemon=True)
        self._thread.start()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        self._file.write(chunk)
        if self._error is None:
            self._queue.put(chunk)
        return len(chunk)

    def flush(self) -> None:
        self._file.flush()

    def _deflate(self) -> None:
        compressor = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -15)
        try:
            with self._sidecar.open("wb") as out:
                while (chunk := self._queue.get()) is not None:
                    self._crc = isal_zlib.crc32(chunk, self._crc)
                    self._size += len(chunk)
                    packed = compressor.compress(chunk)
                    self._compressed += len(packed)
                    out.write(packed)
                packed = compressor.flush()
                self._compressed += len(packed)
                out.write(packed)
        except BaseException as error:  # kept for close(), which raises it in the writer
            self._error = error
            while self._queue.get() is not None:
                pass

    def close(self) -> None:
        self._file.close()
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        stat = self.path.stat()
        meta = {"crc": self._crc, "size": self._size, "compressed": self._compressed,
                "mtime_ns": stat.st_mtime_ns}
        self._sidecar.with_suffix(".json").write_text(json.dumps(meta))

    def __enter__(self) -> DeflatingFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def pack_day(folder: Path, zip_path: Path) -> list[str]:
    """Zip every file under `folder` flat (basename only), skipping kmls/, reportes/, debug/."""
    chosen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part in SKIPPED_FOLDERS for part in relative.parts[:-1]):
            chosen.setdefault(path.name, path)
    ready = deflated_dir(folder)
    workers = max(1, min(len(chosen), os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(dir=zip_path.parent) as scratch, \
            ThreadPoolExecutor(workers) as pool:
        members = list(pool.map(lambda item: _member(item[0], item[1], ready, Path(scratch)),
                                chosen.items()))
        write_zip(members, zip_path)
    return list(chosen)


def _member(name: str, source: Path, ready: Path, scratch: Path) -> Member:
    stat = source.stat()
    dos_time, dos_date = _dos_stamp(stat.st_mtime)
    sidecar = ready / f"{source.name}.deflate"
    meta_path = sidecar.with_suffix(".json")
    if meta_path.is_file() and sidecar.is_file():
        meta = json.loads(meta_path.read_text())
        if meta["size"] == stat.st_size and meta["mtime_ns"] == stat.st_mtime_ns:
            return Member(name, sidecar, _DEFLATED, meta["crc"], meta["size"], meta["compressed"],
                          dos_time, dos_date)
    if source.suffix.lower() in COMPRESSED_SUFFIXES:
        crc = 0
        with source.open("rb") as reader:
            while chunk := reader.read(_CHUNK):
                crc = isal_zlib.crc32(chunk, crc)
        return Member(name, source, _STORED, crc, stat.st_size, stat.st_size, dos_time, dos_date)
    target = scratch / f"{name}.deflate"
    compressor = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, -15)
    crc = size = compressed = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(_CHUNK):
            crc = isal_zlib.crc32(chunk, crc)
            size += len(chunk)
            packed = compressor.compress(chunk)
            compressed += len(packed)
            writer.write(packed)
        packed = compressor.flush()
        compressed += len(packed)
        writer.write(packed)
    return Member(name, target, _DEFLATED, crc, size, compressed, dos_time, dos_date)


def _dos_stamp(mtime: float) -> tuple[int, int]:
    stamp = time.localtime(mtime)
    dos_time = (stamp.tm_hour << 11) | (stamp.tm_min << 5) | (stamp.tm_sec // 2)
    dos_date = ((max(stamp.tm_year, 1980) - 1980) << 9) | (stamp.tm_mon << 5) | stamp.tm_mday
    return dos_time, dos_date


def write_zip(members: list[Member], zip_path: Path, *, zip64_from: int = _ZIP32_LIMIT) -> None:
    """Lay `members` into a standard zip (ZIP64 records for sizes or offsets >= `zip64_from`)."""
    central = bytearray()
    with zip_path.open("wb") as out:
        for member in members:
            name = member.name.encode("utf-8")
            offset = out.tell()
            big = max(member.size, member.compressed) >= zip64_from
            local_extra = struct.pack("<HHQQ", 1, 16, member.size, member.compressed) if big \
                else b""
            sizes = (_ZIP32_LIMIT, _ZIP32_LIMIT) if big else (member.compressed, member.size)
            version = 45 if big else 20
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, version, 0x800, member.method,
                                  member.time, member.date, member.crc, *sizes, len(name),
                                  len(local_extra)) + name + local_extra)
            with member.data.open("rb") as data:
                shutil.copyfileobj(data, out, _CHUNK)
            far = offset >= zip64_from
            extra = b""
            if big or far:
                fields = ((member.size, member.compressed) if big else ()) + (
                    (offset,) if far else ())
                extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields)
                version = 45
            central += struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, version, version, 0x800, member.method,
                member.time, member.date, member.crc, *sizes, len(name), len(extra), 0, 0, 0,
                0o644 << 16, _ZIP32_LIMIT if far else offset) + name + extra
        start = out.tell()
        out.write(central)
        count = len(members)
        if start >= zip64_from or len(central) >= zip64_from or count >= 0xFFFF:
            end64 = out.tell()
            out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count,
                                  len(central), start))
            out.write(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
            out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _ZIP32_LIMIT,
                                  _ZIP32_LIMIT, 0))
        else:
            out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central),
                                  start, 0))
