"""Errors of the contracting app, under cauce's root error.

```
CauceError
└── ContractingError
    ├── SourceMissing      a source's export is not in the staging bucket (or its raw partition
    │   │                  is not committed)
    │   └── PartitionDamaged  a committed raw partition lists a part that is gone or not Parquet
    ├── HeaderMismatch     an export's header lacks columns the ETL needs, or has unknown ones
    ├── SourceUnreadable   an export cannot be read at all (not CSV, empty, wrong encoding)
    ├── SettingInvalid     a setting or option has a value the app cannot use
    └── PartitionBusy      another ETL run holds the lease of the same table and date
```
"""

from __future__ import annotations

from cauce import CauceError


class ContractingError(CauceError):
    """The contracting app could not do what was asked."""


class SourceMissing(ContractingError):
    """A source's data is not where it was looked for."""


class PartitionDamaged(SourceMissing):
    """A committed raw partition lists a part that is gone or is not Parquet."""


class HeaderMismatch(ContractingError):
    """An export's header does not have the columns the original's ETL reads."""


class SourceUnreadable(ContractingError):
    """An export cannot be read as CSV."""


class SettingInvalid(ContractingError):
    """A setting or option has a value the app cannot use."""


class PartitionBusy(ContractingError):
    """Another run is loading the same raw partition."""
