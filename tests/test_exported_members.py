"""`cauce.__all__` is the public API: sorted, exactly the names `cauce/__init__.py` imports for
type checkers, and each resolved on first access from the module it is imported from."""

from __future__ import annotations

import ast
from pathlib import Path

import cauce


def _imported_names() -> dict[str, str]:
    """Name -> module of the relative imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(Path(cauce.__file__).read_text(encoding="utf-8"))
    (block,) = (
        node for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    return {
        alias.asname or alias.name: f"cauce.{node.module}"
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names
    }


def test_all_is_sorted() -> None:
    assert cauce.__all__ == sorted(cauce.__all__)


def test_all_lists_exactly_what_the_package_imports() -> None:
    assert set(cauce.__all__) == set(_imported_names())
    assert len(cauce.__all__) == len(set(cauce.__all__))


def test_each_name_resolves_from_the_module_type_checkers_see() -> None:
    assert _imported_names() == cauce._DEFINED_IN
    assert set(dir(cauce)) >= set(cauce.__all__)


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in cauce.__all__:
        value = getattr(cauce, name)
        assert value.__doc__, f"cauce.{name} has no docstring"
