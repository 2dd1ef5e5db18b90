"""Write synthetic Adult-like files with the quirks of the real ones, so the app runs offline.

`MODEL` below is the generator's column model: the names, kinds and listed values of the
attributes, in file order, and the class shares, as the original Description publishes them.
It drives the generator and is written out as a `Description` file next to `Adult.data` and
`Adult.test`, in the original's format, so a synthetic folder reads like the original's `data/`
folder: the app takes its schema from that file, as it does from the real one.

The data files reproduce every quirk the loader must handle: `, ` separators, ` ?` for unknown
workclass, occupation and native-country, a `|1x3 Cross validator` comment line opening the test
file, test labels ending in `.`, letters injected into numeric fields (A, B, C, ... as in the
real files), exact duplicate lines, and a blank last line. The class shares follow the model's
class distribution, on all rows and on the rows without unknowns. Everything is drawn with NumPy
and assembled with Polars; a seed makes the files reproducible.
"""

from __future__ import annotations

import string
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from cauce.apps.census.description import (
    DESCRIPTION_FILE,
    ClassShare,
    Column,
    Description,
)
from cauce.apps.census.reader import COMMENT_PREFIX
from cauce.apps.census.sources import DATA_ROWS, TEST_ROWS

TEST_COMMENT = f"{COMMENT_PREFIX}1x3 Cross validator"
MISSING_SHARE = {"workclass": 0.056, "occupation": 0.0005, "native-country": 0.018}
LINE_WIDTH = 100  # longer value lists go on indented lines, as in the original
#: The final weights of the real files lie in this range (end excluded); a file of more
#: records than it holds takes distinct weights from a longer range that starts the same.
FNLWGT_RANGE = (12_285, 1_484_706)
#: the income score: weight and centre of each continuous column it reads
SCORE_WEIGHTS = {"age": (0.05, 40), "education-num": (0.35, 10), "hours-per-week": (0.04, 40)}
#: capital gains above this raise the score by CAPITAL_GAIN_SCORE
CAPITAL_GAIN_CUT, CAPITAL_GAIN_SCORE = 5_000, 2.5
SCORED = (*SCORE_WEIGHTS, "capital-gain")


def _continuous_column(name: str, note: str) -> Column:
    return Column(name, "continuous", description=note)


def _nominal_column(name: str, values: str, note: str) -> Column:
    return Column(name, "nominal", tuple(values.split(", ")), note)


MODEL = Description(
    title="adult",
    columns=(
        _continuous_column("age", "Age in years"),
        _nominal_column(
            "workclass",
            "Private, Self-emp-not-inc, Self-emp-inc, Federal-gov, Local-gov, State-gov, "
            "Without-pay, Never-worked",
            "Employer or employment status",
        ),
        _continuous_column(
            "fnlwgt", "Final weight: how many people the census believes the record stands for"
        ),
        _nominal_column(
            "education",
            "Bachelors, Some-college, 11th, HS-grad, Prof-school, Assoc-acdm, Assoc-voc, 9th, "
            "7th-8th, 12th, Masters, 1st-4th, 10th, Doctorate, 5th-6th, Preschool",
            "Highest level of education reached",
        ),
        _continuous_column("education-num", "Highest level of education reached, as a number"),
        _nominal_column(
            "marital-status",
            "Married-civ-spouse, Divorced, Never-married, Separated, Widowed, "
            "Married-spouse-absent, Married-AF-spouse",
            "Marital status; Married-AF-spouse is a spouse in the Armed Forces",
        ),
        _nominal_column(
            "occupation",
            "Tech-support, Craft-repair, Other-service, Sales, Exec-managerial, Prof-specialty, "
            "Handlers-cleaners, Machine-op-inspct, Adm-clerical, Farming-fishing, "
            "Transport-moving, Priv-house-serv, Protective-serv, Armed-Forces",
            "Kind of occupation",
        ),
        _nominal_column(
            "relationship",
            "Wife, Own-child, Husband, Not-in-family, Other-relative, Unmarried",
            "Relation to the rest of the household",
        ),
        _nominal_column(
            "race", "White, Asian-Pac-Islander, Amer-Indian-Eskimo, Other, Black", "Race"
        ),
        _nominal_column("sex", "Female, Male", "Sex"),
        _continuous_column("capital-gain", "Capital gains"),
        _continuous_column("capital-loss", "Capital losses"),
        _continuous_column("hours-per-week", "Hours worked per week, as reported"),
        _nominal_column(
            "native-country",
            "United-States, Cambodia, England, Puerto-Rico, Canada, Germany, "
            "Outlying-US(Guam-USVI-etc), India, Japan, Greece, South, China, Cuba, Iran, "
            "Honduras, Philippines, Italy, Poland, Jamaica, Vietnam, Mexico, Portugal, Ireland, "
            "France, Dominican-Republic, Laos, Ecuador, Taiwan, Haiti, Columbia, Hungary, "
            "Guatemala, Nicaragua, Scotland, Thailand, Yugoslavia, El-Salvador, "
            "Trinadad&Tobago, Peru, Hong, Holand-Netherlands",
            "Country of origin",
        ),
        _nominal_column("class", ">50K, <=50K", "Whether the yearly income is over $50,000"),
    ),
    class_column="class",
    class_distribution=(ClassShare(">50K", 23.93, 24.78), ClassShare("<=50K", 76.07, 75.22)),
)


