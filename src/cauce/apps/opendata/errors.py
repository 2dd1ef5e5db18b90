"""Errors of the opendata app, under cauce's root error.

```
CauceError
├── OpendataError
│   └── InventoryError        the asset inventory lacks a field the harvest needs
└── SodaError                 a SODA request failed (cauce.connectors.soda.errors)
```
"""

from __future__ import annotations

from cauce import CauceError


class OpendataError(CauceError):
    """The opendata app could not do what was asked."""


class InventoryError(OpendataError):
    """The asset inventory lacks a field the harvest needs."""
