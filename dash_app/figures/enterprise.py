"""Pure builders of the enterprise live-twin page: plain data in, components and figures out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import plotly.graph_objects as go
from dash import html

from dash_app.components.history import gateway_label
from dash_app.enterprise_queries import PlantView, PointRow, RiskView, Trend
from dash_app.i18n import t
from dash_app.timefmt import china_axis, china_time
from risk.lifecycle import STATE_NAMES
from risk.model import COMPONENT_NAMES, LEVEL_NAMES

# Limit lines on a trend: name, colour, dash.
LIMIT_LINES: Final = (
    ("hha", "HHA", "#b00020", "solid"),
    ("ha", "HA", "#e67e00", "dash"),
    ("la", "LA", "#e67e00", "dash"),
    ("lla", "LLA", "#b00020", "solid"),
)
TOP_CONTRIBUTIONS: Final = 5
POINT_COLUMNS: Final = (
    "ent.point",
    "ent.value",
    "ent.unit",
    "ent.time",
    "ent.quality",
    "ent.alarm",
)


def not_found(lang: str) -> html.Div:
    """What an unknown enterprise, or one outside the caller's jurisdiction, shows."""
    return html.Div(
        [html.H2(t("ent.not_found", lang)), html.P(t("ent.not_found_detail", lang))],
        className="ent-not-found",
    )


# ---------------------------------------------------------------- the plant, live


def abnormal_reasons(point: PointRow) -> list[str]:
    """Why a point's value is abnormal: an open alarm, a quality not GOOD, or beyond a limit."""
    reasons = []
    if point.alarm_open:
        reasons.append("alarm")
    if point.quality is not None and point.quality != "GOOD":
        reasons.append("quality")
    v, lim = point.value, point.limits
    if v is not None and not point.limits_paused:
        high = [x for x in (lim.get("ha"), lim.get("hha")) if x is not None]
        low = [x for x in (lim.get("la"), lim.get("lla")) if x is not None]
        if (high and v > min(high)) or (low and v < max(low)):
            reasons.append("limit")
    return reasons


def _time_text(ts: str | None) -> str:
    if not ts:
        return "—"
    try:
        return china_time(datetime.fromisoformat(ts), "%m-%d %H:%M:%S")
    except ValueError:
        return ts


def _value_text(v: float | None) -> str:
    return "—" if v is None else f"{v:g}"


def point_row(point: PointRow, lang: str) -> html.Tr:
    """One point's row; its class says ``abnormal`` when it is."""
    abnormal = bool(abnormal_reasons(point))
    quality = t(f"ent.quality.{point.quality or 'none'}", lang)
    alarm = f"{point.alarm_level or ''} {point.alarm_state}".strip() if point.alarm_open else "—"
    return html.Tr(
        [
            html.Td([html.Span(point.name), html.Small(f" {point.point_code}")]),
            html.Td(_value_text(point.value), className="value"),
            html.Td(point.unit),
            html.Td(_time_text(point.ts)),
            html.Td(quality),
            html.Td(alarm),
        ],
        id=f"ent-point-{point.point_id}",
        className="abnormal" if abnormal else "normal",
    )


def plant_view(plant: PlantView, lang: str) -> html.Div:
    """The plant as systems, each a table of its points with live values."""
    if not plant.systems:
        return html.Div(html.P(t("ent.no_systems", lang)))
    header = html.Thead(html.Tr([html.Th(t(k, lang)) for k in POINT_COLUMNS]))
    sections = []
    for s in plant.systems:
        body = (
            [point_row(p, lang) for p in s.points]
            if s.points
            else [html.Tr(html.Td(t("ent.no_points", lang), colSpan=len(POINT_COLUMNS)))]
        )
        sections.append(
            html.Section(
                [
                    html.H4(f"{s.name} ({s.system_code})"),
                    html.Table([header, html.Tbody(body)], className="ent-points"),
                ],
                className="ent-system",
                id=f"ent-system-{s.system_code}",
            )
        )
    return html.Div(sections)


def point_options(plant: PlantView) -> list[dict[str, Any]]:
    """The points to pick a trend from (dropdown options)."""
    return [
        {"label": f"{s.name} · {p.name} ({p.point_code})", "value": p.point_id}
        for s in plant.systems
        for p in s.points
    ]


# ---------------------------------------------------------------- a point's trend


