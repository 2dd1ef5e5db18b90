"""The opendata app: Socrata (SODA) harvest into a bucket, metadata, history and criteria."""

from __future__ import annotations

from cauce import App

app = App(
    "opendata",
    timezone="America/Bogota",
    description="Socrata portal harvest: datasets into a bucket, profiled, versioned and checked by criteria",
)
