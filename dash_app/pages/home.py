"""Home page (``/``): what the platform is and the state of the services it runs on."""

from __future__ import annotations

import asyncio
from typing import Any

import dash
from dash import Input, Output, callback, html

from dash_app import ids
from dash_app.components.status import status_table
from dash_app.i18n import t
from dash_app.server import app_settings
from dusttwin.health import check_all

dash.register_page(__name__, path="/", name="home")  # type: ignore[no-untyped-call]


def layout(**_: Any) -> html.Div:
    """The page's layout; text is filled in by the language callback."""
    return html.Div(
        [html.H2(id=ids.HOME_HEADING), html.P(id=ids.HOME_INTRO), html.Div(id=ids.HOME_STATUS)]
    )


@callback(
    Output(ids.HOME_HEADING, "children"),
    Output(ids.HOME_INTRO, "children"),
    Output(ids.HOME_STATUS, "children"),
    Input(ids.LANG_STORE, "data"),
)
def render(lang: str) -> tuple[str, str, html.Table]:
    """Fill the page in the chosen language, with a fresh health report."""
    report = asyncio.run(check_all(app_settings()))
    return t("home.heading", lang), t("home.intro", lang), status_table(report, lang)
