"""Risk overview (``/overview``, 风险总览): enterprises per level and per sub-region, open and
overdue warnings by tier, for the caller's jurisdiction or ``?adcode=`` within it; then, from the
stored evaluation history, today's level changes (企业风险等级今日变化) and the trend of levels
over 30 days, loaded just after the page (``OVERVIEW_HISTORY``) since they read more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import dash
import psycopg
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.figures.region import (
    level_changes_view,
    level_trend_figure,
    levels_bar,
    regions_bar,
    warnings_bar,
)
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.queries import (
    TREND_DAYS,
    enterprises,
    home_adcode,
    level_changes_today,
    level_trend,
    map_regions,
    visible_region,
    warnings_by_tier,
)
from twins.scope import Scope

dash.register_page(__name__, path="/overview", name="overview")  # type: ignore[no-untyped-call]

GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "responsive": True}
# the history part (level changes today, 30-day trend), filled by ``render_history``
OVERVIEW_HISTORY: Final = "overview-history"
OVERVIEW_CHANGES: Final = "overview-changes"  # its counts: "overview-changes-up" / "-down"
OVERVIEW_TREND: Final = "overview-trend"


def layout(adcode: str | None = None, **_: Any) -> html.Div:
    """The overview of ``adcode`` (default: the caller's own jurisdiction)."""
    return html.Div(
        [
            dcc.Store(id=ids.OVERVIEW_ADCODE, data=adcode),
            html.Div(
                overview_content(request_scope(), adcode, DEFAULT_LANG), id=ids.OVERVIEW_CONTENT
            ),
            dcc.Loading(html.Div(id=OVERVIEW_HISTORY), type="default"),
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


def history_content(
    scope: Scope | None, adcode: str | None, lang: str, now: datetime | None = None
) -> Any:
    """Today's level changes and the 30-day trend of levels; nothing outside the jurisdiction
    (the main part already says "not found" or asks to log in)."""
    code = adcode or home_adcode(scope)
    if scope is None or code is None or visible_region(scope, code) is None:
        return []
    at = now or datetime.now(UTC)
    with psycopg.connect(database_url()) as conn:
        changes = level_changes_today(conn, scope, code, at)
        trend = level_trend(conn, scope, code, at)
    return [
        html.H3(t("ovw.changes", lang)),
        html.Div(
            level_changes_view(changes, lang, id_prefix=OVERVIEW_CHANGES), id=OVERVIEW_CHANGES
        ),
        html.H3(t("ovw.trend", lang).format(days=TREND_DAYS)),
        html.P(t("ovw.trend_note", lang), className="ovw-note"),
        dcc.Graph(id=OVERVIEW_TREND, figure=level_trend_figure(trend, lang), config=GRAPH_CONFIG),
    ]


@callback(
    Output(OVERVIEW_HISTORY, "children"),
    Input(ids.OVERVIEW_ADCODE, "data"),
    Input(ids.LANG_STORE, "data"),
)
def render_history(adcode: str | None, lang: str) -> Any:
    """Fill the history part once the page is shown, and again in the chosen language."""
    return history_content(request_scope(), adcode, lang)
