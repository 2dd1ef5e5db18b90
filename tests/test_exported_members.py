"""`cauce.__all__` is the public API: sorted, and exactly the names `cauce/__init__.py` imports."""

from __future__ import annotations

import ast
from pathlib import Path

import cauce


def _imported_names() -> set[str]:
    tree = ast.parse(Path(cauce.__file__).read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names
    }


def test_all_is_sorted() -> None:
    assert cauce.__all__ == sorted(cauce.__all__)


def test_all_lists_exactly_what_the_package_imports() -> None:
    assert set(cauce.__all__) == _imported_names()
    assert len(cauce.__all__) == len(set(cauce.__all__))


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in cauce.__all__:
        value = getattr(cauce, name)
        assert value.__doc__, f"cauce.{name} has no docstring"
