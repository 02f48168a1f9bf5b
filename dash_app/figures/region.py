"""Figures of the regulator's pages, as pure functions: data in, Plotly figure out.

The map is drawn on plain cartesian axes (``go.Scatter`` polygons + ``go.Scattergl`` points), not
on Plotly's geo subplot: a geo trace with a ``locationmode`` (every ``Choropleth``) makes plotly.js
fetch base-map topojson from cdn.plot.ly, and the machines and government networks are offline.
Enterprises are WebGL points (one trace per level, no DOM node per point); above ``MAX_POINTS``
they are aggregated into grid cells sized by count and coloured by the worst level in the cell.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

import plotly.graph_objects as go
from dash import dcc, html

from dash_app.i18n import t
from dash_app.queries import EnterprisePoint, LevelChange, LevelTrend, SubRegion, TierWarnings
from dash_app.timefmt import china_time

__all__ = [
    "GRID_CELLS",
    "LEVEL_COLOURS",
    "LEVEL_ORDER",
    "MAX_POINTS",
    "click_target",
    "counts_per_region",
    "level_changes_view",
    "level_trend_figure",
    "levels_bar",
    "region_map",
    "regions_bar",
    "warnings_bar",
    "worst_level",
]

# Worst first: the order of legends, stacks and "worst level present".
LEVEL_ORDER: Final = ("red", "orange", "yellow", "blue", "unknown")
LEVEL_COLOURS: Final = {
    "red": "#e60012",
    "orange": "#ff8c00",
    "yellow": "#f5c400",
    "blue": "#1e6fd9",
    "unknown": "#9e9e9e",
}
REGION_FILL: Final = {
    "red": "rgba(230, 0, 18, 0.30)",
    "orange": "rgba(255, 140, 0, 0.30)",
    "yellow": "rgba(245, 196, 0, 0.30)",
    "blue": "rgba(30, 111, 217, 0.22)",
    "unknown": "rgba(158, 158, 158, 0.15)",
}
MAX_POINTS: Final = 2000
GRID_CELLS: Final = 60  # cells across the wider side of the map when aggregating


def _level(level: str) -> str:
    return level if level in LEVEL_ORDER else "unknown"


def worst_level(counts: Mapping[str, int]) -> str:
    """The worst level with at least one enterprise ("unknown" when none is evaluated)."""
    return next((lvl for lvl in LEVEL_ORDER if counts.get(lvl, 0) > 0), "unknown")


def counts_per_region(
    regions: Sequence[SubRegion], enterprises: Sequence[EnterprisePoint]
) -> dict[str, dict[str, int]]:
    """Enterprises per level in each region (every level present, zero when none)."""
    counts = {r.adcode: dict.fromkeys(LEVEL_ORDER, 0) for r in regions}
    for ent in enterprises:
        home = next((r.adcode for r in regions if ent.adcode.startswith(r.prefix)), None)
        if home is not None:
            counts[home][_level(ent.level)] += 1
    return counts


def _summary(counts: Mapping[str, int], lang: str) -> str:
    parts = [f"{t(f'level.{lvl}', lang)} {counts[lvl]}" for lvl in LEVEL_ORDER if counts.get(lvl)]
    return " · ".join(parts) or f"0 {t('region.enterprises', lang)}"


def _polygon_xy(sub: SubRegion) -> tuple[list[float | None], list[float | None]]:
    xs: list[float | None] = []
    ys: list[float | None] = []
    for ring in sub.rings:
        if xs:
            xs.append(None)
            ys.append(None)
        xs.extend(p[0] for p in ring)
        ys.extend(p[1] for p in ring)
    return xs, ys


def _label_point(sub: SubRegion) -> tuple[float, float] | None:
    if not sub.rings:
        return None
    ring = max(sub.rings, key=len)
    return sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring)


def region_map(
    regions: Sequence[SubRegion],
    enterprises: Sequence[EnterprisePoint],
    lang: str,
    *,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """Sub-regions filled by their worst risk level, enterprises as points coloured by level.

    Clicking a sub-region (its area or its label) or an enterprise gives a ``customdata`` /
    ``meta`` holding the page to open (see ``click_target``).
    """
    counts = counts_per_region(regions, enterprises)
    fig = go.Figure()
    labels_x: list[float] = []
    labels_y: list[float] = []
    labels_text: list[str] = []
    labels_href: list[str] = []
    for sub in regions:
        xs, ys = _polygon_xy(sub)
        worst = worst_level(counts[sub.adcode])
        href = f"/region/{sub.adcode}"
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                fill="toself",
                fillcolor=REGION_FILL[worst],
                line={"color": "#555555", "width": 1},
                hoveron="fills",
                name=f"{sub.name}：{_summary(counts[sub.adcode], lang)}",
                meta=href,
                showlegend=False,
            )
        )
        label = _label_point(sub)
        if label is not None:
            labels_x.append(label[0])
            labels_y.append(label[1])
            labels_text.append(sub.name)
            labels_href.append(href)
    fig.add_trace(
        go.Scatter(
            x=labels_x,
            y=labels_y,
            mode="text",
            text=labels_text,
            customdata=labels_href,
            hoverinfo="skip",
            showlegend=False,
            textfont={"size": 12, "color": "#222222"},
        )
    )
    located = [e for e in enterprises if e.lon is not None and e.lat is not None]
    if len(located) > max_points:
        _add_cells(fig, located, lang)
    else:
        _add_points(fig, located, lang)
    _frame(fig, regions, located)
    return fig


def _add_points(fig: go.Figure, located: Sequence[EnterprisePoint], lang: str) -> None:
    by_level: dict[str, list[EnterprisePoint]] = defaultdict(list)
    for ent in located:
        by_level[_level(ent.level)].append(ent)
    for lvl in LEVEL_ORDER:
        group = by_level.get(lvl)
        if not group:
            continue
        fig.add_trace(
            go.Scattergl(
                x=[e.lon for e in group],
                y=[e.lat for e in group],
                mode="markers",
                marker={
                    "color": LEVEL_COLOURS[lvl],
                    "size": 9,
                    "line": {"color": "#ffffff", "width": 1},
                },
                name=f"{t(f'level.{lvl}', lang)} ({len(group)})",
                text=[e.name for e in group],
                customdata=[f"/enterprise/{e.credit_code}" for e in group],
                hovertemplate="%{text}<extra></extra>",
            )
        )


def _add_cells(fig: go.Figure, located: Sequence[EnterprisePoint], lang: str) -> None:
    lons = [e.lon for e in located if e.lon is not None]
    lats = [e.lat for e in located if e.lat is not None]
    span = max(max(lons) - min(lons), max(lats) - min(lats)) or 1.0
    size = span / GRID_CELLS
    cells: dict[tuple[int, int], list[EnterprisePoint]] = defaultdict(list)
    for ent in located:
        lon, lat = ent.lon or 0.0, ent.lat or 0.0  # located: both set
        cells[(math.floor(lon / size), math.floor(lat / size))].append(ent)
    by_level: dict[str, list[list[EnterprisePoint]]] = defaultdict(list)
    for members in cells.values():
        by_level[worst_level(Counter(_level(e.level) for e in members))].append(members)
    biggest = max(len(m) for m in cells.values())
    for lvl in LEVEL_ORDER:
        groups = by_level.get(lvl)
        if not groups:
            continue
        fig.add_trace(
            go.Scattergl(
                x=[sum(e.lon or 0.0 for e in m) / len(m) for m in groups],
                y=[sum(e.lat or 0.0 for e in m) / len(m) for m in groups],
                mode="markers",
                marker={
                    "color": LEVEL_COLOURS[lvl],
                    "size": [6 + 18 * math.sqrt(len(m) / biggest) for m in groups],
                    "opacity": 0.8,
                },
                name=f"{t(f'level.{lvl}', lang)} ({sum(len(m) for m in groups)})",
                text=[
                    f"{len(m)} {t('region.enterprises', lang)}："
                    + _summary(Counter(_level(e.level) for e in m), lang)
                    for m in groups
                ],
                hovertemplate="%{text}<extra></extra>",
            )
        )


def _frame(
    fig: go.Figure, regions: Sequence[SubRegion], located: Sequence[EnterprisePoint]
) -> None:
    lats = [p[1] for r in regions for ring in r.rings for p in ring]
    lats += [e.lat for e in located if e.lat is not None]
    mid = (min(lats) + max(lats)) / 2 if lats else 30.0
    fig.update_layout(
        xaxis={"visible": False},
        # a degree of longitude is cos(latitude) as long as one of latitude
        yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1 / math.cos(math.radians(mid))},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        hovermode="closest",
        clickmode="event",
        dragmode="pan",
        legend={"orientation": "h", "y": 0.0, "x": 0.0, "bgcolor": "rgba(255,255,255,0.7)"},
        uirevision="region-map",
    )


def click_target(
    click_data: Mapping[str, Any] | None, figure: Mapping[str, Any] | None
) -> str | None:
    """The page a click on the map opens: a point's ``customdata``, else its trace's ``meta``."""
    if not click_data or not click_data.get("points"):
        return None
    point: Mapping[str, Any] = click_data["points"][0]
    target = point.get("customdata")
    if target is None and figure is not None:
        traces: Sequence[Mapping[str, Any]] = figure.get("data", [])
        curve = point.get("curveNumber")
        if isinstance(curve, int) and 0 <= curve < len(traces):
            target = traces[curve].get("meta")
    if isinstance(target, list):
        target = target[0] if target else None
    return target if isinstance(target, str) and target.startswith("/") else None


def levels_bar(enterprises: Sequence[EnterprisePoint], lang: str) -> go.Figure:
    """Enterprises per risk level, one coloured bar per level."""
    counts = Counter(_level(e.level) for e in enterprises)
    fig = go.Figure(
        go.Bar(
            x=[t(f"level.{lvl}", lang) for lvl in LEVEL_ORDER],
            y=[counts.get(lvl, 0) for lvl in LEVEL_ORDER],
            marker={"color": [LEVEL_COLOURS[lvl] for lvl in LEVEL_ORDER]},
            text=[counts.get(lvl, 0) for lvl in LEVEL_ORDER],
            textposition="auto",
        )
    )
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40}, yaxis={"title": t("overview.count", lang)}
    )
    return fig


def regions_bar(
    regions: Sequence[SubRegion], enterprises: Sequence[EnterprisePoint], lang: str
) -> go.Figure:
    """Enterprises per sub-region, stacked by level."""
    counts = counts_per_region(regions, enterprises)
    names = [r.name for r in regions]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=[counts[r.adcode][lvl] for r in regions],
                name=t(f"level.{lvl}", lang),
                marker={"color": LEVEL_COLOURS[lvl]},
                customdata=[f"/region/{r.adcode}" for r in regions],
            )
            for lvl in LEVEL_ORDER
        ]
    )
    fig.update_layout(
        barmode="stack",
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        yaxis={"title": t("overview.count", lang)},
        legend={"orientation": "h"},
    )
    return fig


def warnings_bar(tiers: Sequence[TierWarnings], lang: str) -> go.Figure:
    """Open and overdue warnings per responsible tier, side by side."""
    labels = [t(f"tier.{w.tier}", lang) if w.tier in _TIER_KEYS else w.tier for w in tiers]
    fig = go.Figure(
        [
            go.Bar(x=labels, y=[w.open for w in tiers], name=t("overview.open", lang)),
            go.Bar(
                x=labels,
                y=[w.overdue for w in tiers],
                name=t("overview.overdue", lang),
                marker={"color": LEVEL_COLOURS["red"]},
            ),
        ]
    )
    fig.update_layout(barmode="group", margin={"l": 40, "r": 10, "t": 10, "b": 40})
    return fig


_TIER_KEYS: Final = frozenset({"county", "county_lead", "city", "province", "ministry"})


def level_trend_figure(trend: LevelTrend, lang: str) -> go.Figure:
    """Enterprises per risk level at each day's end, stacked areas (blue at the bottom)."""
    fig = go.Figure(
        [
            go.Scatter(
                x=list(trend.days),
                y=list(trend.counts[lvl]),
                name=t(f"level.{lvl}", lang),
                mode="lines",
                stackgroup="levels",
                line={"color": LEVEL_COLOURS[lvl], "width": 1},
                fillcolor=LEVEL_COLOURS[lvl],
                hovertemplate="%{x|%Y-%m-%d}: %{y}<extra>%{fullData.name}</extra>",
            )
            for lvl in reversed(LEVEL_ORDER[:-1])
        ]
    )
    fig.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        yaxis={"title": t("overview.count", lang), "rangemode": "tozero"},
        xaxis={"tickformat": "%m-%d"},
        legend={"orientation": "h"},
        hovermode="x unified",
    )
    return fig


