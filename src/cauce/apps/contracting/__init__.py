"""The contracting app: SECOP and registry exports into a raw zone, red-flag indicators on it.

Data in: `synth` writes synthetic bulk exports of the eleven sources into bucket ``staging``
(``origen/<file>``), `download` fetches them from a Socrata portal, and `etl` turns each into
Parquet in bucket ``raw`` (``<table>/fecha_corte_datos=<date>/``) with a quarantine of what
could not be read. Streaming: `produce` puts contract records on stream ``contracts`` and the
``alert`` handler computes eight alerts per record into the warehouse and topic ``alerts``.
See README.md next to this file.
"""

from cauce.apps.contracting import (
    jobs_in,  # noqa: F401  (declares the data-in jobs)
    jobs_out,  # noqa: F401  (declares the data-out jobs)
    jobs_stream,  # noqa: F401  (declares the stream, its producer and its alerts)
)
from cauce.apps.contracting.app import app
from cauce.apps.contracting.dashboard import live  # noqa: F401  (declares @app.dashboard)

__all__ = ["app"]
