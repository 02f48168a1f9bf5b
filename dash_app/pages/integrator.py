"""Integrator workspace (``/integrator``, 集成商工作台): gateway diagnostics (网关诊断) and point
registration (点位登记) for the enterprises that engaged the integrator (an admin: all).

Diagnostics show, per gateway of the chosen enterprise, whether it is online, its last message
and its kind, the messages and entries accepted and refused, the refusals with their reasons
and raw payloads (the ingest's dead letters), the point codes it sends that are not registered
and an estimate of its clock offset; they refresh every 10 s. The registration form registers a
point on one of the enterprise's systems through the registry with the caller's scope, its
range and four-level limits pre-filled from the device catalog; a refusal says why and creates
nothing.

Other roles, and callers outside an enterprise, get "not found"; a caller not logged in the
login prompt. Every callback reads the caller's scope again: its inputs (a credit code, a
gateway id) can be forged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from psycopg import AsyncConnection

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.integrator_queries import (
    LIMIT_FIELDS,
    FormState,
    GatewayView,
    PageState,
    PointForm,
    enterprise_gateways,
    enterprise_options,
    form_state,
    gateway_view,
    page_state,
    register_point,
    run_with_store,
    system_points,
    systems,
)
from dash_app.timefmt import china_time
from device_catalog import Catalog, DeviceCatalogError, Indicator, load_catalog
from twins.errors import ThingExistsError, ThingNotFoundError, TwinsError
from twins.queries import list_parts
from twins.schemas import PointPublic
from twins.scope import Scope
from twins.store import PostgresTwinStore

dash.register_page(__name__, path="/integrator", name="integrator")  # type: ignore[no-untyped-call]

# ---------------------------------------------------------------- component ids
INT_PAGE: Final = "int-page"
INT_NOT_FOUND: Final = "int-not-found"
INT_TICK: Final = "int-tick"
INT_ENTERPRISE: Final = "int-enterprise"  # dropdown: the enterprise
INT_GATEWAY: Final = "int-gateway"  # dropdown: the gateway whose diagnostics show
INT_GATEWAYS: Final = "int-gateways"  # table of the enterprise's gateways
INT_DIAGNOSTICS: Final = "int-diagnostics"  # the chosen gateway's diagnostics
INT_SYSTEM: Final = "int-system"  # dropdown: the system to register a point on
INT_INDICATOR: Final = "int-indicator"  # dropdown: the indicator (device catalog)
INT_POINT_CODE: Final = "int-point-code"
INT_POINT_NAME: Final = "int-point-name"
INT_UNIT: Final = "int-unit"
INT_RANGE_LOW: Final = "int-range-low"
INT_RANGE_HIGH: Final = "int-range-high"
INT_LIMITS: Final = {k: f"int-limit-{k}" for k in LIMIT_FIELDS}  # int-limit-hha, -ha, -la, -lla
INT_POINT_GATEWAY: Final = "int-point-gateway"  # dropdown: the gateway the point reports through
INT_DEFAULTS_NOTE: Final = "int-defaults-note"
INT_REGISTER: Final = "int-register"  # button
INT_RESULT: Final = "int-register-result"  # what became of the registration (ok / refused)
INT_POINTS: Final = "int-points"  # the chosen system's points
# labels and headings, re-rendered on a language switch: id -> string key
LABELS: Final = {
    "int-heading": "int.heading",
    "int-label-enterprise": "int.enterprise",
    "int-label-gateway": "int.gateway",
    "int-diag-heading": "int.diagnostics",
    "int-refresh-note": "int.refresh_note",
    "int-reg-heading": "int.registration",
    "int-label-system": "int.system",
    "int-label-indicator": "int.indicator",
    "int-label-point-code": "int.point_code",
    "int-label-point-name": "int.point_name",
    "int-label-unit": "int.unit",
    "int-label-range-low": "int.range_low",
    "int-label-range-high": "int.range_high",
    **{f"int-label-limit-{k}": f"int.limit.{k}" for k in LIMIT_FIELDS},
    "int-label-point-gateway": "int.point_gateway",
    "int-points-heading": "int.points",
    INT_REGISTER: "int.register",
}

REFRESH_MS: Final = 10_000
ROLES: Final = ("integrator", "admin")
ANY_GATEWAY: Final = ""  # the point-gateway dropdown's "any gateway of the enterprise"


def _allowed(scope: Scope | None) -> bool:
    return scope is not None and scope.role in ROLES


# ---------------------------------------------------------------- pure builders


def _local(ts: str | datetime | None) -> str:
    """A time as China Standard Time, month to second; "—" without one."""
    if ts is None or ts == "":
        return "—"
    when = ts if isinstance(ts, datetime) else _parse(ts)
    if when is None:
        return str(ts)
    return china_time(when, "%m-%d %H:%M:%S")


def _parse(ts: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def not_found_content(lang: str) -> list[Component]:
    """The words of "not found"."""
    return [html.H2(t("int.not_found", lang)), html.P(t("int.not_found_detail", lang))]


def not_found(lang: str) -> html.Div:
    """What a caller outside the page's users, or outside an enterprise, sees."""
    return html.Div(not_found_content(lang), id=INT_NOT_FOUND, className="int-not-found")


