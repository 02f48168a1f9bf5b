"""Pure builders of the comprehensive analysis (综合分析): an ``Analysis`` in; tables, charts and
the Excel workbook out.

Every table is built once as a ``Table`` (typed cells, header keys); the page draws it as HTML
and the export writes it as one sheet, so the file holds exactly the rows the page shows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final, Literal

import openpyxl  # type: ignore[import-untyped]
import plotly.graph_objects as go
from dash import dcc, html
from openpyxl.styles import Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from dash_app.analysis_queries import (
    FREQUENT_ALARMS,
    QUALITY_DAYS,
    REQUIRED_FIELDS,
    STATS_DAYS,
    Analysis,
    Area,
    Listing,
    PointIssue,
)
from dash_app.i18n import t
from dash_app.timefmt import china_time, in_china
from risk.statistics import china_day
from twins.errors import InvalidThingError
from twins.regions import region

__all__ = [
    "Column",
    "Link",
    "Table",
    "coverage_chart",
    "missing_chart",
    "online_trend_chart",
    "quality_chart",
    "table_view",
    "tables",
    "workbook",
]

CellKind = Literal["text", "int", "pct", "datetime", "date"]
QUALITY_KEYS: Final = frozenset({"GOOD", "FAULT", "MAINT", "OVER_RANGE"})
SHEET_NAME_MAX: Final = 31  # Excel's limit
_HEADER_FILL: Final = PatternFill("solid", fgColor="DDEBF7")
_NUMBER_FORMATS: Final = {"pct": "0.0%", "datetime": "yyyy-mm-dd hh:mm", "date": "yyyy-mm-dd"}
_CHART_MARGIN: Final = {"l": 40, "r": 10, "t": 10, "b": 40}


@dataclass(frozen=True)
class Link:
    """A cell that opens a page (the export keeps its text)."""

    text: str
    href: str


Cell = str | int | float | datetime | date | Link | None


@dataclass(frozen=True)
class Column:
    """A table's column: its header's string key and how its cells read."""

    label: str
    kind: CellKind = "text"
    wrap: bool = False  # long text (a list of missing items) wraps; other cells stay on one line


@dataclass(frozen=True)
class Table:
    """One table of the analysis: heading ``ana.table.<name>``, element id
    ``analysis-table-<name>``, one sheet of the export."""

    name: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total: int | None = None  # how many there are when only the first rows are listed
    ends_in_total: bool = False  # the last row sums up the others

    @property
    def element_id(self) -> str:
        """The id of the table on the page."""
        return f"analysis-table-{self.name}"


# ---------------------------------------------------------------- cells


def _area_name(area: Area | None, lang: str) -> str:
    if area is None:
        return t("ana.total", lang)
    return area.name or t("ana.unassigned", lang)


def _area_cell(area: Area | None, a: Analysis, lang: str) -> Cell:
    """A sub-region links to its own analysis (drill down); the total does not."""
    name = _area_name(area, lang)
    if area is None or not area.adcode or area.adcode == a.adcode:
        return name
    return Link(name, f"/analysis?adcode={area.adcode}")


def region_name(adcode: str) -> str:
    """The name of a region by its adcode (the code itself when it names none)."""
    try:
        return region(adcode).name
    except InvalidThingError:
        return adcode


def _quality_text(quality: str | None, lang: str) -> str:
    return t(f"ent.quality.{quality if quality in QUALITY_KEYS else 'none'}", lang)


def _enterprise(p: PointIssue) -> Link:
    return Link(p.enterprise, f"/enterprise/{p.credit_code}")


def _china(at: datetime | None) -> datetime | None:
    """China time without a zone and to the second (what Excel holds)."""
    return None if at is None else in_china(at).replace(tzinfo=None, microsecond=0)


def _cols(*spec: tuple[str, CellKind]) -> tuple[Column, ...]:
    return tuple(Column(f"ana.col.{label}", kind, wrap=label == "missing") for label, kind in spec)


# ---------------------------------------------------------------- the tables


def coverage_table(a: Analysis, lang: str) -> Table:
    """Should be / are connected / online, enterprises and systems, per area and in total."""
    columns = _cols(
        ("area", "text"),
        ("enterprises", "int"),
        ("key_enterprises", "int"),
        ("connected", "int"),
        ("online", "int"),
        ("connected_rate", "pct"),
        ("online_rate", "pct"),
        ("systems", "int"),
        ("systems_connected", "int"),
        ("systems_online", "int"),
        ("systems_online_rate", "pct"),
    )
    rows = tuple(
        (
            _area_cell(c.area, a, lang),
            c.enterprises,
            c.key_enterprises,
            c.connected,
            c.online,
            c.connected_rate,
            c.online_rate,
            c.systems,
            c.systems_connected,
            c.systems_online,
            c.systems_online_rate,
        )
        for c in a.coverage
    )
    return Table("coverage", columns, rows, ends_in_total=True)


def _names(a: Analysis) -> dict[str, str]:
    """Region names by adcode: the analysed region and its sub-regions."""
    return {a.adcode: a.name} | {area.adcode: area.name for area in a.areas}


def stats_table(a: Analysis, lang: str) -> Table:
    """The daily statistics behind the online-rate trend, per day and region."""
    names = _names(a)
    columns = _cols(
        ("day", "date"),
        ("area", "text"),
        ("day_online_rate", "pct"),
        ("data_rate", "pct"),
        ("enterprise_count", "int"),
    )
    rows = tuple(
        (s.day, names.get(s.adcode, s.adcode), s.online_rate, s.completeness, s.enterprises)
        for s in a.stats
    )
    return Table("stats", columns, rows)


def completeness_table(a: Analysis, lang: str) -> Table:
    """Enterprises with complete basic data and the share filled in, per area and in total."""
    columns = _cols(
        ("area", "text"), ("enterprise_count", "int"), ("complete", "int"), ("fill_rate", "pct")
    )
    rows = tuple(
        (_area_cell(c.area, a, lang), c.enterprises, c.complete, c.rate) for c in a.completeness
    )
    return Table("completeness", columns, rows, ends_in_total=True)


def missing_table(a: Analysis, lang: str) -> Table:
    """Each required item of basic data and how many enterprises lack it."""
    total = a.completeness[-1].enterprises
    columns = _cols(("field", "text"), ("missing_count", "int"), ("missing_share", "pct"))
    rows = tuple(
        (t(f"ana.field.{name}", lang), n, n / total if total else None)
        for name, n in a.missing_by_field
    )
    return Table("missing", columns, rows)


def worst_table(a: Analysis, lang: str) -> Table:
    """The enterprises lacking the most basic data, with what they lack."""
    columns = _cols(
        ("enterprise", "text"),
        ("credit_code", "text"),
        ("area", "text"),
        ("fill_rate", "pct"),
        ("missing", "text"),
    )
    rows = tuple(
        (
            Link(g.name, f"/enterprise/{g.credit_code}"),
            g.credit_code,
            region_name(g.adcode),
            g.rate,
            "、".join(t(f"ana.field.{m}", lang) for m in g.missing),
        )
        for g in a.worst
    )
    return Table("worst", columns, rows, total=a.incomplete)


def quality_table(a: Analysis, lang: str) -> Table:
    """Points online, offline, out of range or faulty, and alarming often, per area."""
    columns = _cols(
        ("area", "text"),
        ("points", "int"),
        ("points_online", "int"),
        ("stale", "int"),
        ("bad", "int"),
        ("frequent", "int"),
    )
    rows = tuple(
        (_area_cell(q.area, a, lang), q.points, q.online, q.stale, q.bad, q.frequent)
        for q in a.quality
    )
    return Table("quality", columns, rows, ends_in_total=True)


_POINT_COLUMNS: Final = (
    ("enterprise", "text"),
    ("area", "text"),
    ("system", "text"),
    ("point", "text"),
    ("indicator", "text"),
)


def _point_cells(p: PointIssue, lang: str) -> tuple[Cell, ...]:
    return (
        _enterprise(p),
        region_name(p.adcode),
        p.system_code,
        p.point_code,
        p.indicator_zh if lang == "zh" else p.indicator_en,
    )


def frequent_table(listing: Listing, lang: str) -> Table:
    """Points with frequent alarms in the window, most alarms first."""
    columns = _cols(*_POINT_COLUMNS, ("alarms", "int"), ("last_alarm", "datetime"))
    rows = tuple((*_point_cells(p, lang), p.alarms, _china(p.last_alarm)) for p in listing.rows)
    return Table("frequent", columns, rows, total=listing.total)


def bad_table(listing: Listing, lang: str) -> Table:
    """Points out of range or faulty now, or with such alarms in the window."""
    columns = _cols(
        *_POINT_COLUMNS, ("quality", "text"), ("bad_alarms", "int"), ("last_alarm", "datetime")
    )
    rows = tuple(
        (
            *_point_cells(p, lang),
            _quality_text(p.quality, lang),
            p.bad_alarms,
            _china(p.last_alarm),
        )
        for p in listing.rows
    )
    return Table("bad", columns, rows, total=listing.total)


def stale_table(listing: Listing, lang: str) -> Table:
    """Points without a valid value now, silent longest first."""
    columns = _cols(*_POINT_COLUMNS, ("last_seen", "datetime"))
    rows = tuple(
        (*_point_cells(p, lang), _china(p.last_seen) or t("ana.never", lang)) for p in listing.rows
    )
    return Table("stale", columns, rows, total=listing.total)


def tables(a: Analysis, lang: str) -> list[Table]:
    """Every table of the analysis, in the page's order (the export's sheets)."""
    return [
        coverage_table(a, lang),
        stats_table(a, lang),
        completeness_table(a, lang),
        missing_table(a, lang),
        worst_table(a, lang),
        quality_table(a, lang),
        frequent_table(a.frequent, lang),
        bad_table(a.bad, lang),
        stale_table(a.stale, lang),
    ]


# ---------------------------------------------------------------- on the page


def _text(value: Cell, kind: CellKind) -> str:
    if value is None:
        return "—"
    if isinstance(value, Link):
        return value.text
    if kind == "pct" and isinstance(value, int | float):
        return f"{value:.1%}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def _td(value: Cell, column: Column) -> html.Td:
    numeric = column.kind in ("int", "pct")
    content: str | dcc.Link = (
        dcc.Link(value.text, href=value.href)
        if isinstance(value, Link)
        else _text(value, column.kind)
    )
    return html.Td(content, className="ana-num" if numeric else "ana-wrap" if column.wrap else None)


def table_view(table: Table, lang: str) -> html.Div:
    """The table as HTML, its last row marked when it is the total; a line saying how many
    rows there are when only the first are listed."""
    header = html.Tr([html.Th(t(c.label, lang)) for c in table.columns])
    last = len(table.rows) - 1
    body = [
        html.Tr(
            [_td(v, c) for v, c in zip(row, table.columns, strict=True)],
            className="ana-total" if table.ends_in_total and n == last else None,
        )
        for n, row in enumerate(table.rows)
    ]
    parts: list[html.Table | html.P] = [
        html.Table(
            [html.Thead(header), html.Tbody(body)], id=table.element_id, className="ana-table"
        )
    ]
    if table.total is not None:
        note = (
            t("ana.listed", lang).format(shown=len(table.rows), total=table.total)
            if table.total > len(table.rows)
            else t("ana.count", lang).format(total=table.total)
        )
        parts.insert(0, html.P(note, className="ana-listed"))
    return html.Div(parts, className="ana-table-wrap")


# ---------------------------------------------------------------- charts


def _grouped_bars(
    x: list[str], series: tuple[tuple[str, list[int], str], ...], lang: str
) -> go.Figure:
    """Counts per area, a bar per (series key, counts, colour), side by side."""
    fig = go.Figure(
        [
            go.Bar(x=x, y=y, name=t(f"ana.series.{key}", lang), marker={"color": colour})
            for key, y, colour in series
        ]
    )
    fig.update_layout(
        barmode="group",
        margin=_CHART_MARGIN,
        yaxis={"title": t("ana.axis.count", lang), "rangemode": "tozero"},
        legend={"orientation": "h"},
    )
    return fig


def coverage_chart(a: Analysis, lang: str) -> go.Figure:
    """Enterprises to connect, connected and online, per area (grouped bars)."""
    per_area = a.coverage[:-1]
    x = [_area_name(c.area, lang) for c in per_area]
    series = (
        ("enterprises", [c.enterprises for c in per_area], "#9e9e9e"),
        ("connected", [c.connected for c in per_area], "#1e6fd9"),
        ("online", [c.online for c in per_area], "#2e7d32"),
    )
    return _grouped_bars(x, series, lang)


def online_trend_chart(a: Analysis, lang: str) -> go.Figure:
    """The online rate per day: the region (thick) and each sub-region (thin)."""
    names = _names(a)
    order = [a.adcode] + [area.adcode for area in a.areas if area.adcode != a.adcode]
    fig = go.Figure()
    for code in order:
        days = [s for s in a.stats if s.adcode == code]
        if not days:
            continue
        mine = code == a.adcode
        fig.add_trace(
            go.Scatter(
                x=[s.day for s in days],
                y=[s.online_rate for s in days],
                name=names.get(code, code),
                mode="lines+markers",
                line={"width": 3 if mine else 1.5},
                hovertemplate="%{x|%Y-%m-%d}: %{y:.1%}<extra>%{fullData.name}</extra>",
            )
        )
    if not fig.data:
        fig.add_annotation(
            text=t("ana.no_stats", lang), showarrow=False, xref="paper", yref="paper"
        )
    today = china_day(a.now)
    fig.update_layout(
        margin=_CHART_MARGIN,
        yaxis={"title": t("ana.axis.rate", lang), "tickformat": ".0%", "range": [0, 1.05]},
        # the whole window, even while the statistics cover only a few days of it
        xaxis={"tickformat": "%m-%d", "range": [today - timedelta(days=STATS_DAYS - 1), today]},
        legend={"orientation": "h"},
    )
    return fig


def missing_chart(a: Analysis, lang: str) -> go.Figure:
    """How many enterprises lack each required item (horizontal bars, most lacked on top)."""
    ranked = sorted(a.missing_by_field, key=lambda item: item[1])
    fig = go.Figure(
        go.Bar(
            x=[n for _, n in ranked],
            y=[t(f"ana.field.{name}", lang) for name, _ in ranked],
            orientation="h",
            marker={"color": "#ff8c00"},
            text=[n for _, n in ranked],
            textposition="auto",
        )
    )
    fig.update_layout(
        margin={"l": 140, "r": 10, "t": 10, "b": 40},
        height=max(300, 24 * len(REQUIRED_FIELDS)),
        xaxis={"title": t("ana.col.missing_count", lang), "rangemode": "tozero"},
    )
    return fig


def quality_chart(a: Analysis, lang: str) -> go.Figure:
    """Offline, out-of-range or faulty, and frequently alarming points per area."""
    per_area = a.quality[:-1]
    x = [_area_name(q.area, lang) for q in per_area]
    series = (
        ("stale", [q.stale for q in per_area], "#9e9e9e"),
        ("bad", [q.bad for q in per_area], "#ff8c00"),
        ("frequent", [q.frequent for q in per_area], "#e60012"),
    )
    return _grouped_bars(x, series, lang)


# ---------------------------------------------------------------- the Excel export


def _sheet_title(title: str, taken: set[str]) -> str:
    clean = "".join(" " if ch in "[]:*?/\\" else ch for ch in title)[:SHEET_NAME_MAX].strip()
    name, n = clean or "Sheet", 2
    while name in taken:  # titles differ by language; never clash, but never fail either
        suffix = f" ({n})"
        name, n = clean[: SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def _write(cell: object, value: Cell, column: Column) -> None:
    if isinstance(value, Link):
        value = value.text
    cell.value = value  # type: ignore[attr-defined]
    if isinstance(value, str) and value.startswith("="):
        # text a user typed (an enterprise's name) must never become a formula in Excel
        cell.data_type = "s"  # type: ignore[attr-defined]
    number_format = _NUMBER_FORMATS.get(column.kind)
    if number_format and value is not None and not isinstance(value, str):
        cell.number_format = number_format  # type: ignore[attr-defined]


def workbook(a: Analysis, tables_: Sequence[Table], lang: str) -> bytes:
    """The tables as an .xlsx: one sheet per table (headers in ``lang``), then a sheet saying
    what was analysed, when, and how the numbers are defined."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    taken: set[str] = set()
    for table in tables_:
        sheet = book.create_sheet(_sheet_title(t(f"ana.table.{table.name}", lang), taken))
        sheet.append([t(c.label, lang) for c in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = _HEADER_FILL
        for r, row in enumerate(table.rows, start=2):
            for c, (value, column) in enumerate(zip(row, table.columns, strict=True), start=1):
                _write(sheet.cell(row=r, column=c), value, column)
        sheet.freeze_panes = "A2"
        for c, column in enumerate(table.columns, start=1):
            width = max(10, 2 * len(t(column.label, lang)) + 2)
            sheet.column_dimensions[get_column_letter(c)].width = width
    about = book.create_sheet(_sheet_title(t("ana.about", lang), taken))
    lines = [
        (t("ana.region", lang), f"{a.name} ({a.adcode})"),
        (t("ana.generated", lang), china_time(a.now, "%Y-%m-%d %H:%M:%S")),
        (t("ana.coverage", lang), t("ana.coverage_note", lang)),
        (t("ana.online_trend", lang), t("ana.online_trend_note", lang)),
        (
            t("ana.completeness", lang),
            t("ana.completeness_note", lang).format(n=len(REQUIRED_FIELDS)),
        ),
        (
            t("ana.quality", lang),
            t("ana.quality_note", lang).format(days=QUALITY_DAYS, n=FREQUENT_ALARMS),
        ),
    ]
    for table in tables_:
        if table.total is not None and table.total > len(table.rows):
            note = t("ana.listed", lang).format(shown=len(table.rows), total=table.total)
            lines.append((t(f"ana.table.{table.name}", lang), note))
    for label, text in lines:
        about.append([label, text])
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
