"""Errors of the transit domain: one line naming the file or input, plus a hint.

All are `CauceError`s, so the command line shows the message and its hint the usual way."""

from __future__ import annotations

from cauce import CauceError


class TransitError(CauceError):
    """A transit input or parameter problem that stops a day's run."""


class ParFileError(TransitError):
    """The parameter file does not follow the expected layout."""


class MissingInputs(TransitError):
    """One or more of a day's inputs are not in their buckets."""


class InputFileError(TransitError):
    """An input file exists but cannot be read at all."""
