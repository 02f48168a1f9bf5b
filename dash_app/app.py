"""Build the Dash application from settings (``dusttwin serve dash``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dash_app import ids
from dash_app.auth import register_login_routes, request_scope
from dash_app.components.nav import nav_bar
from dash_app.i18n import DEFAULT_LANG, other, t
from dash_app.server import SETTINGS_KEY
from dusttwin.settings import Settings

_HERE = Path(__file__).parent


def create_app(settings: Settings) -> dash.Dash:
    """The Dash app with every page registered; the UI starts in Chinese."""
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(_HERE / "pages"),
        assets_folder=str(_HERE / "assets"),
        title=t("app.title", DEFAULT_LANG),
        serve_locally=True,  # offline networks: no script or style from a CDN
        suppress_callback_exceptions=True,
    )
    app.server.config[SETTINGS_KEY] = settings
    register_login_routes(app.server)  # POST /login, GET /logout: the API's token as a cookie
    app.layout = html.Div(
        [
            dcc.Store(id=ids.LANG_STORE, storage_type="local", data=DEFAULT_LANG),
            html.Header(
                [
                    html.H1(id=ids.APP_TITLE, children=t("app.title", DEFAULT_LANG)),
                    html.Nav(id=ids.NAV, className="nav"),
                    html.Button(
                        id=ids.LANG_SWITCH, n_clicks=0, children=t("app.switch", DEFAULT_LANG)
                    ),
                ],
                className="topbar",
            ),
            dash.page_container,
        ]
    )
    return app


@callback(
    Output(ids.LANG_STORE, "data"),
    Input(ids.LANG_SWITCH, "n_clicks"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def switch_language(_clicks: int, lang: str) -> str:
    """Toggle between Chinese and English."""
    return other(lang)


@callback(
    Output(ids.APP_TITLE, "children"),
    Output(ids.LANG_SWITCH, "children"),
    Input(ids.LANG_STORE, "data"),
)
def render_chrome(lang: str) -> tuple[str, str]:
    """The title and the switch's label in the chosen language."""
    return t("app.title", lang), t("app.switch", lang)


@callback(
    Output(ids.NAV, "children"),
    Input(ids.LANG_STORE, "data"),
    Input("_pages_location", "pathname"),
)
def render_nav(lang: str, pathname: str | None) -> list[Any]:
    """The caller's pages, username and "log out" in the top bar."""
    return nav_bar(request_scope(), lang, pathname)
