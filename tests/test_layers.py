"""The state contract is the only way to the state: no SQLite outside its implementation (the
warehouses, which are SQL databases by design, aside), and no SQL in the command line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import cauce

PACKAGE = Path(cauce.__file__).parent
# Where SQLite may be spoken: the state's implementation, the warehouses, the WAL helper they share.
ALLOWED = ("backends/sqlite/", "warehouse/", "sqlite_wal.py")


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "/apps/" not in p.as_posix()]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_only_the_sqlite_state_and_the_warehouses_import_sqlite3() -> None:
    offenders = [p.relative_to(PACKAGE).as_posix() for p in _modules()
                 if "sqlite3" in _imports(p)
                 and not p.relative_to(PACKAGE).as_posix().startswith(ALLOWED)]
    assert offenders == []


SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b",
                 re.IGNORECASE)


def test_the_command_line_holds_no_sql() -> None:
    offenders = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL.search(node.value):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_runtime_and_resources_reach_state_only_through_the_contract() -> None:
    offenders = [p.relative_to(PACKAGE).as_posix() for p in _modules()
                 if p.relative_to(PACKAGE).parts[0] in ("runtime", "resources", "cli")
                 and any(name.startswith(("cauce.backends.sqlite", "sqlite3"))
                         for name in _imports(p))]
    relative = [p.relative_to(PACKAGE).as_posix() for p in _modules()
                if p.relative_to(PACKAGE).parts[0] in ("runtime", "resources", "cli")
                and "backends.sqlite" in p.read_text(encoding="utf-8")]
    assert offenders == [] and relative == []
