"""Enterprise live twin (``/enterprise/<credit_code>``, 企业端实时孪生): the plant's systems and
points with live values, a point's trend with its limits, the risk level with its composition and
what lowers it, the open alarms, and the cameras with a live view (signed, short-lived URLs).

Only a caller whose jurisdiction sees the enterprise gets the page; everyone else (an unknown
code, another enterprise) gets the same "not found": existence does not leak. A caller not logged
in gets the login prompt, for any code alike.
Every callback checks the caller's scope again from the request, since callbacks are plain
HTTP endpoints whose inputs (the credit code in the page's store) a caller can forge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate
from psycopg import AsyncConnection

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.components.cameras import cameras_content, cameras_for, live_links
from dash_app.enterprise_queries import (
    RANGES,
    PointRow,
    RangeKey,
    Snapshot,
    Trend,
    point,
    point_trend,
    run,
    snapshot,
)
from dash_app.figures.enterprise import (
    alarms_table,
    not_found,
    plant_view,
    point_options,
    risk_panel,
    trend_figure,
)
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.regulator_queries import CameraView
from dash_app.server import app_settings, risk_model
from device_catalog import load_catalog
from twins.scope import Scope

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/enterprise/<credit_code>", name="enterprise"
)

REFRESH_MS: Final = 5_000  # live values refresh by themselves this often
DEFAULT_RANGE: Final[RangeKey] = "1h"


def _snapshot(scope: Scope, credit_code: str, dsn: str, lang: str) -> Snapshot | None:
    now = datetime.now(UTC)
    fetch = partial(
        snapshot,
        scope=scope,
        credit_code=credit_code,
        catalog=load_catalog(),
        model=risk_model(),
        now=now,
        lang=lang,
    )
    return run(dsn, fetch)


def page_for(scope: Scope | None, credit_code: str, dsn: str, lang: str = DEFAULT_LANG) -> html.Div:
    """The page for this caller: the live twin, or "not found" outside the caller's scope
    (a caller not logged in is asked to log in, whatever the code: that tells nothing either)."""
    if scope is None:
        return login_prompt(lang, f"/enterprise/{credit_code}")
    snap = _snapshot(scope, credit_code, dsn, lang)
    if snap is None:
        return html.Div(not_found(lang), id=ids.ENT_NOT_FOUND)
    ranges = [{"label": t(f"ent.range.{k}", lang), "value": k} for k in RANGES]
    options = point_options(snap.plant)
    return html.Div(
        [
            dcc.Store(id=ids.ENT_CODE, data=credit_code),
            dcc.Interval(id=ids.ENT_TICK, interval=REFRESH_MS, n_intervals=0),
            html.H2(snap.header.name, id=ids.ENT_NAME),
            html.Div(
                [
                    html.Section(
                        [
                            html.H3(t("ent.plant", lang), id=ids.ENT_PLANT_HEADING),
                            html.Div(plant_view(snap.plant, lang), id=ids.ENT_PLANT),
                        ],
                        className="ent-card ent-plant",
                    ),
                    html.Section(
                        [
                            html.H3(t("ent.risk", lang), id=ids.ENT_RISK_HEADING),
                            html.Div(risk_panel(snap.risk, lang), id=ids.ENT_RISK),
                        ],
                        className="ent-card ent-risk",
                    ),
                    html.Section(
                        [
                            html.H3(t("ent.trend", lang), id=ids.ENT_TREND_HEADING),
                            dcc.Dropdown(
                                id=ids.ENT_POINT,
                                options=options,
                                value=options[0]["value"] if options else None,
                                clearable=False,
                                placeholder=t("ent.trend_point", lang),
                            ),
                            dcc.RadioItems(
                                id=ids.ENT_RANGE,
                                options=ranges,
                                value=DEFAULT_RANGE,
                                inline=True,
                                className="ent-ranges",
                            ),
                            dcc.Graph(
                                id=ids.ENT_TREND,
                                config={"displaylogo": False, "responsive": True},
                            ),
                        ],
                        className="ent-card ent-trend",
                    ),
                    html.Section(
                        [
                            html.H3(t("ent.alarms", lang), id=ids.ENT_ALARMS_HEADING),
                            html.Div(
                                alarms_table(snap.alarms_total, snap.alarms, lang),
                                id=ids.ENT_ALARMS,
                            ),
                        ],
                        className="ent-card ent-alarms",
                    ),
                    html.Section(
                        [
                            html.H3(t("one.video", lang), id=ids.ENT_CAMERAS_HEADING),
                            html.Button(
                                t("one.reload_video", lang), id=ids.ENT_CAMERAS_RELOAD, n_clicks=0
                            ),
                            html.Div(
                                cameras_content(_cameras(scope, credit_code, dsn), lang, "ent"),
                                id=ids.ENT_CAMERAS,
                            ),
                        ],
                        className="ent-card ent-cameras",
                    ),
                ],
                className="ent-grid",
            ),
        ],
        className="ent-page",
    )


def _cameras(scope: Scope, credit_code: str, dsn: str) -> tuple[CameraView, ...]:
    return cameras_for(scope, credit_code, dsn, live_links(app_settings()))


@callback(
    Output(ids.ENT_CAMERAS, "children"),
    Output(ids.ENT_CAMERAS_HEADING, "children"),
    Output(ids.ENT_CAMERAS_RELOAD, "children"),
    Input(ids.ENT_CAMERAS_RELOAD, "n_clicks"),
    Input(ids.LANG_STORE, "data"),
    State(ids.ENT_CODE, "data"),
)
def reload_cameras(_n: int, lang: str, credit_code: str) -> tuple[Any, str, str]:
    """Fresh signed live URLs (they expire after a few minutes) and the cameras' states; not on
    every tick, so that a playing stream is not restarted."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    scope = request_scope()
    if scope is None or not isinstance(credit_code, str):
        raise PreventUpdate
    cameras = _cameras(scope, credit_code, database_url())
    return cameras_content(cameras, lang, "ent"), t("one.video", lang), t("one.reload_video", lang)


