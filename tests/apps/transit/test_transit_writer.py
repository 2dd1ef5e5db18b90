"""The output layouts against the real files, and the fast writer against plain formatting.

The writer formats typed columns in native code (Polars' CSV writer, DuckDB's printf); here the
same frames are formatted value by value in Python by the layout's rules. Any change in how a
number, a date-time or a missing value is printed fails the byte comparison.
"""

import math
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from transit_helpers import prepare_from_folder

from cauce.apps.transit.engine import run as engine_run
from cauce.apps.transit.engine.run import run_engine
from cauce.apps.transit.layouts import (
    DATETIME,
    DATETIME_FORMAT,
    DECIMALS,
    INT,
    LAYOUTS,
    SIGNIFICANT,
    Layout,
    matches,
)
from cauce.apps.transit.outputs import G_ZERO, read_output, write_output
from cauce.apps.transit.params import default_par_text, parse_par
from cauce.apps.transit.synth.day import generate_day

OUTPUTS = (Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "transit"
           / "adatrap-outputs")
needs_samples = pytest.mark.skipif(not OUTPUTS.is_dir(),
                                   reason="shared/data is not beside the repo")
DAY = date(2021, 4, 22)
SAMPLES = [("2021-07-26.etapas", "etapas"), ("2020-03-01.viajes", "viajes"),
           ("2021-06-30.profile", "profile"), ("2020-03-20.profile", "profile"),
           ("2020-11-30-with-evasion-2.profile", "profile"),
           ("2017-05-08.odbyroute", "odbyroute"), ("2016-05-23.expedition", "expediciones"),
           ("2021-06-30.speed", "speed"), ("2021-06-30.bip", "bip"),
           ("2018-10-01.general", "general")]
#: values in the real samples that no rule could produce (placeholders of the original)
JUNK = {("etapas", "tiempoIniExpedicion"): "2010-01-00 -", ("viajes", "dviaje_buses"): "-d-"}


def odd_values(table: pl.DataFrame, layout: Layout,
               placeholders: dict[str, str]) -> dict[str, list[str]]:
    """Per column of ``table``, the values not written in its form (other than the column's
    placeholder, if given); each distinct value is looked at once, as `matches` depends on the
    value alone."""
    found = {}
    for column in table.columns:
        form, junk = layout.form(column), placeholders.get(column)
        odd = [v for v in table[column].unique(maintain_order=True).to_list()
               if not matches(form, v) and v != junk]
        if odd:
            found[f"{column} ({form})"] = odd[:3]
    return found


@needs_samples
@pytest.mark.parametrize(("sample", "kind"), SAMPLES)
def test_every_value_of_the_real_samples_has_its_columns_form(sample, kind):
    real = read_output(OUTPUTS / sample)
    layout = LAYOUTS[kind]
    assert real.columns == layout.header[:real.width]
    junk = {column: value for (of, column), value in JUNK.items() if of == kind}
    assert odd_values(real, layout, junk) == {}, sample


def test_forms_accept_what_c_prints_and_nothing_else():
    assert matches("f4", "1.0000") and not matches("f4", "1.0") and not matches("f4", "1")
    assert matches("g10", "0.4166666667") and matches("g10", "34") and matches("g10", "34.5")
    assert not matches("g10", "34.50") and not matches("g10", "0.41666666667")
    assert matches("g6", "4.41196") and not matches("g6", "4.411961")
    assert matches("datetime", "2021-04-22 07:05:26") and matches("int", "-")


def _plain(frame: pl.DataFrame, layout: Layout) -> bytes:
    """The file `write_output` must produce, formatted value by value in Python."""
    lines = ["|".join(layout.header)]
    columns = []
    for name, form in layout.columns:
        if name not in frame.columns:
            columns.append(["-"] * frame.height)
            continue
        series = frame[name]
        if series.dtype.is_numeric() and form in DECIMALS:
            series = series.cast(pl.Float64).round(DECIMALS[form])
        columns.append([_text(value, form) for value in series.to_list()])
    for row in zip(*columns, strict=True):
        lines.append("|".join(row) + ("|" if layout.trailing else ""))
    return ("\n".join(lines) + "\n").encode()


def _text(value: object, form: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and form in DECIMALS:
        text = f"{value:.{DECIMALS[form]}f}"
        return text.lstrip("-") if float(text) == 0 else text
    if isinstance(value, float) and form in SIGNIFICANT:
        return format(0.0 if abs(value) < G_ZERO else value, f".{SIGNIFICANT[form]}g")
    if isinstance(value, float) and form == INT:
        return str(round(value))
    if isinstance(value, datetime) and form == DATETIME:
        return value.strftime(DATETIME_FORMAT)
    return str(value)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A tiny day through the engine, keeping every frame handed to the writer."""
    inputs = tmp_path_factory.mktemp("inputs")
    generate_day("tiny", DAY, 4, parse_par(default_par_text()), inputs)
    prepared = prepare_from_folder(inputs, DAY, tmp_path_factory.mktemp("run"))
    frames: dict[str, pl.DataFrame] = {}

    def keep(frame, kind, path, **options):
        parts = [frame] if isinstance(frame, pl.DataFrame | pl.LazyFrame) else list(frame)
        parts = [part.lazy().collect() for part in parts]
        frames[kind] = pl.concat(parts, how="diagonal_relaxed")
        return write_output(parts, kind, path, **options)

    original = engine_run.write_output
    engine_run.write_output = keep
    try:
        result = run_engine(prepared.par, prepared.workdir, DAY)
    finally:
        engine_run.write_output = original
    return frames, result.outputs


@pytest.mark.parametrize("kind", list(LAYOUTS))
def test_the_writer_prints_exactly_as_plain_formatting(written, kind):
    frames, outputs = written
    expected = _plain(frames[kind], LAYOUTS[kind])
    actual = outputs[kind].read_bytes()
    if actual != expected:
        for number, (ours, plain) in enumerate(zip(actual.splitlines(), expected.splitlines(),
                                                   strict=False)):
            assert ours == plain, f"line {number}"
    assert actual == expected


@pytest.mark.parametrize("kind", list(LAYOUTS))
def test_every_value_written_has_its_columns_form(written, kind):
    _, outputs = written
    table = read_output(outputs[kind])
    layout = LAYOUTS[kind]
    assert table.columns == layout.header and table.height > 0
    assert odd_values(table, layout, {}) == {}


def test_general_is_one_line_of_the_references_shape(written):
    _, outputs = written
    header, row = outputs["general"].read_text().splitlines()
    assert len(header.split("|")) == 97 and not header.endswith("|")
    assert len(row.split("|")) == 98 and row.endswith("|")