def online_badge(online: bool | None, lang: str) -> html.Span:
    """Online / offline / unknown, coloured."""
    if online is None:
        key, css = "int.unknown_state", "unknown"
    else:
        key, css = ("int.online", "on") if online else ("int.offline", "off")
    return html.Span(t(key, lang), className=f"int-badge int-{css}")


def _last_message_text(view: GatewayView, lang: str) -> str:
    at = view.diagnostics.last_message_at
    if at is None:
        return t("int.never", lang)
    kind = t(f"int.last_kind.{view.last_kind}", lang) if view.last_kind else "—"
    return f"{_local(at)} · {kind}"


def gateways_table(views: list[GatewayView], selected: str | None, lang: str) -> Component:
    """The enterprise's gateways: state, last message and the last hour's traffic."""
    if not views:
        return html.P(t("int.no_gateways", lang), className="int-empty")
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in (
                "int.gateway",
                "int.state",
                "int.last_message",
                "int.messages",
                "int.accepted",
                "int.rejected",
            )
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(v.gateway_id if v.name == v.gateway_id else f"{v.gateway_id} {v.name}"),
                html.Td(online_badge(v.online, lang)),
                html.Td(_last_message_text(v, lang)),
                html.Td(str(v.diagnostics.messages_1h)),
                html.Td(str(v.diagnostics.accepted_1h)),
                html.Td(
                    str(v.diagnostics.rejected_1h),
                    className="int-refused" if v.diagnostics.rejected_1h else None,
                ),
            ],
            id=f"int-gw-{v.gateway_id}",
            className="selected" if v.gateway_id == selected else None,
        )
        for v in views
    ]
    return html.Table(
        [html.Caption(t("int.1h", lang)), html.Thead(head), html.Tbody(rows)],
        className="int-table int-gateway-list",
    )


def _facts(view: GatewayView, lang: str) -> html.Dl:
    period = f"{view.upload_period_s} {t('int.period_s', lang)}" if view.upload_period_s else "—"
    state = f"{view.state} ({_local(view.state_at)})" if view.state else "—"
    pairs: list[tuple[str, Component | str]] = [
        ("int.state", online_badge(view.online, lang)),
        ("int.last_message", _last_message_text(view, lang)),
        ("int.last_data", _local(view.last_seen)),
        ("int.last_heartbeat", _local(view.last_heartbeat)),
        ("int.gateway_state", state),
        ("int.transport", view.transport),
        ("int.period", period),
    ]
    items: list[Component] = []
    for key, value in pairs:
        items += [html.Dt(t(key, lang)), html.Dd(value)]
    return html.Dl(items, className="int-facts")


def _counts(view: GatewayView, lang: str) -> html.Table:
    d = view.diagnostics
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in ("int.window", "int.messages", "int.accepted", "int.rejected")
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(t(window, lang)),
                html.Td(str(m)),
                html.Td(str(a)),
                html.Td(str(r), className="int-refused" if r else None),
            ]
        )
        for window, m, a, r in (
            ("int.1h", d.messages_1h, d.accepted_1h, d.rejected_1h),
            ("int.24h", d.messages_24h, d.accepted_24h, d.rejected_24h),
        )
    ]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="int-table int-counts")