@dataclass(frozen=True)
class Injection:
    """A letter written into a numeric field: the row must end up in quarantine."""

    file: str
    line: int
    column: str
    letter: str


@dataclass(frozen=True)
class SyntheticFile:
    """One written data file and what it holds, known by construction."""

    path: Path
    rows: int
    duplicates: int
    injections: tuple[Injection, ...] = field(default=())


@dataclass(frozen=True)
class _Draft:
    """A data file's records before their class is drawn, and what will happen to its lines:
    the rows that get a letter, and the rows overwritten by a copy of an earlier one."""

    frame: pl.DataFrame
    unknown: np.ndarray
    injected: list[int]
    targets: list[int]
    copied: list[int]

    @property
    def loaded_copies(self) -> np.ndarray:
        """How many loaded rows each line becomes: none for an injected or overwritten line,
        one more for each later line that copies it."""
        copies = np.ones(self.unknown.size, dtype=np.int64)
        copies[self.injected + self.targets] = 0
        np.add.at(copies, np.asarray(self.copied, dtype=np.int64), 1)
        return copies


def write_synthetic(
    directory: Path,
    *,
    data_rows: int = DATA_ROWS,
    test_rows: int = TEST_ROWS,
    duplicates: tuple[int, int] = (24, 5),
    injections: tuple[int, int] = (4, 1),
    seed: int = 1994,
) -> list[SyntheticFile]:
    """Write `Adult.data`, `Adult.test` and their `Description` into `directory`.

    The class is drawn last, over the rows a load of both files keeps (injected lines out,
    copied lines counted each time), so that the loaded rows meet the Description's class
    distribution. Returns what each data file contains; the Description is
    `directory / "Description"`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DESCRIPTION_FILE).write_text(description_text(MODEL), encoding="utf-8")
    rng = np.random.default_rng(seed)
    letters = iter(string.ascii_uppercase * 1000)
    specs = [
        ("Adult.data", data_rows, duplicates[0], injections[0], None, ""),
        ("Adult.test", test_rows, duplicates[1], injections[1], TEST_COMMENT, "."),
    ]
    drafts = [_draft(rng, rows, dup_count, inject_count)
              for _, rows, dup_count, inject_count, _, _ in specs]
    labels = np.split(
        _labels(rng, MODEL, *_joined(drafts)), np.cumsum([d.unknown.size for d in drafts])[:-1]
    )
    written = []
    for (name, rows, _, _, comment, label_suffix), draft, label in zip(
        specs, drafts, labels, strict=True
    ):
        frame = draft.frame.with_columns(pl.Series(MODEL.class_column, label) + label_suffix)
        frame = frame.select(MODEL.names)
        lines = frame.select(
            pl.concat_str([pl.col(c).cast(pl.String) for c in frame.columns], separator=", ")
        ).to_series()
        offset = 2 if comment else 1  # physical line number of the first record
        if draft.targets:
            lines = lines.scatter(draft.targets, lines.gather(draft.copied))
        texts = lines.to_list()
        found = []
        numeric = [column.name for column in MODEL.continuous]
        for row in draft.injected:
            column = numeric[int(rng.integers(len(numeric)))]
            letter = next(letters)
            texts[row] = _replace_field(texts[row], MODEL.names.index(column), letter)
            found.append(Injection(name, row + offset, column, letter))
        header = [comment] if comment else []
        path = directory / name
        # every line ends in a newline, then one blank line ends the file, as in the real ones
        path.write_text("".join(f"{line}\n" for line in [*header, *texts]) + "\n",
                        encoding="utf-8")
        written.append(SyntheticFile(path, rows, len(draft.targets), tuple(found)))
    return written


def _draft(rng: np.random.Generator, rows: int, dup_count: int, inject_count: int) -> _Draft:
    """One file's records without their class, and the lines to inject and to copy."""
    values, unknown = _rows(rng, MODEL, rows)
    injected = sorted(rng.choice(rows, size=min(inject_count, rows), replace=False).tolist())
    targets, copied = _duplicate_plan(rng, rows, dup_count, set(injected))
    return _Draft(pl.DataFrame(values), unknown, injected, targets, copied)


