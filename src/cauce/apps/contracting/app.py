"""The contracting app object, its settings and its buckets (declarations only, no I/O).

Other modules of the app declare their jobs, settings and resources on this ``app``.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Gt

from cauce import App
from cauce.connectors.soda.client import Attempts, Backoff, PageSize, Timeout

app = App(
    "contracting",
    timezone="America/Bogota",
    description="SECOP and registry exports into a raw zone, red-flag indicators, warehouse, "
    "dashboard",
)

# -- settings ------------------------------------------------------------------------------------
portal_url = app.setting(
    "portal",
    str,
    default="https://www.datos.gov.co",
    help="the Socrata portal the sources are downloaded from: a domain or a base URL",
)
paco_url = app.setting(
    "paco",
    str,
    default="https://paco7public7info7prod.blob.core.windows.net/paco-pulic-info",
    help="where the PACO files are published (responsabilidades_fiscales.csv)",
)
app_token = app.setting(
    "soda_app_token",
    str | None,
    default=None,
    secret=True,
    env="SODA_APP_TOKEN",
    help="Socrata app token, sent as X-App-Token (avoids throttling)",
)
page_size = app.setting(
    "page_size", PageSize, default=50_000, help="rows per SODA page ($limit); 50,000 at most"
)
timeout = app.setting("timeout", Timeout, default=60.0, help="seconds before a request times out")
retries = app.setting(
    "retries", Attempts, default=5, help="attempts per request (429, 5xx, timeouts), as opendata"
)
backoff = app.setting(
    "backoff", Backoff, default=1.0, help="seconds before the first retry, doubled for each next"
)
etl_lease = app.setting(
    "etl_lease",
    Annotated[float, Gt(0)],
    default=120.0,
    help="seconds a killed ETL run keeps its source and date locked (renewed while it runs)",
)
etl_memory = app.setting(
    "etl_memory", str, default="4GB", help="DuckDB's memory limit for one source's ETL"
)

# -- buckets -------------------------------------------------------------------------------------
staging = app.bucket("staging")  # origen/<export file name>, as the original's staging zone
raw = app.bucket("raw")  # <table>/fecha_corte_datos=<date>/..., Parquet
quarantine = app.bucket("quarantine")  # <table>/fecha_corte_datos=<date>/quarantine-<run>.parquet

# -- tables --------------------------------------------------------------------------------------
leases = app.table("etl_leases", key=("table", "day"))  # one ETL at a time per raw partition
