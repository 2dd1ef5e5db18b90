"""A local SODA-compatible portal: datasets, an asset inventory, and injected faults.

```python
from cauce.connectors.soda.portal import Portal, PortalState

with Portal(PortalState.of(datasets)) as portal:
    SodaClient(portal.url).download_csv(...)
```
"""

from cauce.connectors.soda.portal.datasets import (
    FLOATING_TIMESTAMP,
    ColumnSpec,
    Dataset,
    Generator,
    asset_id,
    csv_bytes,
    email_for,
    iso,
    wire_frame,
)
from cauce.connectors.soda.portal.server import Portal
from cauce.connectors.soda.portal.state import (
    INVENTORY_COLUMNS,
    INVENTORY_ID,
    Fault,
    PortalState,
    RequestRecord,
)

__all__ = [
    "FLOATING_TIMESTAMP",
    "INVENTORY_COLUMNS",
    "INVENTORY_ID",
    "ColumnSpec",
    "Dataset",
    "Fault",
    "Generator",
    "Portal",
    "PortalState",
    "RequestRecord",
    "asset_id",
    "csv_bytes",
    "email_for",
    "iso",
    "wire_frame",
]
