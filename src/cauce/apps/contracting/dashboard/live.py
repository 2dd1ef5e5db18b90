"""The contracting dashboard in `cauce ui`: the latest execution in the warehouse, read again
each time the page is shown (the same sections the static panel is written from)."""

from __future__ import annotations

import html

from cauce import CauceError, Runtime
from cauce.reports import Section

from ..app import app
from ..jobs_out import results


@app.dashboard
def dashboard(rt: Runtime) -> list[Section]:
    from .page import panel_sections, read_panel  # Altair, Jinja: loaded when the page is shown

    try:
        panel = read_panel(results, as_published=rt.settings["as_published"])
    except CauceError as err:
        hint = f" ({err.hint})" if err.hint else ""
        return [
            Section(
                "Sin resultados todavía", html=f"<p>{html.escape(str(err))}{html.escape(hint)}.</p>"
            )
        ]
    return panel_sections(panel)
