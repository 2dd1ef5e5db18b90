"""The Description parser: the schema comes from the file, exactly as written.

The structural tests run on both the original (skipped when ../shared/data/census is absent)
and the synthetic Description that `demo-data` writes; both must give the same schema.
"""

from __future__ import annotations

import pytest

from cauce.apps.census.description import (
    DESCRIPTION_FILE,
    DescriptionError,
    parse_description,
    read_description,
)
from cauce.apps.census.synth import MODEL, description_text
from cauce.textfiles import TextDecodeError

ORIGINAL_NAMES = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "class",
]

MINIMAL = """\
2. Number of Attributes
   1 continuous, 1 nominal attributes.

3. Attribute type:

age   : continuous.
sex   : Female, Male.
label : yes, no

9. Class Distribution:

 Probability for the label 'yes'  : 30.00% / 31.50% (without unknowns)
 Probability for the label 'no' : 70.00% / 68.50% (without unknowns)
"""


@pytest.fixture(params=["real", "synthetic"])
def either(request):
    """The original Description, then the synthetic one: the same tests hold for both."""
    return request.getfixturevalue("real_description" if request.param == "real" else
                                   "description")


def test_columns_come_in_file_order_with_their_hyphens(either):
    assert either.names == ORIGINAL_NAMES
    assert either.title == "adult"


def test_continuous_and_nominal_kinds(either):
    description = either
    assert [c.name for c in description.continuous] == [
        "age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week",
    ]
    counts = {c.name: len(c.values) for c in description.columns if c.kind == "nominal"}
    assert counts == {
        "workclass": 8, "education": 16, "marital-status": 7, "occupation": 14,
        "relationship": 6, "race": 5, "sex": 2, "native-country": 41, "class": 2,
    }


def test_indented_continuation_lines_belong_to_the_attribute_above(either):
    description = either
    occupation = next(c for c in description.columns if c.name == "occupation")
    country = next(c for c in description.columns if c.name == "native-country")
    assert occupation.values[0] == "Tech-support"
    assert occupation.values[-1] == "Armed-Forces"
    assert "Outlying-US(Guam-USVI-etc)" in country.values
    assert country.values[-1] == "Holand-Netherlands"  # its trailing '.' is not part of it


def test_class_column_and_distribution(either):
    description = either
    assert description.class_column == "class"
    high = description.share(">50K")
    low = description.share("<=50K")
    assert (high.all_rows, high.without_unknowns) == (23.93, 24.78)
    assert (low.all_rows, low.without_unknowns) == (76.07, 75.22)
    with pytest.raises(DescriptionError, match="no class distribution for 'maybe'"):
        description.share("maybe")


def test_soft_hyphens_read_as_hyphens(real_description):
    marital = next(c for c in real_description.columns if c.name == "marital-status")
    assert "Married-civ-spouse corresponds to a civilian spouse" in marital.description
    assert "\u00ad" not in marital.description
    soft = MINIMAL.replace("Female, Male", "Fe\u00admale, Male")
    assert parse_description(soft).columns[1].values == ("Fe-male", "Male")


def test_the_synthetic_description_gives_the_original_schema(real_description, description):
    def schema(parsed):
        columns = [(c.name, c.kind, c.values) for c in parsed.columns]
        return columns, parsed.class_column, parsed.class_distribution

    assert schema(description) == schema(real_description)


def test_the_synthetic_description_is_the_model_written_out(small_synthetic, description):
    text = small_synthetic[0].path.with_name(DESCRIPTION_FILE).read_text(encoding="utf-8")
    assert text == description_text(MODEL)
    assert description == MODEL
    # the original's layout: long lists continue on indented lines, the class line has no '.'
    assert "\n      Handlers-cleaners, " in text
    assert "\nclass         : >50K, <=50K\n" in text
    assert " Probability for the label '>50K'  : 23.93% / 24.78% (without unknowns)" in text


def test_a_minimal_description():
    parsed = parse_description(MINIMAL)
    assert parsed.names == ["age", "sex", "label"]
    assert parsed.class_column == "label"
    assert parsed.share("yes").without_unknowns == 31.5


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("3. Attribute type:", "3. Types:"), "no 'attribute type' section"),
        (lambda t: t.replace("9. Class Distribution:", "9. Classes:"), "no 'class distribution'"),
        (lambda t: t.replace("1 continuous", "2 continuous"), "declares 2 continuous"),
        (lambda t: t.replace("Female, Male", "Female, , Male"), "'sex' has an empty value"),
        (lambda t: t.replace("Female, Male", "Male, Male"), "'sex' lists a value twice"),
        # the table's CREATE failed: "duplicate column name: age", with a hint about SQL
        (lambda t: t.replace("sex   :", "age   :"), "lists the attribute 'age' twice"),
        (lambda t: t.replace("sex   :", "AGE   :"), "lists the attribute 'age' twice"),
        (lambda t: t.replace("yes, no", "yes, no, maybe"), "exactly the class labels"),
        (lambda t: t.replace("label 'no'", "label no"), "exactly the class labels"),
        (lambda t: t.replace("Probability for the label", "P"), "gives no label probabilities"),
    ],
)
def test_malformed_descriptions_fail_with_a_reason(edit, message):
    with pytest.raises(DescriptionError, match=message) as raised:
        parse_description(edit(MINIMAL))
    assert raised.value.hint


def test_a_file_that_is_not_a_description_names_its_origin():
    with pytest.raises(DescriptionError, match=r"no 'attribute type' section \(in Adult\.data\)"):
        read_description(b"39, State-gov, 77516\n", "Adult.data")
    with pytest.raises(TextDecodeError, match=r"'D' is not utf-8 text: byte 0xff on line 1"):
        read_description(MINIMAL[:3].encode() + b"\xff", "D", "utf-8")


def test_a_description_saved_as_cp1252_with_crlf_reads_as_the_utf8_one():
    text = MINIMAL.replace("Female, Male", "Female, Male, Não-informado")
    windows = text.replace("\n", "\r\n").encode("cp1252")
    parsed = read_description(windows, "D")
    assert parsed == parse_description(text)
    assert parsed.columns[1].values == ("Female", "Male", "Não-informado")
