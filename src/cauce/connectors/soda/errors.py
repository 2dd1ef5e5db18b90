"""Errors of the SODA client, under cauce's root error.

```
CauceError
└── SodaError                 a SODA request failed
    ├── DatasetGone           404: the portal has no such dataset (any more)
    ├── DatasetForbidden      403: withdrawn or restricted; not retried
    ├── SodaRequestError      400/401/...: the request itself is wrong; not retried
    ├── SodaUnavailable       429/5xx/timeouts that outlasted every retry (transient)
    └── DatasetChanged        the columns changed between two pages of one download
```
"""

from __future__ import annotations

from cauce.errors import CauceError


class SodaError(CauceError):
    """A SODA request failed."""

    def __init__(
        self,
        message: str,
        *,
        dataset: str | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.dataset = dataset
        self.status = status


class DatasetGone(SodaError):
    """The portal has no such dataset (HTTP 404)."""

    hint = "check the id on the portal; it may have been deleted or renamed"


class DatasetForbidden(SodaError):
    """The portal refuses this dataset (HTTP 403): withdrawn or restricted."""

    hint = "Socrata answers 403 for withdrawn datasets (e.g. xvdy-vvsk); it is not retried"


class SodaRequestError(SodaError):
    """The portal rejected the request itself (HTTP 400, 401...)."""


class SodaUnavailable(SodaError):
    """The portal kept failing (throttled, 5xx or unreachable) after every retry."""

    hint = "it is retried later; set SODA_APP_TOKEN to avoid throttling"


class DatasetChanged(SodaError):
    """The dataset's columns changed between two pages of one download."""