def _level_badge(level: str, lang: str) -> html.Span:
    return html.Span(t(f"level.{_level(level)}", lang), className=f"ovw-level ovw-level-{level}")


def level_changes_view(changes: Sequence[LevelChange], lang: str, *, id_prefix: str) -> html.Div:
    """How many enterprises went up and down today, and a row per enterprise: old → new level,
    the time of the change (China time) and a link to its page."""
    up = sum(1 for c in changes if c.rose)
    counts = html.Div(
        [
            html.Span(
                [t("ovw.changes_up", lang), " ", html.B(str(up), id=f"{id_prefix}-up")],
                className="ovw-up",
            ),
            html.Span(
                [
                    t("ovw.changes_down", lang),
                    " ",
                    html.B(str(len(changes) - up), id=f"{id_prefix}-down"),
                ],
                className="ovw-down",
            ),
        ],
        className="ovw-counts",
    )
    if not changes:
        return html.Div([counts, html.P(t("ovw.no_changes", lang))])
    header = html.Tr(
        [html.Th(t(k, lang)) for k in ("ovw.enterprise", "ovw.change", "ovw.changed_at")]
    )
    rows = [
        html.Tr(
            [
                html.Td(dcc.Link(c.name, href=f"/enterprise/{c.credit_code}")),
                html.Td(
                    [
                        _level_badge(c.old, lang),
                        html.Span(" → "),
                        _level_badge(c.new, lang),
                        html.Span(" ▲" if c.rose else " ▼", className="ovw-arrow"),
                    ]
                ),
                html.Td(china_time(c.at, "%H:%M")),
            ],
            id=f"{id_prefix}-{c.credit_code}",
            className="ovw-rose" if c.rose else "ovw-fell",
        )
        for c in changes
    ]
    return html.Div(
        [counts, html.Table([html.Thead(header), html.Tbody(rows)], className="ovw-changes")]
    )
