"""Risk overview (``/overview``, 风险总览): enterprises per level and per sub-region, open and
overdue warnings by tier, for the caller's jurisdiction or ``?adcode=`` within it.
"""

from __future__ import annotations

from typing import Any

import dash
import psycopg
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.figures.region import levels_bar, regions_bar, warnings_bar
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.queries import (
    enterprises,
    home_adcode,
    map_regions,
    visible_region,
    warnings_by_tier,
)
from twins.scope import Scope

dash.register_page(__name__, path="/overview", name="overview")  # type: ignore[no-untyped-call]

GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "responsive": True}


def layout(adcode: str | None = None, **_: Any) -> html.Div:
    """The overview of ``adcode`` (default: the caller's own jurisdiction)."""
    return html.Div(
        [
            dcc.Store(id=ids.OVERVIEW_ADCODE, data=adcode),
            html.Div(
                overview_content(request_scope(), adcode, DEFAULT_LANG), id=ids.OVERVIEW_CONTENT
            ),
        ]
    )


def overview_content(scope: Scope | None, adcode: str | None, lang: str) -> Any:
    """Three charts of the jurisdiction; a login link or "not found" otherwise."""
    if scope is None:
        return login_prompt(lang, f"/overview?adcode={adcode}" if adcode else "/overview")
    code = adcode or home_adcode(scope)
    place = None if code is None else visible_region(scope, code)
    if code is None or place is None:
        return html.Div(
            [html.H2(t("region.not_found", lang)), html.P(t("region.not_found_detail", lang))],
            id=ids.REGION_NOT_FOUND,
            className="not-found",
        )
    with psycopg.connect(database_url()) as conn:
        found = enterprises(conn, scope, code)
        tiers = warnings_by_tier(conn, scope, code)
    return html.Div(
        [
            html.H2(f"{place.name} · {t('overview.heading', lang)}"),
            html.P(f"{len(found)} {t('region.enterprises', lang)}"),
            dcc.Link(t("region.map", lang), href=f"/region/{code}"),
            html.H3(t("overview.levels", lang)),
            dcc.Graph(id=ids.OVERVIEW_LEVELS, figure=levels_bar(found, lang), config=GRAPH_CONFIG),
            html.H3(t("overview.regions", lang)),
            dcc.Graph(
                id=ids.OVERVIEW_REGIONS,
                figure=regions_bar(map_regions(code), found, lang),
                config=GRAPH_CONFIG,
            ),
            html.H3(t("overview.warnings", lang)),
            dcc.Graph(
                id=ids.OVERVIEW_WARNINGS, figure=warnings_bar(tiers, lang), config=GRAPH_CONFIG
            ),
        ]
    )


@callback(
    Output(ids.OVERVIEW_CONTENT, "children"),
    Input(ids.LANG_STORE, "data"),
    State(ids.OVERVIEW_ADCODE, "data"),
)
def render(lang: str, adcode: str | None) -> Any:
    """Render the overview again in the chosen language (the layout is already Chinese)."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    return overview_content(request_scope(), adcode, lang)
