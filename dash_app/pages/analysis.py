"""Comprehensive analysis (``/analysis``, 综合分析) of the caller's jurisdiction or ``?adcode=``
within it: enterprises and dust-removal systems that should be / are connected and online, the
online rate over 30 days, completeness of the basic data, sensor data quality; every table
exportable to Excel (one sheet per table) with the button ``ANALYSIS_EXPORT``.

Regulators (and admins) only: a region outside the jurisdiction, an unknown code and any other
role get the same "not found"; a caller not logged in gets the login prompt. The export callback
reads the caller's scope from the request again (its inputs can be forged) and builds the file
from the very tables the page draws.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import dash
import psycopg
from dash import Input, Output, State, callback, dcc, html
from dash.dcc.express import send_bytes
from dash.exceptions import PreventUpdate

from dash_app import ids
from dash_app.analysis_queries import (
    FREQUENT_ALARMS,
    QUALITY_DAYS,
    REQUIRED_FIELDS,
    Analysis,
    analysis,
)
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.figures.analysis import (
    Table,
    coverage_chart,
    missing_chart,
    online_trend_chart,
    quality_chart,
    table_view,
    tables,
    workbook,
)
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.queries import home_adcode, visible_region
from dash_app.timefmt import china_time, in_china
from device_catalog import load_catalog
from twins.regions import region
from twins.scope import Scope

dash.register_page(__name__, path="/analysis", name="analysis")  # type: ignore[no-untyped-call]

ANALYSIS_ADCODE: Final = "analysis-adcode"  # store: the ?adcode= the page was opened with
ANALYSIS_CONTENT: Final = "analysis-content"
ANALYSIS_NOT_FOUND: Final = "analysis-not-found"
ANALYSIS_EXPORT: Final = "analysis-export"  # button: download the .xlsx
ANALYSIS_DOWNLOAD: Final = "analysis-download"
ANALYSIS_EXPORT_MESSAGE: Final = "analysis-export-message"
ANALYSIS_COVERAGE_CHART: Final = "analysis-coverage-chart"
ANALYSIS_ONLINE_TREND: Final = "analysis-online-trend"
ANALYSIS_MISSING_CHART: Final = "analysis-missing-chart"
ANALYSIS_QUALITY_CHART: Final = "analysis-quality-chart"
ANALYSIS_UP: Final = "analysis-up"
# each table's id is "analysis-table-<name>": coverage, stats, completeness, missing, worst,
# quality, frequent, bad, stale (see dash_app.figures.analysis.Table.element_id)
XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

GRAPH_CONFIG: dcc.Graph.Config = {"displaylogo": False, "responsive": True}


def layout(adcode: str | None = None, **_: Any) -> html.Div:
    """The analysis of ``adcode`` (default: the caller's own jurisdiction), in Chinese."""
    return html.Div(
        [
            dcc.Store(id=ANALYSIS_ADCODE, data=adcode),
            dcc.Download(id=ANALYSIS_DOWNLOAD),
            html.Div(
                page_content(request_scope(), adcode, DEFAULT_LANG, database_url()),
                id=ANALYSIS_CONTENT,
            ),
        ],
        className="ana-page",
    )


def report_for(
    scope: Scope | None, adcode: str | None, dsn: str, now: datetime | None = None
) -> Analysis | None:
    """The analysis the caller may see: None outside its jurisdiction (or not a regulator)."""
    code = adcode or home_adcode(scope)
    if scope is None or code is None or visible_region(scope, code) is None:
        return None
    with psycopg.connect(dsn) as conn:
        return analysis(conn, scope, code, now or datetime.now(UTC), load_catalog())


def _not_found(lang: str) -> html.Div:
    return html.Div(
        [html.H2(t("region.not_found", lang)), html.P(t("region.not_found_detail", lang))],
        id=ANALYSIS_NOT_FOUND,
        className="not-found",
    )


def page_content(
    scope: Scope | None, adcode: str | None, lang: str, dsn: str, now: datetime | None = None
) -> Any:
    """The analysis, the login prompt, or "not found"."""
    if scope is None:
        return login_prompt(lang, f"/analysis?adcode={adcode}" if adcode else "/analysis")
    report = report_for(scope, adcode, dsn, now)
    if report is None:
        return _not_found(lang)
    return analysis_view(scope, report, lang)


def _graph(element_id: str, figure: Any) -> dcc.Graph:
    return dcc.Graph(id=element_id, figure=figure, config=GRAPH_CONFIG)


def _table(table: Table, lang: str, *, heading: bool = True) -> list[Any]:
    view = table_view(table, lang)
    return [html.H4(t(f"ana.table.{table.name}", lang)), view] if heading else [view]


def _actions(scope: Scope, report: Analysis, lang: str) -> html.Div:
    links: list[Any] = [
        html.Button(t("ana.export", lang), id=ANALYSIS_EXPORT, n_clicks=0, className="ana-export"),
        dcc.Link(t("ana.overview", lang), href=f"/overview?adcode={report.adcode}"),
        dcc.Link(t("region.map", lang), href=f"/region/{report.adcode}"),
    ]
    parent = region(report.adcode).parent
    if parent is not None and visible_region(scope, parent) is not None:
        links.append(dcc.Link(t("ana.up", lang), href=f"/analysis?adcode={parent}", id=ANALYSIS_UP))
    return html.Div(
        [*links, html.Span(id=ANALYSIS_EXPORT_MESSAGE, className="ana-message")],
        className="ana-actions",
    )


def analysis_view(scope: Scope, report: Analysis, lang: str) -> html.Div:
    """The four sections of the analysis with their charts and tables."""
    by_name = {table.name: table for table in tables(report, lang)}
    at = china_time(report.now)
    return html.Div(
        [
            html.H2(f"{report.name} · {t('ana.heading', lang)}"),
            html.P(f"{t('ana.generated', lang)}: {at}", className="ana-note"),
            _actions(scope, report, lang),
            html.Section(
                [
                    html.H3(t("ana.coverage", lang)),
                    html.P(t("ana.coverage_note", lang), className="ana-note"),
                    _graph(ANALYSIS_COVERAGE_CHART, coverage_chart(report, lang)),
                    *_table(by_name["coverage"], lang, heading=False),
                ],
                className="ana-section",
            ),
            html.Section(
                [
                    html.H3(t("ana.online_trend", lang)),
                    html.P(t("ana.online_trend_note", lang), className="ana-note"),
                    _graph(ANALYSIS_ONLINE_TREND, online_trend_chart(report, lang)),
                    html.Details(
                        [
                            html.Summary(t("ana.show_data", lang)),
                            *_table(by_name["stats"], lang, heading=False),
                        ]
                    ),
                ],
                className="ana-section",
            ),
            html.Section(
                [
                    html.H3(t("ana.completeness", lang)),
                    html.P(
                        t("ana.completeness_note", lang).format(n=len(REQUIRED_FIELDS)),
                        className="ana-note",
                    ),
                    *_table(by_name["completeness"], lang, heading=False),
                    _graph(ANALYSIS_MISSING_CHART, missing_chart(report, lang)),
                    html.Details(
                        [
                            html.Summary(t("ana.show_data", lang)),
                            *_table(by_name["missing"], lang, heading=False),
                        ]
                    ),
                    *_table(by_name["worst"], lang),
                ],
                className="ana-section",
            ),
            html.Section(
                [
                    html.H3(t("ana.quality", lang)),
                    html.P(
                        t("ana.quality_note", lang).format(days=QUALITY_DAYS, n=FREQUENT_ALARMS),
                        className="ana-note",
                    ),
                    *_table(by_name["quality"], lang, heading=False),
                    _graph(ANALYSIS_QUALITY_CHART, quality_chart(report, lang)),
                    *_table(by_name["frequent"], lang),
                    *_table(by_name["bad"], lang),
                    *_table(by_name["stale"], lang),
                ],
                className="ana-section",
            ),
        ]
    )


def export_file(
    scope: Scope | None, adcode: str | None, lang: str, dsn: str, now: datetime | None = None
) -> tuple[dict[str, Any] | None, str]:
    """The .xlsx to download (as ``dcc.send_bytes`` gives it) and the line to show; no file
    outside the caller's jurisdiction, the same message as the page's "not found"."""
    if scope is None:
        return None, t("auth.required", lang)
    report = report_for(scope, adcode, dsn, now)
    if report is None:
        return None, t("region.not_found_detail", lang)
    data = workbook(report, tables(report, lang), lang)
    local = in_china(report.now)
    filename = f"{t('ana.file', lang)}_{report.adcode}_{local:%Y%m%d-%H%M}.xlsx"
    message = t("ana.exported", lang).format(at=f"{local:%Y-%m-%d %H:%M}")
    sent: dict[str, Any] = send_bytes(data, filename, type=XLSX_MEDIA_TYPE)  # type: ignore[no-untyped-call]
    return sent, message


@callback(
    Output(ANALYSIS_CONTENT, "children"),
    Input(ids.LANG_STORE, "data"),
    State(ANALYSIS_ADCODE, "data"),
)
def render(lang: str, adcode: str | None) -> Any:
    """Render the analysis again in the chosen language (the layout is already Chinese)."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    return page_content(request_scope(), adcode, lang, database_url())


@callback(
    Output(ANALYSIS_DOWNLOAD, "data"),
    Output(ANALYSIS_EXPORT_MESSAGE, "children"),
    Input(ANALYSIS_EXPORT, "n_clicks"),
    State(ANALYSIS_ADCODE, "data"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def export(clicks: int | None, adcode: str | None, lang: str) -> tuple[Any, str]:
    """The Excel file of the analysis the caller sees now."""
    if not clicks:
        raise PreventUpdate
    sent, message = export_file(request_scope(), adcode, lang or DEFAULT_LANG, database_url())
    return (sent if sent is not None else dash.no_update), message