def layout(credit_code: str | None = None, **_: Any) -> html.Div:
    """The page's layout for the logged-in caller (Chinese first; callbacks follow the switch)."""
    return page_for(request_scope(), credit_code or "", database_url())


@callback(
    Output(ids.ENT_NOT_FOUND, "children"),
    Input(ids.LANG_STORE, "data"),
)
def render_not_found(lang: str) -> html.Div:
    """The "not found" content in the chosen language."""
    return not_found(lang)


@callback(
    Output(ids.ENT_PLANT, "children"),
    Output(ids.ENT_RISK, "children"),
    Output(ids.ENT_ALARMS, "children"),
    Output(ids.ENT_PLANT_HEADING, "children"),
    Output(ids.ENT_RISK_HEADING, "children"),
    Output(ids.ENT_TREND_HEADING, "children"),
    Output(ids.ENT_ALARMS_HEADING, "children"),
    Output(ids.ENT_RANGE, "options"),
    Output(ids.ENT_POINT, "options"),
    Input(ids.ENT_TICK, "n_intervals"),
    Input(ids.LANG_STORE, "data"),
    State(ids.ENT_CODE, "data"),
)
def refresh(_n: int, lang: str, credit_code: str) -> tuple[Any, ...]:
    """Live values, risk and open alarms, re-read on every tick and on a language switch."""
    scope = request_scope()
    snap = None if scope is None else _snapshot(scope, credit_code, database_url(), lang)
    if snap is None:
        raise PreventUpdate  # logged out or out of scope meanwhile: show nothing new
    return (
        plant_view(snap.plant, lang),
        risk_panel(snap.risk, lang),
        alarms_table(snap.alarms_total, snap.alarms, lang),
        t("ent.plant", lang),
        t("ent.risk", lang),
        t("ent.trend", lang),
        t("ent.alarms", lang),
        [{"label": t(f"ent.range.{k}", lang), "value": k} for k in RANGES],
        point_options(snap.plant),
    )


@callback(
    Output(ids.ENT_TREND, "figure"),
    Input(ids.ENT_POINT, "value"),
    Input(ids.ENT_RANGE, "value"),
    Input(ids.ENT_TICK, "n_intervals"),
    Input(ids.LANG_STORE, "data"),
    State(ids.ENT_CODE, "data"),
)
def render_trend(
    point_id: int | None, range_key: RangeKey, _n: int, lang: str, credit_code: str
) -> go.Figure:
    """The chosen point's trend; on a tick only the 1 h (raw) range is re-read."""
    if point_id is None or range_key not in RANGES:
        raise PreventUpdate
    if dash.ctx.triggered_id == ids.ENT_TICK and range_key != "1h":
        raise PreventUpdate
    scope = request_scope()
    if scope is None:
        raise PreventUpdate
    return trend_for(scope, credit_code, int(point_id), range_key, database_url(), lang)


def trend_for(
    scope: Scope, credit_code: str, point_id: int, range_key: RangeKey, dsn: str, lang: str
) -> go.Figure:
    """The trend figure of one of the caller's points (an empty figure for anyone else's)."""
    now = datetime.now(UTC)

    async def fetch(conn: AsyncConnection[Any]) -> tuple[Trend | None, PointRow | None]:
        trend = await point_trend(conn, scope, credit_code, point_id, range_key, now)
        if trend is None:
            return None, None
        return trend, await point(conn, scope, credit_code, point_id, load_catalog(), lang)

    trend, row = run(dsn, fetch)
    if row is None:
        return trend_figure(None, {}, "", lang)
    return trend_figure(trend, row.limits, row.unit, lang)
