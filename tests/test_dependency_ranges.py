"""The S3 test stack's ranges in pyproject.toml are chosen together (s3fs pins fsspec, aiobotocore
pins botocore, moto takes any boto3), so that pip resolves `.[dev]` without backtracking."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def _ranges() -> dict[str, Requirement]:
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    found = [Requirement(text) for text in extras["s3"] + extras["dev"]]
    return {r.name: r for r in found}


def test_each_package_of_the_s3_stack_has_an_upper_bound() -> None:
    ranges = _ranges()
    for name in ("s3fs", "aiobotocore", "boto3", "moto"):
        assert any(spec.operator in ("<", "<=", "==", "~=") for spec in ranges[name].specifier), (
            f"{name} needs an upper bound"
        )


def test_the_ranges_agree_with_what_the_packages_require() -> None:
    try:
        aiobotocore = requires("aiobotocore") or []
        boto3 = requires("boto3") or []
        installed = {name: version(name) for name in ("s3fs", "aiobotocore", "boto3")}
    except PackageNotFoundError as missing:
        pytest.skip(f"{missing} is not installed")
    ranges = _ranges()
    for name, got in installed.items():
        assert got in ranges[name].specifier, f"{name} {got} is outside {ranges[name]}"
    [aio_botocore] = [Requirement(r) for r in aiobotocore if r.startswith("botocore")]
    [boto3_botocore] = [
        Requirement(r)
        for r in boto3
        if Requirement(r).name == "botocore" and not Requirement(r).marker
    ]
    # the boto3 range sits inside the botocore range aiobotocore accepts
    for spec in ranges["boto3"].specifier:
        if spec.operator == ">=":
            assert spec.version in aio_botocore.specifier
    assert version("botocore") in aio_botocore.specifier
    assert version("botocore") in boto3_botocore.specifier
