"""Test helpers: a folder of generated inputs standing in for the five input buckets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cauce.apps.transit.params import default_par_text
from cauce.apps.transit.pipeline import prepare_day
from cauce.apps.transit.resolve import INPUT_KINDS


class Folder:
    """What `prepare_day` reads from a bucket (name, list, get), served from a folder."""

    def __init__(self, path: Path) -> None:
        self.path, self.name = path, path.name

    def list(self, prefix: str = ""):
        return [type("Ref", (), {"key": p.name}) for p in self.path.iterdir()]

    def get(self, key: str) -> bytes:
        return (self.path / key).read_bytes()


def prepare_from_folder(inputs: Path, day: date, workdir: Path):
    """Resolve and unpack a day whose five inputs all lie in one folder."""
    store = Folder(inputs)
    return prepare_day({kind: store for kind in INPUT_KINDS}, day, workdir, default_par_text())
