"""The services' state as a table (home page)."""

from __future__ import annotations

from dash import html

from dash_app.i18n import t
from dusttwin.health import HealthReport

COLUMNS = ("home.service", "home.state", "home.detail", "home.fix")


def status_table(report: HealthReport, lang: str) -> html.Table:
    """A row per service, its state marked ok or down, with how to fix a failing one."""
    header = html.Tr([html.Th(t(k, lang)) for k in COLUMNS])
    rows = [
        html.Tr(
            [
                html.Td(t(f"service.{c.name}", lang)),
                html.Td(
                    t("state.ok" if c.ok else "state.down", lang),
                    className="ok" if c.ok else "down",
                ),
                html.Td(c.detail),
                html.Td(c.fix),
            ],
            id=f"status-{c.name}",
        )
        for c in report.checks
    ]
    return html.Table([html.Thead(header), html.Tbody(rows)], className="status")