def _joined(drafts: list[_Draft]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The values the income score reads, the unknown flags and the loaded copies of the
    drafts, one file after the other."""
    values = {name: np.concatenate([d.frame[name].to_numpy() for d in drafts]) for name in SCORED}
    return (values, np.concatenate([d.unknown for d in drafts]),
            np.concatenate([d.loaded_copies for d in drafts]))


def description_text(model: Description) -> str:
    """`model` in the original Description's format: the sections its parser reads.

    "2. Number of Attributes" counts the attributes besides the class, "3. Attribute type" lists
    each as `continuous.` or its values (wrapped onto indented lines when long), "3. Attribute
    Description" gives one note each and "9. Class Distribution" the shares of the labels.
    """
    continuous = len(model.continuous)
    nominal = len(model.columns) - continuous - 1
    width = max(len(column.name) for column in model.columns)
    types = [_type_line(column, width, column.name == model.class_column)
             for column in model.columns]
    notes = [f"{column.name:<{width}}: {column.description};"
             for column in model.columns if column.description]
    labels = [f"'{share.label}'" for share in model.class_distribution]
    label_width = max(map(len, labels))
    shares = [
        f" Probability for the label {label:<{label_width}} : {share.all_rows:.2f}% / "
        f"{share.without_unknowns:.2f}% (without unknowns)"
        for label, share in zip(labels, model.class_distribution, strict=True)
    ]
    return "\n".join([
        f"1. Title of Database: {model.title}", "",
        "2. Number of Attributes", f"   {continuous} continuous, {nominal} nominal attributes.", "",
        "3. Attribute type:", "", *types, "",
        "3. Attribute Description:", "", *notes, "",
        "9. Class Distribution:", "", *shares, "",
    ])


def _type_line(column: Column, width: int, is_class: bool) -> str:
    """`name : continuous.` or `name : A, B, C.` (the class line has no final period)."""
    body = "continuous." if column.kind == "continuous" else ", ".join(column.values)
    if column.kind == "nominal" and not is_class:
        body += "."
    return "\n".join(textwrap.wrap(
        body, LINE_WIDTH, initial_indent=f"{column.name:<{width}}: ", subsequent_indent=" " * 6,
        break_long_words=False, break_on_hyphens=False,
    ))


def _rows(
    rng: np.random.Generator, description: Description, rows: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Random attribute values with unknowns (`?`), and which records have an unknown."""
    values: dict[str, np.ndarray] = {}
    for column in description.columns:
        if column.name == description.class_column:
            continue
        if column.kind == "continuous":
            values[column.name] = _continuous(rng, column.name, rows)
        else:
            values[column.name] = _nominal(rng, column, rows)
    unknown = np.zeros(rows, dtype=bool)
    for name, share in MISSING_SHARE.items():
        if name in values:
            missing = rng.random(rows) < share
            if name == "occupation" and "workclass" in values:
                missing |= values["workclass"] == "?"
            values[name] = np.where(missing, "?", values[name])
            unknown |= missing
    return values, unknown


def _continuous(rng: np.random.Generator, name: str, rows: int) -> np.ndarray:
    """Plausible integers per known column; a unique final weight keeps rows distinct."""
    if name == "age":
        return np.clip(rng.gamma(5.0, 7.8, rows) + 17, 17, 90).astype(np.int64)
    if name == "fnlwgt":
        low, high = FNLWGT_RANGE
        return rng.choice(np.arange(low, max(high, low + rows)), size=rows, replace=False)
    if name == "education-num":
        return rng.integers(1, 17, rows)
    if name == "capital-gain":
        gains = rng.lognormal(8.5, 1.0, rows).astype(np.int64).clip(114, 99_999)
        return np.where(rng.random(rows) < 0.083, gains, 0)
    if name == "capital-loss":
        losses = rng.normal(1_870, 360, rows).astype(np.int64).clip(155, 4_356)
        return np.where(rng.random(rows) < 0.047, losses, 0)
    if name == "hours-per-week":
        hours = np.rint(rng.normal(40.4, 12.3, rows)).astype(np.int64).clip(1, 99)
        return np.where(rng.random(rows) < 0.46, 40, hours)
    return rng.integers(0, 100, rows)


def _nominal(rng: np.random.Generator, column: Column, rows: int) -> np.ndarray:
    """Listed values with falling weights: the model lists the commonest first."""
    weights = 1.0 / np.arange(1, len(column.values) + 1) ** 1.6
    return rng.choice(np.array(column.values), size=rows, p=weights / weights.sum())


def _labels(
    rng: np.random.Generator,
    description: Description,
    values: dict[str, np.ndarray],
    unknown: np.ndarray,
    loaded_copies: np.ndarray,
) -> np.ndarray:
    """The first label for the highest income scores, in the model's class shares.

    The shares are counted over the rows a load keeps (`loaded_copies` of each line) and met
    separately on rows with and without unknowns, so both figures of the class distribution
    (all rows, without unknowns) hold for what the report measures.
    """
    high, low = (share.label for share in description.class_distribution[:2])
    target = description.share(high)
    score = rng.gumbel(0, 1.0, len(unknown))
    for name, (weight, centre) in SCORE_WEIGHTS.items():
        score += weight * (values[name].astype(float) - centre)
    score += CAPITAL_GAIN_SCORE * (values["capital-gain"] > CAPITAL_GAIN_CUT)
    known_rows = int(loaded_copies[~unknown].sum())
    unknown_rows = int(loaded_copies[unknown].sum())
    wanted_high = round(target.all_rows / 100 * (known_rows + unknown_rows))
    known_high = round(target.without_unknowns / 100 * known_rows)
    unknown_high = min(max(wanted_high - known_high, 0), unknown_rows)
    labels = np.full(len(unknown), low, dtype=object)
    for rows, count in ((~unknown, known_high), (unknown, unknown_high)):
        index = np.flatnonzero(rows)
        ranked = index[np.argsort(-score[index], kind="stable")]
        labels[_top_loading(ranked, loaded_copies, count)] = high
    return labels.astype(str)


def _top_loading(ranked: np.ndarray, loaded_copies: np.ndarray, count: int) -> np.ndarray:
    """The best-ranked lines that become exactly `count` loaded rows: a line copied twice is
    passed over for single ones when it would overshoot."""
    loaded = np.cumsum(loaded_copies[ranked])
    taken = int(np.searchsorted(loaded, count, side="right"))
    left = count - (int(loaded[taken - 1]) if taken else 0)
    rest = ranked[taken:]
    return np.concatenate([ranked[:taken], rest[loaded_copies[rest] == 1][:left]])


def _duplicate_plan(
    rng: np.random.Generator, rows: int, count: int, avoid: set[int]
) -> tuple[list[int], list[int]]:
    """Rows to overwrite with a copy of an earlier row: (targets, the rows they copy).

    Copied rows are neither injected rows (a copy would be a second quarantined row) nor
    targets themselves (overwritten, their copy would match no line of the file).
    """
    free = np.setdiff1d(np.arange(1, rows), np.fromiter(avoid, dtype=np.int64))
    chosen = rng.choice(free, size=min(count, free.size), replace=False) if free.size else free
    targets = np.sort(chosen)
    plain = np.setdiff1d(np.arange(rows), np.concatenate([targets, list(avoid)]))
    pairs = []
    for target in targets.tolist():
        before = int(np.searchsorted(plain, target))
        if before:
            pairs.append((target, int(plain[rng.integers(before)])))
    return [target for target, _ in pairs], [source for _, source in pairs]


def _replace_field(line: str, index: int, letter: str) -> str:
    fields = line.split(", ")
    fields[index] = letter
    return ", ".join(fields)
