"""Socrata's SODA API: a client with paging, retries and complete, resumable CSV downloads.

```python
from cauce.connectors.soda import SodaClient

with SodaClient("https://www.datos.gov.co", app_token=token) as soda:
    soda.download_csv("p6dx-8zbt", "procesos.csv")
```

`cauce.connectors.soda.portal` is a local SODA-compatible portal (synthetic datasets, injected
faults) for tests and offline demos.
"""

from cauce.connectors.soda.client import (
    Attempts,
    Backoff,
    DownloadResult,
    PageSize,
    Progress,
    RetryPolicy,
    SodaClient,
    Timeout,
    check_dataset_id,
    marker_for,
)
from cauce.connectors.soda.errors import (
    DatasetChanged,
    DatasetForbidden,
    DatasetGone,
    SodaError,
    SodaRequestError,
    SodaUnavailable,
)

__all__ = [
    "Attempts",
    "Backoff",
    "DatasetChanged",
    "DatasetForbidden",
    "DatasetGone",
    "DownloadResult",
    "PageSize",
    "Progress",
    "RetryPolicy",
    "SodaClient",
    "SodaError",
    "SodaRequestError",
    "SodaUnavailable",
    "Timeout",
    "check_dataset_id",
    "marker_for",
]
