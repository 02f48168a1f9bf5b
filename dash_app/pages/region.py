"""Regional risk map (``/region/<adcode>``, 区域风险地图): a jurisdiction's sub-regions coloured by
risk with its enterprises as points; click a sub-region to drill down, an enterprise to open it.

``/region`` sends a regulator to its own jurisdiction; an adcode outside it is "not found".
"""

from __future__ import annotations

from typing import Any

import dash
import psycopg
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.figures.region import click_target, region_map
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.queries import enterprises, home_adcode, map_regions, visible_region
from twins.scope import Scope

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path="/region", path_template="/region/<adcode>", name="region"
)

GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "scrollZoom": True, "responsive": True}


def layout(adcode: str | None = None, **_: Any) -> html.Div:
    """The page for ``adcode`` as the logged-in caller may see it (Chinese until switched)."""
    return html.Div(
        [
            dcc.Location(id=ids.REGION_NAV, refresh="callback-nav"),
            dcc.Store(id=ids.REGION_ADCODE, data=adcode),
            html.Div(region_content(request_scope(), adcode, DEFAULT_LANG), id=ids.REGION_CONTENT),
        ]
    )


def not_found(lang: str) -> html.Div:
    """What a caller sees for an adcode that does not exist or lies outside its jurisdiction."""
    return html.Div(
        [html.H2(t("region.not_found", lang)), html.P(t("region.not_found_detail", lang))],
        id=ids.REGION_NOT_FOUND,
        className="not-found",
    )


def region_content(scope: Scope | None, adcode: str | None, lang: str) -> Any:
    """The map of ``adcode`` within ``scope``; a login link, a redirect or "not found" otherwise."""
    if scope is None:
        return login_prompt(lang, f"/region/{adcode}" if adcode else "/region")
    if adcode is None:
        home = home_adcode(scope)
        if home is None:
            return not_found(lang)
        return dcc.Location(id=ids.REGION_REDIRECT, href=f"/region/{home}", refresh=True)
    place = visible_region(scope, adcode)
    if place is None:
        return not_found(lang)
    with psycopg.connect(database_url()) as conn:
        found = enterprises(conn, scope, adcode)
    regions = map_regions(adcode)
    links: list[Any] = [dcc.Link(t("region.overview", lang), href=f"/overview?adcode={adcode}")]
    if place.parent is not None and visible_region(scope, place.parent) is not None:
        links.insert(0, dcc.Link(t("region.up", lang), href=f"/region/{place.parent}"))
    return html.Div(
        [
            html.H2(f"{place.name} · {t('region.map', lang)}"),
            html.P(f"{len(found)} {t('region.enterprises', lang)}"),
            html.Nav(links, className="region-links"),
            dcc.Graph(
                id=ids.REGION_MAP,
                figure=region_map(regions, found, lang),
                config=GRAPH_CONFIG,
                style={"height": "70vh"},
            ),
        ]
    )


@callback(
    Output(ids.REGION_CONTENT, "children"),
    Input(ids.LANG_STORE, "data"),
    State(ids.REGION_ADCODE, "data"),
)
def render(lang: str, adcode: str | None) -> Any:
    """Render the page again in the chosen language (the layout is already Chinese)."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    return region_content(request_scope(), adcode, lang)


@callback(
    Output(ids.REGION_NAV, "href"),
    Input(ids.REGION_MAP, "clickData"),
    State(ids.REGION_MAP, "figure"),
    prevent_initial_call=True,
)
def open_clicked(click_data: dict[str, Any] | None, figure: dict[str, Any] | None) -> str:
    """Drill down to the clicked sub-region, or open the clicked enterprise."""
    target = click_target(click_data, figure)
    if target is None:
        raise PreventUpdate
    return target
