"""The Description parser: the schema comes from the file, exactly as written."""

from __future__ import annotations

from importlib import resources

import pytest

from cauce.apps.census.description import (
    DescriptionError,
    parse_description,
    read_description,
)

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


def test_columns_come_in_file_order_with_their_hyphens(description):
    assert description.names == ORIGINAL_NAMES
    assert description.title == "adult"


def test_continuous_and_nominal_kinds(description):
    assert [c.name for c in description.continuous] == [
        "age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week",
    ]
    counts = {c.name: len(c.values) for c in description.columns if c.kind == "nominal"}
    assert counts == {
        "workclass": 8, "education": 16, "marital-status": 7, "occupation": 14,
        "relationship": 6, "race": 5, "sex": 2, "native-country": 41, "class": 2,
    }


def test_indented_continuation_lines_belong_to_the_attribute_above(description):
    occupation = next(c for c in description.columns if c.name == "occupation")
    country = next(c for c in description.columns if c.name == "native-country")
    assert occupation.values[0] == "Tech-support"
    assert occupation.values[-1] == "Armed-Forces"
    assert "Outlying-US(Guam-USVI-etc)" in country.values
    assert country.values[-1] == "Holand-Netherlands"  # its trailing '.' is not part of it


def test_class_column_and_distribution(description):
    assert description.class_column == "class"
    high = description.share(">50K")
    low = description.share("<=50K")
    assert (high.all_rows, high.without_unknowns) == (23.93, 24.78)
    assert (low.all_rows, low.without_unknowns) == (76.07, 75.22)
    with pytest.raises(DescriptionError, match="no class distribution for 'maybe'"):
        description.share("maybe")


def test_soft_hyphens_read_as_hyphens(description):
    marital = next(c for c in description.columns if c.name == "marital-status")
    assert "Married-civ-spouse corresponds to a civilian spouse" in marital.description
    assert "\u00ad" not in marital.description
    soft = MINIMAL.replace("Female, Male", "Fe\u00admale, Male")
    assert parse_description(soft).columns[1].values == ("Fe-male", "Male")


def test_the_shipped_copy_is_the_original_file(real_dir):
    shipped = resources.files("cauce.apps.census").joinpath("Description").read_bytes()
    assert shipped == (real_dir / "Description").read_bytes()
    assert read_description(real_dir / "Description") == read_description()


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
        (lambda t: t.replace("yes, no", "yes, no, maybe"), "exactly the class labels"),
        (lambda t: t.replace("label 'no'", "label no"), "exactly the class labels"),
        (lambda t: t.replace("Probability for the label", "P"), "gives no label probabilities"),
    ],
)
def test_malformed_descriptions_fail_with_a_reason(edit, message):
    with pytest.raises(DescriptionError, match=message) as raised:
        parse_description(edit(MINIMAL))
    assert raised.value.hint


def test_an_unreadable_file_says_which(tmp_path):
    with pytest.raises(DescriptionError, match="cannot read the Description file") as raised:
        read_description(tmp_path / "missing")
    assert "--description" in raised.value.hint
