"""One-screen view (``/onescreen/<credit_code>``, 一屏汇聚): everything about one enterprise for a
regulator's spot check — its identity and risk, the dust-removal equipment's running state, the
gateways and points with live values, alarms with their handling, warnings with their feedback
and escalations, recent cleaning check-ins, and the cameras with a live view.

Only a caller whose jurisdiction sees the enterprise gets the page; an unknown code and an
enterprise outside the jurisdiction give the same "not found" (``figures.enterprise.not_found``).
Cameras are shown through the platform's signed, short-lived video URLs (``connectors.video``):
a camera's own links may carry the video service's credentials and never reach the browser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.components.cameras import cameras_content, cameras_for, live_links, online_text
from dash_app.components.history import code_name, feedback_lines, history_list, state_name
from dash_app.enterprise_queries import run
from dash_app.figures.enterprise import not_found, plant_view
from dash_app.i18n import DEFAULT_LANG, STRINGS, t
from dash_app.regulator_queries import (
    GatewayState,
    LiveLinks,
    OneScreen,
    SystemState,
    one_screen,
)
from dash_app.server import app_settings
from dash_app.timefmt import local_time
from device_catalog import load_catalog
from twins.regions import is_known_adcode, region
from twins.schemas import DUST_TYPE_NAMES
from twins.scope import Scope

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/onescreen/<credit_code>", name="onescreen"
)

# component ids (a browser test finds the page by these)
ONE_CODE: Final = "one-code"  # store: the credit code shown
ONE_TICK: Final = "one-tick"
ONE_NAME: Final = "one-name"
ONE_CONTENT: Final = "one-content"
ONE_CAMERAS: Final = "one-cameras"
ONE_CAMERAS_RELOAD: Final = "one-cameras-reload"
ONE_NOT_FOUND: Final = "one-not-found"
# sections inside ONE_CONTENT: one-profile, one-systems, one-devices, one-alarms, one-warnings,
# one-cleaning; rows: one-system-{code}, one-gateway-{id}, one-alarm-{id}, one-warning-{id},
# one-task-{id}; cameras: one-camera-{gb28181}, one-video-{gb28181}, one-live-{gb28181}

REFRESH_MS: Final = 30_000  # [DEFAULT] a spot check looks at a moment: refresh twice a minute


def _screen(
    scope: Scope, credit_code: str, dsn: str, lang: str, links: LiveLinks
) -> OneScreen | None:
    fetch = partial(
        one_screen,
        scope=scope,
        credit_code=credit_code,
        catalog=load_catalog(),
        links=links,
        now=datetime.now(UTC),
        lang=lang,
    )
    return run(dsn, fetch)


# ---------------------------------------------------------------- small pieces


def _iso(text: str | None) -> str:
    if not text:
        return "—"
    try:
        return local_time(datetime.fromisoformat(text))
    except ValueError:
        return text


def _card(section_id: str, heading: str, body: Any, extra: str = "") -> html.Section:
    return html.Section(
        [html.H3(heading), body], id=section_id, className=f"reg-card {extra}".strip()
    )


def _table(columns: list[str], rows: list[html.Tr], lang: str, empty: str) -> Any:
    if not rows:
        return html.P(t(empty, lang), className="reg-empty")
    head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in columns]))
    return html.Div(
        html.Table([head, html.Tbody(rows)], className="reg-table"), className="reg-scroll"
    )


# ---------------------------------------------------------------- the enterprise


def profile(screen: OneScreen, lang: str) -> html.Section:
    """Who the enterprise is, its risk level and whether it reports; links to drill further."""
    a, zh = screen.attributes, lang == "zh"
    code = screen.header.credit_code
    adcode = screen.header.adcode or ""
    place = region(adcode).name if is_known_adcode(adcode) else adcode
    dusts = "、".join(DUST_TYPE_NAMES.get(d, d) if zh else d for d in a.get("dust_types") or [])
    people = [
        f"{t(key, lang)}: {p.get('name')} {p.get('phone') or ''}".strip()
        for key, p in (
            ("one.principal", a.get("principal")),
            ("one.safety", a.get("safety_officer")),
        )
        if isinstance(p, dict)
    ]
    facts = [
        ("one.code", code),
        ("one.region", place),
        ("one.address", a.get("address") or "—"),
        ("one.industry", a.get("industry") or "—"),
        ("one.dust", dusts or "—"),
        ("one.workers", "—" if a.get("dust_workers") is None else str(a["dust_workers"])),
        ("one.key", t("one.yes" if a.get("key_enterprise") else "one.no", lang)),
    ]
    score = "—" if screen.risk_score is None else f"{screen.risk_score:g}"
    return _card(
        "one-profile",
        t("one.profile", lang),
        html.Div(
            [
                html.Div(
                    [
                        html.Span(
                            t(f"level.{screen.risk_level}", lang)
                            if f"level.{screen.risk_level}" in STRINGS
                            else screen.risk_level,
                            className=f"reg-level level-{screen.risk_level}",
                        ),
                        html.Span(f"{t('one.score', lang)} {score}"),
                        html.Span(f"{t('one.evaluated', lang)} {_iso(screen.risk_evaluated_at)}"),
                        online_text(screen.online, lang),
                    ],
                    className="one-risk",
                ),
                html.Dl(
                    [x for key, value in facts for x in (html.Dt(t(key, lang)), html.Dd(value))]
                ),
                html.P(" · ".join(people)) if people else None,
                html.Nav(
                    [
                        dcc.Link(t("one.twin", lang), href=f"/enterprise/{code}", id="one-twin"),
                        dcc.Link(
                            t("one.supervise", lang),
                            href=f"/supervision?credit_code={code}",
                            id="one-supervise",
                        ),
                    ],
                    className="reg-links",
                ),
            ]
        ),
    )


def system_row(s: SystemState, lang: str) -> html.Tr:
    """A dust-removal system: running or stopped (its fan's running signal), points, alarms."""
    running = {True: "one.running", False: "one.stopped", None: "one.unknown"}[s.running]
    cls = {True: "reg-ok", False: "reg-muted", None: "reg-warn"}[s.running]
    return html.Tr(
        [
            html.Td(f"{s.name} ({s.system_code})"),
            html.Td(code_name("one.collector", s.collector, lang)),
            html.Td(
                [
                    html.Span(t(running, lang), className=cls),
                    html.Small(f" {_iso(s.running_since)}"),
                ]
            ),
            html.Td(
                f"{s.points_online}/{s.points}",
                className="reg-bad" if s.points_online < s.points else "",
            ),
            html.Td(str(s.open_alarms), className="reg-bad" if s.open_alarms else ""),
        ],
        id=f"one-system-{s.system_code}",
    )


def gateway_row(g: GatewayState, lang: str) -> html.Tr:
    """A gateway and whether it reports."""
    period = "—" if g.upload_period_s is None else f"{g.upload_period_s} s"
    return html.Tr(
        [
            html.Td(f"{g.name or g.gateway_id} ({g.gateway_id})"),
            html.Td(g.transport or "—"),
            html.Td(period),
            html.Td(online_text(g.online, lang)),
            html.Td(_iso(g.last_seen)),
        ],
        id=f"one-gateway-{g.gateway_id}",
    )


# ---------------------------------------------------------------- alarms and warnings


def tier_text(step: dict[str, Any], lang: str) -> str:
    """To whom a warning went: the tier and its regulator's region (督办 to 上海市 city level)."""
    code = str(step.get("regulator_adcode") or step.get("tier_adcode") or "")
    place = region(code).name if is_known_adcode(code) else code
    return f"{code_name('tier', step.get('tier'), lang)} {place}".strip()


def feedback_text(feedback: dict[str, Any] | None, lang: str) -> list[Any]:
    """The enterprise's feedback (cause, measures) and a regulator's reason for sending it back."""
    if not feedback:
        return []
    parts = feedback_lines(feedback, lang)
    if feedback.get("photos"):
        parts.append(html.P(f"{t('one.photos', lang)}: {len(feedback['photos'])}"))
    return parts


def _life_cell(item: dict[str, Any], prefix: str, kind: str, lang: str) -> html.Td:
    """An alarm's or warning's history and feedback, folded, and the way to handle it."""
    return html.Td(
        html.Details(
            [
                html.Summary(t("one.history", lang)),
                history_list(item.get("history") or [], prefix, lang, tier_text),
                *feedback_text(item.get("feedback"), lang),
                dcc.Link(t("one.handle", lang), href=f"/supervision?{kind}={item['id']}"),
            ]
        )
    )


def alarm_row(a: dict[str, Any], lang: str) -> html.Tr:
    """An alarm with its state, deadlines and, folded, its handling history and feedback."""
    overdue = bool(a.get("ack_overdue") or a.get("feedback_overdue"))
    state = state_name(a["state"], lang) + (f" ({t('one.overdue', lang)})" if overdue else "")
    what = " · ".join(
        x for x in (a.get("system_code"), a.get("indicator"), a.get("alarm_type")) if x
    )
    return html.Tr(
        [
            html.Td(local_time(a["raised_at"])),
            html.Td(what or "—"),
            html.Td(a["level"], className=f"alarm-level alarm-{a['level']}"),
            html.Td(state, className="reg-bad" if overdue else ""),
            _life_cell(a, "one.action", "alarm", lang),
        ],
        id=f"one-alarm-{a['id']}",
        className="overdue" if overdue else "",
    )


def warning_row(w: dict[str, Any], lang: str) -> html.Tr:
    """A warning with its level, state, deadlines, responsible tier and, folded, its history."""
    overdue = bool(w.get("ack_overdue") or w.get("feedback_overdue"))
    state = code_name("sup.wstate", w["state"], lang) + (
        f" ({t('one.overdue', lang)})" if overdue else ""
    )
    escalated = [h for h in w.get("history") or [] if h.get("action") == "escalated"]
    return html.Tr(
        [
            html.Td(local_time(w["raised_at"])),
            html.Td(code_name("sup.trigger", w["trigger"], lang)),
            html.Td(
                t(f"level.{w['level']}", lang), className=f"reg-level-text level-text-{w['level']}"
            ),
            html.Td(state, className="reg-bad" if overdue else ""),
            html.Td(
                tier_text({"tier": w["tier"], "tier_adcode": w["tier_adcode"]}, lang)
                + (f" ({t('one.escalated', lang)} ×{len(escalated)})" if escalated else "")
            ),
            _life_cell(w, "sup.waction", "warning", lang),
        ],
        id=f"one-warning-{w['id']}",
        className="overdue" if overdue else "",
    )


# ---------------------------------------------------------------- cleaning


def task_row(task: dict[str, Any], lang: str) -> html.Tr:
    """A cleaning task: its window, area and zone, and who checked it in when."""
    checkin = task.get("checkin") or {}
    who = (
        f"{checkin.get('operator')} {local_time(checkin.get('checked_in_at'))}" if checkin else "—"
    )
    state = task["state"]
    return html.Tr(
        [
            html.Td(
                f"{local_time(task['window_start'])}–{local_time(task['window_end'], '%H:%M')}"
            ),
            html.Td(f"{task['area']} ({t('one.zone', lang)} {task['zone']})"),
            html.Td(
                code_name("one.task", state, lang),
                className="reg-bad" if state == "OVERDUE" else "",
            ),
            html.Td(who),
            html.Td(str(len(task.get("photos") or []))),
        ],
        id=f"one-task-{task['id']}",
    )


def cleaning_section(screen: OneScreen, lang: str) -> html.Section:
    """Today's cleaning KPIs and the last week's tasks with their check-ins."""
    k = screen.cleaning_kpi
    rate = "—" if k.completion_rate is None else f"{k.completion_rate:.0%}"
    kpi = t("one.kpi", lang).format(due=k.due, done=k.done, rate=rate, overdue=k.overdue)
    rows = [task_row(task, lang) for task in screen.cleaning]
    return _card(
        "one-cleaning",
        t("one.cleaning", lang),
        html.Div(
            [
                html.P(kpi, className="one-kpi"),
                _table(
                    [
                        "one.col.window",
                        "one.col.area",
                        "one.col.state",
                        "one.col.checkin",
                        "one.col.photos",
                    ],
                    rows,
                    lang,
                    "one.no_tasks",
                ),
            ]
        ),
    )


# ---------------------------------------------------------------- the page


def live_content(screen: OneScreen, lang: str) -> html.Div:
    """Everything but the cameras (those stay put so a playing stream is not restarted)."""
    systems = [system_row(s, lang) for s in screen.systems]
    gateways = [gateway_row(g, lang) for g in screen.gateways]
    alarms = [alarm_row(a, lang) for a in screen.alarms]
    warnings = [warning_row(w, lang) for w in screen.warnings]
    shown = t("one.shown", lang)
    return html.Div(
        [
            profile(screen, lang),
            _card(
                "one-systems",
                t("one.systems", lang),
                _table(
                    [
                        "one.col.system",
                        "one.col.collector",
                        "one.col.running",
                        "one.col.points",
                        "one.col.alarms",
                    ],
                    systems,
                    lang,
                    "one.no_systems",
                ),
            ),
            _card(
                "one-alarms",
                f"{t('one.alarms', lang)} "
                f"({shown.format(n=len(alarms), total=screen.alarms_total)})",
                _table(
                    [
                        "one.col.raised",
                        "one.col.what",
                        "one.col.level",
                        "one.col.state",
                        "one.col.handling",
                    ],
                    alarms,
                    lang,
                    "one.no_alarms",
                ),
            ),
            _card(
                "one-warnings",
                f"{t('one.warnings', lang)} "
                f"({shown.format(n=len(warnings), total=screen.warnings_total)})",
                _table(
                    [
                        "one.col.raised",
                        "one.col.trigger",
                        "one.col.level",
                        "one.col.state",
                        "one.col.tier",
                        "one.col.handling",
                    ],
                    warnings,
                    lang,
                    "one.no_warnings",
                ),
            ),
            cleaning_section(screen, lang),
            _card(
                "one-devices",
                t("one.devices", lang),
                html.Div(
                    [
                        html.H4(t("one.gateways", lang)),
                        _table(
                            [
                                "one.col.gateway",
                                "one.col.transport",
                                "one.col.period",
                                "one.col.online",
                                "one.col.last_seen",
                            ],
                            gateways,
                            lang,
                            "one.no_gateways",
                        ),
                        html.H4(t("one.points", lang)),
                        plant_view(screen.plant, lang),
                    ]
                ),
                "one-wide",
            ),
        ],
        className="one-grid",
    )


def page_for(
    scope: Scope | None,
    credit_code: str,
    dsn: str,
    links: LiveLinks,
    lang: str = DEFAULT_LANG,
) -> html.Div:
    """The one-screen view for this caller, or "not found" outside its jurisdiction."""
    if scope is None:
        return login_prompt(lang, f"/onescreen/{credit_code}")
    screen = _screen(scope, credit_code, dsn, lang, links)
    if screen is None:
        return html.Div(not_found(lang), id=ONE_NOT_FOUND)
    return html.Div(
        [
            dcc.Store(id=ONE_CODE, data=credit_code),
            dcc.Interval(id=ONE_TICK, interval=REFRESH_MS, n_intervals=0),
            html.H2(screen.header.name, id=ONE_NAME),
            html.Div(live_content(screen, lang), id=ONE_CONTENT),
            html.Section(
                [
                    html.H3(t("one.video", lang), id="one-video-heading"),
                    html.Button(t("one.reload_video", lang), id=ONE_CAMERAS_RELOAD, n_clicks=0),
                    html.Div(cameras_content(screen.cameras, lang), id=ONE_CAMERAS),
                ],
                id="one-video",
                className="reg-card",
            ),
        ],
        className="reg-page one-page",
    )


def layout(credit_code: str | None = None, **_: Any) -> html.Div:
    """The page for the logged-in caller (Chinese first; callbacks follow the switch)."""
    return page_for(request_scope(), credit_code or "", database_url(), live_links(app_settings()))


@callback(
    Output(ONE_NOT_FOUND, "children"),
    Input(ids.LANG_STORE, "data"),
)
def render_not_found(lang: str) -> html.Div:
    """The "not found" content in the chosen language."""
    return not_found(lang)


@callback(
    Output(ONE_CONTENT, "children"),
    Input(ONE_TICK, "n_intervals"),
    Input(ids.LANG_STORE, "data"),
    State(ONE_CODE, "data"),
)
def refresh(_n: int, lang: str, credit_code: str) -> html.Div:
    """Re-read everything but the cameras, on every tick and on a language switch."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    scope = request_scope()
    if scope is None or not isinstance(credit_code, str):
        raise PreventUpdate
    screen = _screen(scope, credit_code, database_url(), lang, live_links(app_settings()))
    if screen is None:
        raise PreventUpdate  # out of scope meanwhile: show nothing new
    return live_content(screen, lang)


@callback(
    Output(ONE_CAMERAS, "children"),
    Output("one-video-heading", "children"),
    Output(ONE_CAMERAS_RELOAD, "children"),
    Input(ONE_CAMERAS_RELOAD, "n_clicks"),
    Input(ids.LANG_STORE, "data"),
    State(ONE_CODE, "data"),
)
def reload_cameras(_n: int, lang: str, credit_code: str) -> tuple[Any, str, str]:
    """Fresh signed live URLs (they expire after a few minutes) and the camera states."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    scope = request_scope()
    if scope is None or not isinstance(credit_code, str):
        raise PreventUpdate
    cameras = cameras_for(scope, credit_code, database_url(), live_links(app_settings()))
    return cameras_content(cameras, lang), t("one.video", lang), t("one.reload_video", lang)
