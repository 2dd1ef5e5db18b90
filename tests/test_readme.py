"""The README's app in one file and its test run as written, quickly."""

from __future__ import annotations

import re
import sys
import textwrap
import types
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_example_app_and_its_test(tmp_path: Path, monkeypatch) -> None:
    app_source, test_source = _python_blocks()[:2]
    assert "rt.advance(" in test_source
    module = types.ModuleType("readme_demo")
    monkeypatch.setitem(sys.modules, "readme_demo", module)
    monkeypatch.chdir(tmp_path)
    exec(compile(app_source, "README.md (app)", "exec"), module.__dict__)
    exec(compile(textwrap.dedent(test_source), "README.md (test)", "exec"), module.__dict__)
    module.test_chain()
