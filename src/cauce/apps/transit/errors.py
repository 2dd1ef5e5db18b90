"""Errors of the transit domain: one line naming the file or input, plus a hint."""

from __future__ import annotations

from cauce import CauceError


class TransitError(CauceError):
    """A transit input or parameter problem that stops a day's run."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = str(self.args[0])
        return f"{text} (hint: {self.hint})" if self.hint else text


class ParFileError(TransitError):
    """The parameter file does not follow the expected layout."""


class MissingInputs(TransitError):
    """One or more of a day's inputs are not in their buckets."""


class InputFileError(TransitError):
    """An input file exists but cannot be read at all."""
