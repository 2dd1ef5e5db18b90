"""Find an app from what the user typed: a bundled app's short name or ``module:attribute``."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CauceError, NotFound, first_line

if TYPE_CHECKING:
    from ..app import App

GROUP = "cauce.apps"


def bundled_apps() -> dict[str, str]:
    """Short name → ``module:attribute`` of every app registered under the ``cauce.apps``
    entry point."""
    from importlib.metadata import entry_points  # reads every installed distribution

    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def _split(target: str) -> tuple[str, str]:
    """``module:attribute`` split at its last colon (a folder may hold one); the attribute is
    ``app`` when none is given."""
    module_name, colon, attribute = target.rpartition(":")
    if colon and attribute.isidentifier():
        return module_name, attribute
    return target.removesuffix(":"), "app"


def _failed_import(what: str, err: Exception, path: Path | None = None) -> CauceError:
    """The app's module (``what``: its file or module name; ``path``: the app's file, when
    given as one) raised ``err`` while imported."""
    if isinstance(err, SyntaxError) and (unreadable := _unreadable_source(err, path)):
        return unreadable
    where = ""
    if isinstance(err, SyntaxError) and err.filename:
        where = f" ({Path(err.filename).name}, line {err.lineno})"
        err_text = err.msg
    else:
        err_text = first_line(str(err))
    return CauceError(f"importing {what} failed: {type(err).__name__}: {err_text}{where}",
                      hint="the error is in the app's code or what it imports; "
                      "run again with --debug for its traceback")


def _unreadable_source(err: SyntaxError, path: Path | None) -> CauceError | None:
    """Python source that Python could not read as text, said as how the file was saved (an
    editor's UTF-16 or cp1252, a NUL byte) rather than as the tokenizer's complaint, which
    names neither the encoding nor, for a NUL, the file or the line."""
    from ..textfiles import TextDecodeError, decode, detect_encoding

    message = err.msg or ""
    if "null bytes" in message and path is not None:
        source = path  # Python names no file for a NUL: the app's own is the one to look at
    elif message.startswith(("(unicode error)", "Non-UTF-8 code")) and err.filename:
        source = Path(err.filename)
    else:
        return None
    try:
        data = source.read_bytes()
    except OSError:
        return None
    encoding = detect_encoding(data)
    resave = "save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)"
    if encoding.startswith("utf-16"):
        return CauceError(f"{source.name} is saved as UTF-16, and Python reads source as UTF-8",
                          hint=resave)
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        return CauceError(f"{source.name} holds a NUL byte on line {line:,}, which Python "
                          "source cannot hold",
                          hint="remove it (was the file cut short, or joined with another?)")
    try:
        decode(data, "utf-8", name=source.name)
    except TextDecodeError as bad:
        return CauceError(f"{bad.message}, and Python reads source as UTF-8",
                          hint=f"{resave}, or declare its encoding on its first line: "
                          f"# -*- coding: {encoding} -*-")
    return None


def _app_file(name: str) -> Path:
    """The app's Python file ``name``, resolved; one line when it is none (missing, a folder,
    a broken or looping link) or cannot be read, before Python's import says it its way (a
    loop of links was an unexpected RuntimeError, an unreadable file an error in the app's
    code)."""
    from ..textfiles import file_problem, user_path

    given = user_path(name)  # a ~ no shell expanded: "~/apps/x.py:app"
    problem = file_problem(given)
    if problem is None and not os.access(given, os.R_OK):
        problem = "cannot be read: Permission denied"
    if problem is not None:
        said = {"does not exist": f"no file {name}",
                "is a folder, not a file": f"{name} is a folder, not a Python file"}
        raise NotFound(said.get(problem, f"{name} {problem}"),
                       hint="give the path of the Python file that declares the app")
    return given.resolve()


def load_app(reference: str) -> tuple[App, str]:
    """The App named by ``reference`` (``census``, ``pkg.module:app``, ``file.py:app``) and its
    reference."""
    from ..app import App, suggest  # with the app: the command line starts without it

    reference = reference.strip()  # pasted with a space around it: no file's name starts so
    bundled = bundled_apps()
    target = bundled.get(reference, reference)
    if ":" not in target and not target.endswith(".py") and "." not in target:
        raise NotFound(f"no app named {reference!r}",
                       hint=suggest(reference, bundled) + " — or give module:attribute")
    module_name, attribute = _split(target)
    # a leading '.' would be a relative import, which needs a package: no module either
    if not module_name or (module_name.startswith(".") and not module_name.endswith(".py")):
        raise NotFound(f"{reference!r} names no module",
                       hint="give module:attribute or path/to/file.py:attribute")
    path = None
    if module_name.endswith(".py"):
        path = _app_file(module_name)
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
        if "." in module_name:  # imported by name, a dot names a package: app.v2 is v2 of app
            raise NotFound(f"{path.name} cannot be imported: Python reads the dot in its name "
                           f"as a package's, {module_name} as {module_name.rsplit('.', 1)[1]} "
                           f"of {module_name.rsplit('.', 1)[0]}",
                           hint=f"rename it, e.g. to {module_name.replace('.', '_')}.py")
    elif str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise NotFound(f"cannot import {module_name!r}",
                           hint=suggest(reference, bundled)
                           + " — or check the module is on the Python path") from None
        raise _failed_import(path.name if path else module_name, err, path) from err
    except CauceError:
        raise  # a declaration refused, with its own message and hint
    except Exception as err:  # the app's own code failed: not a cauce bug
        raise _failed_import(path.name if path else module_name, err, path) from err
    found_at = getattr(module, "__file__", None)
    if path is not None and (found_at is None or Path(found_at).resolve() != path):
        # Another module of that name (the standard library's queue, an installed package) came
        # first.
        taken_by = found_at or "a built-in module"
        raise NotFound(f"{path.name} cannot be imported as {module_name!r}: "
                       f"that name is taken by {taken_by}",
                       hint=f"rename {path.name}, e.g. to {module_name}_app.py")
    app = getattr(module, attribute, None)
    if not isinstance(app, App):
        found = [name for name, value in vars(module).items() if isinstance(value, App)]
        raise NotFound(f"{module_name}:{attribute} is not a cauce App",
                       hint=f"did you mean {module_name}:{found[0]}?" if found
                       else "declare app = App(...)")
    return app, f"{module_name}:{attribute}"