def _unknown(view: GatewayView, lang: str) -> html.Div:
    if not view.unknown:
        body: Component = html.P(t("int.no_unknown", lang), className="int-empty")
    else:
        body = html.Div(
            [
                html.P(t("int.unknown_hint", lang), className="int-hint"),
                html.Ul(
                    [
                        html.Li(
                            [
                                html.Code(u.code),
                                f" × {u.times} · {_local(u.last_at)}",
                            ]
                        )
                        for u in view.unknown
                    ],
                    className="int-unknown-list",
                ),
            ]
        )
    return html.Div(
        [html.H4(t("int.unknown_codes", lang)), body], id="int-unknown", className="int-block"
    )


def _clock(view: GatewayView, lang: str) -> html.Div:
    if view.clock is None:
        body: Component = html.P(t("int.clock_none", lang), className="int-empty")
    else:
        body = html.Div(
            [
                html.Strong(f"{view.clock.median_s:+.1f} s"),
                html.P(
                    t("int.clock_detail", lang).format(n=view.clock.readings),
                    className="int-hint",
                ),
            ]
        )
    return html.Div([html.H4(t("int.clock", lang)), body], id="int-clock", className="int-block")


def _reasons(view: GatewayView, lang: str) -> html.Div:
    if not view.reasons:
        return html.Div()
    return html.Div(
        [
            html.H4(t("int.reasons", lang)),
            html.Ul(
                [
                    html.Li([html.Span(reason, className="int-reason"), f" × {n}"])
                    for reason, n in view.reasons.items()
                ]
            ),
        ],
        id="int-reasons",
        className="int-block",
    )


def _entries(rejected: list[dict[str, Any]]) -> list[Component]:
    out: list[Component] = []
    for e in rejected:
        where = " ".join(str(x) for x in (e.get("index"), e.get("code")) if x is not None)
        out.append(
            html.Li(
                [html.Code(where), "：" if where else "", html.Span(e.get("reason"))],
                className="int-reason",
            )
        )
    return out


def rejections_table(rejections: list[dict[str, Any]], lang: str) -> Component:
    """The dead letters, newest first: when, what, and why each entry was refused."""
    if not rejections:
        return html.P(t("int.no_rejections", lang), className="int-empty")
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in (
                "int.received_at",
                "int.transport",
                "int.kind",
                "int.msg_id",
                "int.entries",
                "int.raw",
            )
        ]
    )
    rows = []
    for i, r in enumerate(rejections):
        raw = r["raw"] + (t("int.truncated", lang) if r.get("raw_truncated") else "")
        kind = r["kind"] + (f" · {t('int.whole', lang)}" if r.get("whole_message") else "")
        rows.append(
            html.Tr(
                [
                    html.Td(_local(r["received_at"])),
                    html.Td(r["transport"]),
                    html.Td(kind),
                    html.Td(r.get("msg_id") or "—"),
                    html.Td(html.Ul(_entries(r.get("rejected", [])))),
                    html.Td(
                        html.Details(
                            [
                                html.Summary(
                                    f"{t('int.show', lang)} ({r.get('raw_encoding', 'utf-8')})"
                                ),
                                html.Pre(raw, className="int-raw"),
                            ]
                        )
                    ),
                ],
                id=f"int-rejection-{i}",
            )
        )
    return html.Table([html.Thead(head), html.Tbody(rows)], className="int-table int-rejections")


def diagnostics_panel(view: GatewayView | None, lang: str) -> Component:
    """One gateway's diagnostics; "not found" when it is not the caller's."""
    if view is None:
        return html.P(t("int.gateway_not_found", lang), className="int-empty")
    return html.Div(
        [
            html.H4(f"{view.gateway_id} · {view.name}"),
            _facts(view, lang),
            _counts(view, lang),
            _unknown(view, lang),
            _clock(view, lang),
            _reasons(view, lang),
            html.H4(t("int.rejections", lang)),
            rejections_table(view.diagnostics.recent_rejections, lang),
            html.P(t("int.time_note", lang), className="int-hint"),
        ],
        className="int-diagnostics",
    )


def points_table(points: list[PointPublic], lang: str) -> Component:
    """The system's registered points with the limits in force."""
    if not points:
        return html.P(t("int.no_points", lang), className="int-empty")
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in ("int.point_code", "int.point_name", "int.indicator", "int.range")
        ]
        + [html.Th(k.upper()) for k in LIMIT_FIELDS]
        + [html.Th(t("int.gateway", lang))]
    )

    rows = [
        html.Tr(
            [
                html.Td(p.point_code),
                html.Td(p.name or "—"),
                html.Td(p.indicator),
                html.Td(f"{p.range_low:g} – {p.range_high:g} {p.unit}"),
                *[html.Td(_limit_text(p, k)) for k in LIMIT_FIELDS],
                html.Td(p.gateway_id or "—"),
            ],
            id=f"int-point-{p.point_code}",
        )
        for p in points
    ]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="int-table int-point-list")