def trend_figure(
    trend: Trend | None, limits: Mapping[str, float | None], unit: str, lang: str
) -> go.Figure:
    """The point's values over the range, with its limits in force drawn as horizontal lines."""
    fig = go.Figure()
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
        height=320,
        yaxis_title=unit,
        legend={"orientation": "h"},
        uirevision="trend",
    )
    if trend is None:
        return fig
    if trend.raw:
        fig.add_trace(
            go.Scatter(
                x=china_axis(trend.times),
                y=trend.values,
                mode="lines",
                name=t("ent.trend_raw", lang),
            )
        )
    else:
        if trend.maxs:
            fig.add_trace(
                go.Scatter(
                    x=china_axis(trend.times),
                    y=trend.maxs,
                    mode="lines",
                    line={"width": 0},
                    showlegend=False,
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=china_axis(trend.times),
                    y=trend.mins,
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor="rgba(31,119,180,0.2)",
                    name=t("ent.trend_band", lang),
                )
            )
        fig.add_trace(
            go.Scatter(
                x=china_axis(trend.times),
                y=trend.values,
                mode="lines",
                name=t("ent.trend_avg", lang),
            )
        )
    for key, name, colour, dash in LIMIT_LINES:
        level = limits.get(key)
        if level is None:
            continue
        fig.add_trace(
            go.Scatter(
                x=china_axis([trend.start, trend.end]),
                y=[level, level],
                mode="lines",
                name=f"{name} {level:g}",
                line={"color": colour, "dash": dash, "width": 1},
                meta=name,
            )
        )
    fig.update_xaxes(range=china_axis([trend.start, trend.end]))
    if not trend.times:
        fig.add_annotation(
            text=t("ent.trend_empty", lang), showarrow=False, xref="paper", yref="paper"
        )
    return fig


# ---------------------------------------------------------------- risk


def _table(columns: Iterable[str], rows: list[html.Tr], lang: str, cls: str) -> html.Table:
    head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in columns]))
    return html.Table([head, html.Tbody(rows)], className=cls)


def risk_panel(view: RiskView | None, lang: str) -> html.Div:
    """Level and index, the three components with their biggest contributions, what lowers it."""
    if view is None:
        return html.Div(html.P(t("ent.risk_unavailable", lang)))
    ev = view.evaluation
    i = 0 if lang == "zh" else 1
    level_name = LEVEL_NAMES[ev.level][i]
    components = _table(
        ("ent.component", "ent.weight", "ent.component_value", "ent.weighted"),
        [
            html.Tr(
                [
                    html.Td(COMPONENT_NAMES[c.name][i]),
                    html.Td(f"{c.weight:g}"),
                    html.Td(f"{c.value:g}"),
                    html.Td(f"{c.weighted:g}"),
                ],
                id=f"ent-component-{c.name}",
            )
            for c in ev.components.values()
        ],
        lang,
        "ent-components",
    )
    contributions = sorted(
        (c for comp in ev.components.values() for c in comp.contributions if c.points > 0),
        key=lambda c: -c.points,
    )[:TOP_CONTRIBUTIONS]
    contribution_list = html.Ol(
        [
            html.Li(
                f"{c.explanation_zh if i == 0 else c.explanation_en} "
                f"(+{c.points:g}, {COMPONENT_NAMES[c.component][i]})"
            )
            for c in contributions
        ],
        className="ent-contributions",
    )
    parts: list[Any] = [
        html.Div(
            [
                html.Span(level_name, className=f"level level-{ev.level}"),
                html.Span(f"{t('ent.score', lang)} {ev.score:g}", className="score"),
            ],
            className="ent-level",
        ),
        html.H4(t("ent.composition", lang)),
        components,
        html.H4(t("ent.contributions", lang)),
        contribution_list,
    ]
    if ev.overrides:
        parts += [
            html.H4(t("ent.overrides", lang)),
            html.Ul(
                [
                    html.Li(f"{LEVEL_NAMES[o.level][i]}: {(o.explanation_zh, o.explanation_en)[i]}")
                    for o in ev.overrides
                ]
            ),
        ]
    levers = [html.Li((lv.action_zh, lv.action_en)[i]) for lv in view.levers]
    parts += [
        html.H4(t("ent.levers", lang)),
        html.Ol(levers, className="ent-levers") if levers else html.P(t("ent.no_levers", lang)),
    ]
    return html.Div(parts)


# ---------------------------------------------------------------- open alarms


def alarms_table(total: int, rows: list[dict[str, Any]], lang: str) -> html.Div:
    """The enterprise's open alarms: time, system, indicator, level, state (overdue marked)."""
    if not rows:
        return html.Div(html.P(t("ent.no_alarms", lang)))
    i = 0 if lang == "zh" else 1
    body = []
    for a in rows:
        overdue = bool(a.get("ack_overdue") or a.get("feedback_overdue"))
        state = STATE_NAMES.get(a["state"], (a["state"], a["state"]))[i]
        if overdue:
            state += f" ({t('ent.overdue', lang)})"
        raised: datetime = a["raised_at"]
        body.append(
            html.Tr(
                [
                    html.Td(china_time(raised, "%m-%d %H:%M")),
                    html.Td(a.get("system_code") or "—"),
                    html.Td(
                        gateway_label(str(a.get("thing_id", "")), lang)
                        or a.get("indicator")
                        or a.get("alarm_type")
                        or "—"
                    ),
                    html.Td(a["level"], className=f"alarm-level alarm-{a['level']}"),
                    html.Td(state),
                ],
                id=f"ent-alarm-{a['id']}",
                className="overdue" if overdue else "",
            )
        )
    table = _table(
        ("ent.raised_at", "ent.system", "ent.point", "ent.alarm_level", "ent.alarm_state"),
        body,
        lang,
        "ent-alarms",
    )
    return html.Div([html.P(f"{t('ent.alarms', lang)}: {total}"), table])
