"""Parse the census `Description` file into the schema the table must respect.

The file is the single source of the column names, their order and their types: continuous
attributes become integer columns, nominal attributes become text restricted to the listed
values, and the class column is the one whose values are the labels of the "Class
Distribution" section. Nothing about the schema is written anywhere else in the app: the
loader, the DDL, the validator and the report read it only from a parsed Description file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cauce import CauceError
from cauce.textfiles import decode

SOFT_HYPHEN = "\u00ad"
DESCRIPTION_FILE = "Description"  # its name in the original's data folder, next to Adult.data

_SECTION = re.compile(r"^\d+\.\s+(?P<title>[^:\n]+?)\s*(?::\s*(?P<rest>.*))?$")
_ATTRIBUTE = re.compile(r"^(?P<name>[A-Za-z][\w-]*)\s*:\s*(?P<body>.*)$")
_PROBABILITY = re.compile(
    r"label\s+'(?P<label>[^']+)'\s*:\s*(?P<all>\d+(?:\.\d+)?)%\s*/\s*(?P<known>\d+(?:\.\d+)?)%"
)
_COUNTS = re.compile(r"(?P<continuous>\d+)\s+continuous\s*,\s*(?P<nominal>\d+)\s+nominal")


class DescriptionError(CauceError):
    """The Description file cannot be turned into a schema."""

    hint = "compare it with the original: sections '3. Attribute type' and '9. Class Distribution'"


@dataclass(frozen=True)
class Column:
    """One attribute of the data files, in file order."""

    name: str
    kind: Literal["continuous", "nominal"]
    values: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ClassShare:
    """A label's share of the rows, in percent, as the Description states it."""

    label: str
    all_rows: float
    without_unknowns: float


@dataclass(frozen=True)
class Description:
    """The schema and the expected class distribution of the census files."""

    title: str
    columns: tuple[Column, ...]
    class_column: str
    class_distribution: tuple[ClassShare, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def continuous(self) -> list[Column]:
        return [column for column in self.columns if column.kind == "continuous"]

    def share(self, label: str) -> ClassShare:
        """The Description's figures for one class label."""
        for share in self.class_distribution:
            if share.label == label:
                return share
        raise DescriptionError(f"the Description gives no class distribution for {label!r}")


def parse_description(text: str) -> Description:
    """Build the schema from the text of a Description file.

    Soft hyphens (U+00AD) stand for the hyphens of names such as Married-civ-spouse in the
    original, so they are read as hyphens.
    """
    sections = _sections(text.replace(SOFT_HYPHEN, "-"))
    types = _attributes(_section(sections, "attribute type"))
    if not types:
        raise DescriptionError("the 'Attribute type' section lists no attributes")
    notes = dict(_attributes(sections.get("attribute description", [])))
    distribution = _class_distribution(_section(sections, "class distribution"))
    _check_names_once([name for name, _ in types])
    columns = tuple(_column(name, body, notes.get(name, "")) for name, body in types)
    class_column = _class_column(columns, distribution)
    _check_counts(sections.get("number of attributes", []), columns, class_column)
    title = " ".join(sections.get("title of database", [])).strip()
    return Description(title, columns, class_column, distribution)


def read_description(data: bytes, origin: str, encoding: str | None = None) -> Description:
    """Build the schema from the bytes of the Description file fetched from `origin`.

    The encoding is detected unless given (see cauce.textfiles), so a Description saved by a
    Windows editor (byte-order mark, CRLF, cp1252) reads as the original. Errors name
    `origin`, so a wrong --description (a data file, a web page) is easy to spot.
    """
    name = f"the Description file {origin!r}"
    text = decode(data, encoding, universal_newlines=True, name=name)
    try:
        return parse_description(text)
    except DescriptionError as error:
        raise DescriptionError(f"{error.message} (in {origin})", hint=error.hint) from error


def _sections(text: str) -> dict[str, list[str]]:
    """Lines of each numbered section, keyed by lower-case title ("1. Title: rest" headers)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            title = header["title"].strip().lower()
            # The original numbers two sections "3."; the title, not the number, names them.
            current = sections.setdefault(title, [])
            if header["rest"]:
                current.append(header["rest"])
        elif current is not None:
            current.append(line)
    return sections


def _section(sections: dict[str, list[str]], title: str) -> list[str]:
    if title not in sections:
        raise DescriptionError(f"the Description has no {title!r} section")
    return sections[title]


def _attributes(lines: list[str]) -> list[tuple[str, str]]:
    """`name : body` entries; an indented line continues the previous entry's body."""
    entries: list[tuple[str, str]] = []
    for line in lines:
        if not line.strip():
            continue
        entry = _ATTRIBUTE.match(line)
        if entry and not line[0].isspace():
            entries.append((entry["name"], entry["body"].strip()))
        elif entries:
            name, body = entries[-1]
            entries[-1] = (name, f"{body} {line.strip()}".strip())
        else:
            raise DescriptionError(f"cannot read the attribute line {line.strip()!r}")
    return entries


def _check_names_once(names: list[str]) -> None:
    """Each attribute once: two of one name, or of names differing only in case (which SQL
    takes for one column), would make a table no database creates."""
    seen: dict[str, str] = {}
    for name in names:
        first = seen.get(name.casefold())
        if first is not None:
            also = "" if first == name else f" (also as {name!r})"
            raise DescriptionError(f"the Description lists the attribute {first!r} twice{also}")
        seen[name.casefold()] = name


def _column(name: str, body: str, note: str) -> Column:
    body = body.strip().removesuffix(".").strip()
    if body.lower() == "continuous":
        return Column(name, "continuous", description=note.removesuffix(";").strip())
    values = tuple(value.strip() for value in body.split(","))
    if not body or any(not value for value in values):
        raise DescriptionError(f"attribute {name!r} has an empty value in {body!r}")
    if len(set(values)) != len(values):
        raise DescriptionError(f"attribute {name!r} lists a value twice: {body!r}")
    return Column(name, "nominal", values, note.removesuffix(";").strip())


def _class_distribution(lines: list[str]) -> tuple[ClassShare, ...]:
    shares = tuple(
        ClassShare(match["label"], float(match["all"]), float(match["known"]))
        for match in map(_PROBABILITY.search, lines)
        if match
    )
    if not shares:
        raise DescriptionError("the 'Class Distribution' section gives no label probabilities")
    return shares


def _class_column(columns: tuple[Column, ...], distribution: tuple[ClassShare, ...]) -> str:
    labels = {share.label for share in distribution}
    for column in columns:
        if column.kind == "nominal" and set(column.values) == labels:
            return column.name
    raise DescriptionError(
        f"no nominal attribute has exactly the class labels {sorted(labels)}"
    )


def _check_counts(lines: list[str], columns: tuple[Column, ...], class_column: str) -> None:
    """The declared '6 continuous, 8 nominal' must match the attributes listed."""
    declared = _COUNTS.search(" ".join(lines))
    if declared is None:
        return
    continuous = sum(column.kind == "continuous" for column in columns)
    nominal = sum(column.kind == "nominal" and column.name != class_column for column in columns)
    if (continuous, nominal) != (int(declared["continuous"]), int(declared["nominal"])):
        raise DescriptionError(
            f"the Description declares {declared['continuous']} continuous and "
            f"{declared['nominal']} nominal attributes but lists {continuous} and {nominal}"
        )