def indicator_options(indicators: list[Indicator], lang: str) -> list[dict[str, str]]:
    """Dropdown options: code, name and unit of each indicator."""
    return [
        {
            "label": f"{i.code} {i.name_zh if lang == 'zh' else i.name_en} ({i.unit})",
            "value": i.code,
        }
        for i in indicators
    ]


def _number(v: float | None) -> float | None:
    return None if v is None else float(v)


def defaults_note(
    catalog: Catalog, indicator: Indicator | None, problem: str | None, lang: str
) -> Component:
    """Where the pre-filled figures come from, or why there are none."""
    if problem is not None:
        return html.P(
            f"{t('int.cannot_prefill', lang)}: {problem}", className="int-message int-refusal"
        )
    parts: list[Component] = [
        html.P(t("int.defaults_note", lang).format(version=catalog.version), className="int-hint")
    ]
    note = None if indicator is None else (indicator.note_zh if lang == "zh" else indicator.note_en)
    if note:
        parts.append(html.P(f"{t('int.indicator_note', lang)}: {note}", className="int-hint"))
    return html.Div(parts)


def result_message(ok: bool, text: str) -> html.P:
    """The registration's outcome: what was created, or why nothing was."""
    return html.P(
        text, className="int-message int-ok" if ok else "int-message int-refusal", role="status"
    )


def _limit_text(p: PointPublic, k: str) -> str:
    v = p.effective_limits.get(k)  # type: ignore[call-overload]
    return "—" if v is None else f"{v:g}"


def _registered_text(p: PointPublic, lang: str) -> str:
    limits = ", ".join(f"{k.upper()} {_limit_text(p, k)}" for k in LIMIT_FIELDS)
    return f"{t('int.registered', lang)} {p.point_code} ({t('int.in_force', lang)}: {limits})"


# ---------------------------------------------------------------- layout


def _field(label_id: str, key: str, control: Component, lang: str) -> html.Div:
    return html.Div(
        [html.Label(t(key, lang), id=label_id, htmlFor=getattr(control, "id", None)), control],
        className="int-field",
    )


def _number_input(component_id: str, value: float | None) -> dcc.Input:
    return dcc.Input(id=component_id, type="number", value=value, className="int-input")


def _limit_values(state: FormState) -> dict[str, float | None]:
    if state.defaults is None:
        return dict.fromkeys(LIMIT_FIELDS)
    return dict(state.defaults.limits)


def _gateway_options(gateways: list[GatewayView] | list[str], lang: str) -> list[dict[str, str]]:
    codes = [g.gateway_id if isinstance(g, GatewayView) else g for g in gateways]
    return [{"label": t("int.any_gateway", lang), "value": ANY_GATEWAY}] + [
        {"label": c, "value": c} for c in codes
    ]


def _system_options(state: FormState) -> list[dict[str, str]]:
    return [
        {"label": f"{s['system_code']} {s.get('name') or ''}".strip(), "value": s["system_code"]}
        for s in state.systems
    ]


def workspace(state: PageState, catalog: Catalog, lang: str) -> html.Div:
    """The page for a caller who may use it."""
    form = state.form
    selected = next((g for g in state.gateways if g.gateway_id == state.gateway_id), None)
    limits = _limit_values(form)
    d = form.defaults
    indicator = catalog.indicators.get(form.indicator) if form.indicator is not None else None
    diagnostics = html.Section(
        [
            html.H3(t("int.diagnostics", lang), id="int-diag-heading"),
            html.Small(t("int.refresh_note", lang), id="int-refresh-note", className="int-hint"),
            _field(
                "int-label-gateway",
                "int.gateway",
                dcc.Dropdown(
                    id=INT_GATEWAY,
                    options=[
                        {"label": g.gateway_id, "value": g.gateway_id} for g in state.gateways
                    ],
                    value=state.gateway_id,
                    clearable=False,
                ),
                lang,
            ),
            html.Div(gateways_table(state.gateways, state.gateway_id, lang), id=INT_GATEWAYS),
            html.Div(
                diagnostics_panel(selected, lang)
                if selected is not None
                else html.P(t("int.no_gateways", lang), className="int-empty"),
                id=INT_DIAGNOSTICS,
            ),
        ],
        className="int-card",
    )
    registration = html.Section(
        [
            html.H3(t("int.registration", lang), id="int-reg-heading"),
            _field(
                "int-label-system",
                "int.system",
                dcc.Dropdown(
                    id=INT_SYSTEM,
                    options=_system_options(form),
                    value=form.system_code,
                    clearable=False,
                    placeholder=t("int.no_systems", lang),
                ),
                lang,
            ),
            _field(
                "int-label-indicator",
                "int.indicator",
                dcc.Dropdown(
                    id=INT_INDICATOR,
                    options=indicator_options(form.indicators, lang),
                    value=form.indicator,
                    clearable=False,
                ),
                lang,
            ),
            html.Div(
                [
                    _field(
                        "int-label-point-code",
                        "int.point_code",
                        dcc.Input(
                            id=INT_POINT_CODE,
                            type="text",
                            value=form.point_code,
                            className="int-input",
                            maxLength=64,
                        ),
                        lang,
                    ),
                    _field(
                        "int-label-point-name",
                        "int.point_name",
                        dcc.Input(
                            id=INT_POINT_NAME,
                            type="text",
                            value="",
                            className="int-input",
                            maxLength=100,
                        ),
                        lang,
                    ),
                    _field(
                        "int-label-unit",
                        "int.unit",
                        dcc.Input(
                            id=INT_UNIT,
                            type="text",
                            value=d.unit if d else None,
                            className="int-input",
                        ),
                        lang,
                    ),
                    _field(
                        "int-label-range-low",
                        "int.range_low",
                        _number_input(INT_RANGE_LOW, d.range_low if d else None),
                        lang,
                    ),
                    _field(
                        "int-label-range-high",
                        "int.range_high",
                        _number_input(INT_RANGE_HIGH, d.range_high if d else None),
                        lang,
                    ),
                    *[
                        _field(
                            f"int-label-limit-{k}",
                            f"int.limit.{k}",
                            _number_input(INT_LIMITS[k], limits[k]),
                            lang,
                        )
                        for k in LIMIT_FIELDS
                    ],
                    _field(
                        "int-label-point-gateway",
                        "int.point_gateway",
                        dcc.Dropdown(
                            id=INT_POINT_GATEWAY,
                            options=_gateway_options(state.gateways, lang),
                            value=state.gateway_id or ANY_GATEWAY,
                            clearable=False,
                        ),
                        lang,
                    ),
                ],
                className="int-form-grid",
            ),
            html.Div(defaults_note(catalog, indicator, form.problem, lang), id=INT_DEFAULTS_NOTE),
            html.Button(
                t("int.register", lang), id=INT_REGISTER, n_clicks=0, className="int-button"
            ),
            html.Div(id=INT_RESULT),
            html.H4(t("int.points", lang), id="int-points-heading"),
            html.Div(points_table(form.points, lang), id=INT_POINTS),
        ],
        className="int-card",
    )
    return html.Div(
        [
            dcc.Interval(id=INT_TICK, interval=REFRESH_MS, n_intervals=0),
            html.H2(t("int.heading", lang), id="int-heading"),
            _field(
                "int-label-enterprise",
                "int.enterprise",
                dcc.Dropdown(
                    id=INT_ENTERPRISE,
                    options=[
                        {"label": f"{e.name} ({e.credit_code})", "value": e.credit_code}
                        for e in state.enterprises
                    ],
                    value=state.credit_code,
                    clearable=False,
                    placeholder=t("int.search_enterprise", lang),
                ),
                lang,
            ),
            html.Div([diagnostics, registration], className="int-grid"),
        ],
        className="int-page",
    )


def page_for(scope: Scope | None, dsn: str, lang: str = DEFAULT_LANG) -> html.Div:
    """The page for this caller: the workspace, "not found" for other roles, or the login."""
    if scope is None:
        return html.Div(login_prompt(lang, "/integrator"), id=INT_PAGE)
    if not _allowed(scope):
        return html.Div(not_found(lang), id=INT_PAGE)
    catalog = load_catalog()
    now = datetime.now(UTC)
    state = run_with_store(dsn, lambda store, conn: page_state(store, conn, scope, catalog, now))
    if not state.enterprises:
        return html.Div(
            [html.H2(t("int.heading", lang)), html.P(t("int.no_enterprises", lang))], id=INT_PAGE
        )
    return html.Div(workspace(state, catalog, lang), id=INT_PAGE)


def layout(**_: Any) -> html.Div:
    """The page for the logged-in caller (Chinese first; callbacks follow the switch)."""
    return page_for(request_scope(), database_url())


# ---------------------------------------------------------------- callbacks


@callback(
    [Output(i, "children") for i in LABELS],
    Input(ids.LANG_STORE, "data"),
)
def render_labels(lang: str) -> list[str]:
    """Headings, labels and the button in the chosen language."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate  # the layout is Chinese already
    return [t(key, lang) for key in LABELS.values()]


@callback(
    Output(INT_NOT_FOUND, "children"),
    Input(ids.LANG_STORE, "data"),
)
def render_not_found(lang: str) -> list[Component]:
    """ "Not found" in the chosen language."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    return not_found_content(lang)


@callback(
    Output(INT_ENTERPRISE, "options"),
    Input(INT_ENTERPRISE, "search_value"),
    State(INT_ENTERPRISE, "value"),
    prevent_initial_call=True,
)
def search_enterprises(text: str | None, current: str | None) -> list[dict[str, str]]:
    """The caller's enterprises whose name (or credit code) holds the text typed."""
    scope = request_scope()
    if not _allowed(scope) or not text:
        raise PreventUpdate
    assert scope is not None
    found = run_with_store(
        database_url(), lambda _store, conn: enterprise_options(conn, scope, text)
    )
    options = [{"label": f"{e.name} ({e.credit_code})", "value": e.credit_code} for e in found]
    if current and all(o["value"] != current for o in options):
        options.append({"label": current, "value": current})  # keep the chosen one selectable
    return options


@callback(
    Output(INT_GATEWAY, "options"),
    Output(INT_GATEWAY, "value"),
    Output(INT_POINT_GATEWAY, "options"),
    Output(INT_POINT_GATEWAY, "value"),
    Output(INT_SYSTEM, "options"),
    Output(INT_SYSTEM, "value"),
    Input(INT_ENTERPRISE, "value"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def choose_enterprise(credit_code: str | None, lang: str) -> tuple[Any, ...]:
    """The chosen enterprise's gateways and systems (none when it is not the caller's)."""
    scope = request_scope()
    if not _allowed(scope) or not credit_code:
        raise PreventUpdate
    assert scope is not None

    async def read(_store: PostgresTwinStore, conn: AsyncConnection[Any]) -> tuple[Any, ...]:
        gateways = [
            str(a["gateway_id"]) for a in await list_parts(conn, scope, credit_code, "gateway")
        ]
        return gateways, await systems(conn, scope, credit_code)

    gateways, found = run_with_store(database_url(), read)
    first_gateway = gateways[0] if gateways else None
    return (
        [{"label": g, "value": g} for g in gateways],
        first_gateway,
        _gateway_options(gateways, lang),
        first_gateway or ANY_GATEWAY,
        _system_options(FormState(systems=found)),
        found[0]["system_code"] if found else None,
    )


def diagnostics_for(
    scope: Scope, credit_code: str, gateway_id: str | None, dsn: str, lang: str
) -> tuple[Component, Component]:
    """The gateway list of the enterprise and the chosen gateway's diagnostics."""
    now = datetime.now(UTC)

    async def read(
        store: PostgresTwinStore, conn: AsyncConnection[Any]
    ) -> tuple[list[GatewayView], GatewayView | None]:
        views = await enterprise_gateways(store, conn, scope, credit_code, now)
        chosen = next((v for v in views if v.gateway_id == gateway_id), None)
        if chosen is None and gateway_id:  # not listed: the answer is the API's "not found"
            chosen = await gateway_view(store, conn, scope, credit_code, gateway_id, now)
        return views, chosen

    views, chosen = run_with_store(dsn, read)
    if chosen is None and not gateway_id:
        return gateways_table(views, None, lang), html.Div()
    return gateways_table(views, gateway_id, lang), diagnostics_panel(chosen, lang)


@callback(
    Output(INT_GATEWAYS, "children"),
    Output(INT_DIAGNOSTICS, "children"),
    Input(INT_TICK, "n_intervals"),
    Input(INT_ENTERPRISE, "value"),
    Input(INT_GATEWAY, "value"),
    Input(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def refresh_diagnostics(
    _n: int, credit_code: str | None, gateway_id: str | None, lang: str
) -> tuple[Component, Component]:
    """Re-read the diagnostics every tick, and when the enterprise, gateway or language change."""
    scope = request_scope()
    if not _allowed(scope) or not credit_code:
        raise PreventUpdate
    assert scope is not None
    return diagnostics_for(scope, credit_code, gateway_id, database_url(), lang)


@callback(
    Output(INT_INDICATOR, "options"),
    Output(INT_INDICATOR, "value"),
    Output(INT_POINTS, "children"),
    Input(INT_SYSTEM, "value"),
    Input(ids.LANG_STORE, "data"),
    State(INT_ENTERPRISE, "value"),
    State(INT_INDICATOR, "value"),
    prevent_initial_call=True,
)
def choose_system(
    system_code: str | None, lang: str, credit_code: str | None, indicator: str | None
) -> tuple[Any, ...]:
    """The indicators the chosen system may carry, and its registered points.

    On a language switch the chosen indicator is left alone, so the form keeps what was typed.
    """
    scope = request_scope()
    if not _allowed(scope) or not credit_code:
        raise PreventUpdate
    assert scope is not None
    if not system_code:  # an enterprise without systems: nothing to register on
        return [], None, points_table([], lang)
    state = _form(scope, credit_code, system_code, indicator)
    relabelled = dash.ctx.triggered_id == ids.LANG_STORE
    return (
        indicator_options(state.indicators, lang),
        dash.no_update if relabelled else state.indicator,
        points_table(state.points, lang),
    )


def _form(
    scope: Scope, credit_code: str, system_code: str | None, indicator: str | None
) -> FormState:
    catalog = load_catalog()
    return run_with_store(
        database_url(),
        lambda _store, conn: form_state(conn, scope, credit_code, catalog, system_code, indicator),
    )


@callback(
    Output(INT_POINT_CODE, "value"),
    Output(INT_UNIT, "value"),
    Output(INT_RANGE_LOW, "value"),
    Output(INT_RANGE_HIGH, "value"),
    *[Output(INT_LIMITS[k], "value") for k in LIMIT_FIELDS],
    Output(INT_DEFAULTS_NOTE, "children"),
    Input(INT_INDICATOR, "value"),
    Input(INT_SYSTEM, "value"),
    State(INT_ENTERPRISE, "value"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def prefill(
    indicator: str | None, system_code: str | None, credit_code: str | None, lang: str
) -> tuple[Any, ...]:
    """Pre-fill code, unit, range and limits from the catalog defaults for this system."""
    scope = request_scope()
    if not _allowed(scope) or not credit_code:
        raise PreventUpdate
    assert scope is not None
    if not system_code or not indicator:
        return (None, None, None, None, *[None for _ in LIMIT_FIELDS], html.Div())
    catalog = load_catalog()
    state = _form(scope, credit_code, system_code, indicator)
    d = state.defaults
    limits = _limit_values(state)
    return (
        state.point_code,
        d.unit if d else None,
        d.range_low if d else None,
        d.range_high if d else None,
        *[limits[k] for k in LIMIT_FIELDS],
        defaults_note(catalog, catalog.indicators.get(indicator), state.problem, lang),
    )


@callback(
    Output(INT_DEFAULTS_NOTE, "children", allow_duplicate=True),
    Input(ids.LANG_STORE, "data"),
    State(INT_INDICATOR, "value"),
    State(INT_SYSTEM, "value"),
    State(INT_ENTERPRISE, "value"),
    prevent_initial_call=True,
)
def render_defaults_note(
    lang: str, indicator: str | None, system_code: str | None, credit_code: str | None
) -> Component:
    """The note on the pre-filled figures in the chosen language (the fields stay as typed)."""
    scope = request_scope()
    if not _allowed(scope) or not credit_code or not system_code or not indicator:
        raise PreventUpdate
    assert scope is not None
    catalog = load_catalog()
    state = _form(scope, credit_code, system_code, indicator)
    return defaults_note(catalog, catalog.indicators.get(indicator), state.problem, lang)


def register(scope: Scope | None, form: PointForm, dsn: str, lang: str) -> tuple[bool, str]:
    """Register the point with the caller's scope: (created, message for the page)."""
    if not _allowed(scope):
        return False, t("int.target_not_found", lang)
    assert scope is not None
    catalog = load_catalog()
    try:
        point = run_with_store(
            dsn, lambda store, conn: register_point(store, conn, scope, form, catalog)
        )
    except ThingNotFoundError:
        return False, f"{t('int.refused', lang)}: {t('int.target_not_found', lang)}"
    except ThingExistsError:
        return False, f"{t('int.refused', lang)}: {t('int.exists', lang)} ({form.point_code})"
    except (TwinsError, DeviceCatalogError) as err:
        return False, f"{t('int.refused', lang)}: {err}"
    return True, _registered_text(point, lang)


def _text(v: Any) -> str:
    return "" if v is None else str(v).strip()


def read_form(
    credit_code: str | None,
    system_code: str | None,
    indicator: str | None,
    values: dict[str, Any],
    lang: str,
) -> PointForm | str:
    """The submitted form as a PointForm, or what is missing or not a number."""
    missing = [
        t(key, lang)
        for key, v in (
            ("int.enterprise", credit_code),
            ("int.system", system_code),
            ("int.indicator", indicator),
            ("int.point_code", _text(values.get("point_code"))),
            ("int.unit", _text(values.get("unit"))),
        )
        if not v
    ]
    if missing:
        return f"{t('int.missing', lang)}: {', '.join(missing)}"
    numbers: dict[str, float | None] = {}
    for name in ("range_low", "range_high", *LIMIT_FIELDS):
        raw = values.get(name)
        try:
            numbers[name] = None if raw is None or raw == "" else float(raw)
        except (TypeError, ValueError):
            key = f"int.limit.{name}" if name in LIMIT_FIELDS else f"int.{name}"
            return f"{t(key, lang)} {t('int.not_a_number', lang)}"
    assert credit_code is not None
    assert system_code is not None
    assert indicator is not None
    return PointForm(
        credit_code=credit_code,
        system_code=system_code,
        indicator=indicator,
        point_code=_text(values.get("point_code")),
        name=_text(values.get("name")) or None,
        unit=_text(values.get("unit")),
        range_low=numbers["range_low"],
        range_high=numbers["range_high"],
        limits={k: numbers[k] for k in LIMIT_FIELDS},
        gateway_id=_text(values.get("gateway_id")) or None,
    )


@callback(
    Output(INT_RESULT, "children"),
    Output(INT_POINTS, "children", allow_duplicate=True),
    Input(INT_REGISTER, "n_clicks"),
    State(INT_ENTERPRISE, "value"),
    State(INT_SYSTEM, "value"),
    State(INT_INDICATOR, "value"),
    State(INT_POINT_CODE, "value"),
    State(INT_POINT_NAME, "value"),
    State(INT_UNIT, "value"),
    State(INT_RANGE_LOW, "value"),
    State(INT_RANGE_HIGH, "value"),
    *[State(INT_LIMITS[k], "value") for k in LIMIT_FIELDS],
    State(INT_POINT_GATEWAY, "value"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def submit(
    _clicks: int,
    credit_code: str | None,
    system_code: str | None,
    indicator: str | None,
    point_code: str | None,
    name: str | None,
    unit: str | None,
    range_low: Any,
    range_high: Any,
    hha: Any,
    ha: Any,
    la: Any,
    lla: Any,
    gateway_id: str | None,
    lang: str,
) -> tuple[Any, ...]:
    """Register the point; show what was created or why nothing was.

    The code field keeps the registered code, so a second click is refused as a duplicate
    instead of registering a second point.
    """
    values = {
        "point_code": point_code,
        "name": name,
        "unit": unit,
        "range_low": range_low,
        "range_high": range_high,
        "hha": hha,
        "ha": ha,
        "la": la,
        "lla": lla,
        "gateway_id": gateway_id,
    }
    form = read_form(credit_code, system_code, indicator, values, lang)
    if isinstance(form, str):
        return result_message(False, form), dash.no_update
    scope = request_scope()
    ok, text = register(scope, form, database_url(), lang)
    if not ok:
        return result_message(False, text), dash.no_update
    assert scope is not None
    catalog = load_catalog()
    points = run_with_store(
        database_url(),
        lambda _store, conn: system_points(
            conn, scope, form.credit_code, form.system_code, catalog
        ),
    )
    return result_message(True, text), points_table(points, lang)
