"""Online spot check (``/spotcheck``, 在线抽查): a regulator searches the enterprises of its
jurisdiction by region, industry, dust-exposed workers, risk level, dust type, online state, open
alarms, open warnings and name or credit code; each result opens the one-screen view.

``/spotcheck?q=华晟&region=310113`` starts with those filters filled in. Every callback reads
the caller's scope again from the request: the filter values are plain inputs a caller can
forge, and the search is always confined to the jurisdiction (a region outside it finds nothing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, NamedTuple

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate
from psycopg import AsyncConnection

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.components.forms import field, submit
from dash_app.components.paging import PAGE_SIZE, PageShown, load_page, page_shown, summary
from dash_app.enterprise_queries import run
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.regulator_queries import (
    UNKNOWN_LEVEL,
    EnterpriseRow,
    SpotFilter,
    industry_options,
    region_options,
    search_enterprises,
)
from risk.model import LEVELS
from twins.regions import Region
from twins.schemas import DUST_TYPE_NAMES
from twins.scope import Scope

dash.register_page(__name__, path="/spotcheck", name="spotcheck")  # type: ignore[no-untyped-call]

# component ids (a browser test finds the page by these)
SPOT_HEADING: Final = "spot-heading"
SPOT_PAGE: Final = "spot-page"  # store: the page of results shown (0-based)
SPOT_FORM: Final = "spot-form"
SPOT_REGION: Final = "spot-region"
SPOT_INDUSTRY: Final = "spot-industry"
SPOT_WORKERS_MIN: Final = "spot-workers-min"
SPOT_WORKERS_MAX: Final = "spot-workers-max"
SPOT_LEVEL: Final = "spot-level"
SPOT_DUST: Final = "spot-dust"
SPOT_ONLINE: Final = "spot-online"
SPOT_ALARMS: Final = "spot-alarms"
SPOT_WARNINGS: Final = "spot-warnings"
SPOT_NAME: Final = "spot-name"
SPOT_SEARCH: Final = "spot-search"
SPOT_COUNT: Final = "spot-count"
SPOT_PREV: Final = "spot-prev"
SPOT_NEXT: Final = "spot-next"
SPOT_RESULTS: Final = "spot-results"
SPOT_TABLE: Final = "spot-table"
SPOT_DENIED: Final = "spot-denied"
# rows: f"spot-row-{credit_code}", the link to the one-screen view: f"spot-open-{credit_code}"

MAX_WORKERS: Final = 1_000_000
YES, NO = "yes", "no"
REGULATOR_ROLES: Final = frozenset({"regulator", "admin"})


class FormValues(NamedTuple):
    """What the search form holds, as the browser sends it (anything may be forged)."""

    region: Any = None
    industry: Any = None
    workers_min: Any = None
    workers_max: Any = None
    levels: Any = ()
    dust: Any = None
    online: Any = None
    alarms: Any = None
    warnings: Any = None
    q: Any = None


def _text(value: Any, max_len: int = 100) -> str | None:
    return (value.strip()[:max_len] or None) if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(max(int(value), 0), MAX_WORKERS)


def _yes_no(value: Any) -> bool | None:
    return {YES: True, NO: False}.get(value) if isinstance(value, str) else None


def filter_from(values: FormValues) -> SpotFilter:
    """The search the form asks for; a value that is not one the form offers counts as unset."""
    levels = values.levels if isinstance(values.levels, list | tuple) else []
    dust = values.dust if values.dust in DUST_TYPE_NAMES else None
    return SpotFilter(
        region=_text(values.region, 12),
        industry=_text(values.industry),
        workers_min=_count(values.workers_min),
        workers_max=_count(values.workers_max),
        levels=tuple(lv for lv in levels if lv in (*LEVELS, UNKNOWN_LEVEL)),
        dust_type=dust,
        online=_yes_no(values.online),
        open_alarms=_yes_no(values.alarms),
        open_warnings=_yes_no(values.warnings),
        q=_text(values.q),
    )


# ---------------------------------------------------------------- the form


def _yes_no_options(key: str, lang: str) -> list[dict[str, str]]:
    return [
        {"label": t(f"spot.{key}.yes", lang), "value": YES},
        {"label": t(f"spot.{key}.no", lang), "value": NO},
    ]


def form(scope: Scope, values: FormValues, dsn: str, lang: str) -> html.Div:
    """The search form with the jurisdiction's regions and industries to choose from."""

    async def fetch(conn: AsyncConnection[Any]) -> tuple[list[Region], list[str]]:
        return await region_options(conn, scope), await industry_options(conn, scope)

    regions, industries = run(dsn, fetch)
    zh = lang == "zh"
    levels = [{"label": t(f"level.{lv}", lang), "value": lv} for lv in (*reversed(LEVELS),)]
    levels.append({"label": t("level.unknown", lang), "value": UNKNOWN_LEVEL})
    indent = {"province": "", "city": "\u3000", "county": "\u3000\u3000"}
    dropdown: dict[str, Any] = {"placeholder": t("spot.any", lang), "clearable": True}
    return html.Div(
        [
            field(
                t("spot.region", lang),
                dcc.Dropdown(
                    id=SPOT_REGION,
                    options=[
                        {"label": f"{indent.get(r.level, '')}{r.name}", "value": r.adcode}
                        for r in regions
                    ],
                    value=values.region,
                    **dropdown,
                ),
                SPOT_REGION,
            ),
            field(
                t("spot.industry", lang),
                dcc.Dropdown(
                    id=SPOT_INDUSTRY,
                    options=[{"label": i, "value": i} for i in industries],
                    value=values.industry,
                    **dropdown,
                ),
                SPOT_INDUSTRY,
            ),
            field(
                t("spot.workers", lang),
                html.Div(
                    [
                        dcc.Input(
                            id=SPOT_WORKERS_MIN,
                            type="number",
                            min=0,
                            step=1,
                            value=values.workers_min,
                            placeholder=t("spot.min", lang),
                        ),
                        html.Span("–"),
                        dcc.Input(
                            id=SPOT_WORKERS_MAX,
                            type="number",
                            min=0,
                            step=1,
                            value=values.workers_max,
                            placeholder=t("spot.max", lang),
                        ),
                    ],
                    className="reg-range",
                ),
                SPOT_WORKERS_MIN,
            ),
            field(
                t("spot.level", lang),
                dcc.Dropdown(
                    id=SPOT_LEVEL,
                    options=levels,
                    value=values.levels or [],
                    multi=True,
                    placeholder=t("spot.any", lang),
                ),
                SPOT_LEVEL,
            ),
            field(
                t("spot.dust", lang),
                dcc.Dropdown(
                    id=SPOT_DUST,
                    options=[
                        {"label": name if zh else code, "value": code}
                        for code, name in DUST_TYPE_NAMES.items()
                    ],
                    value=values.dust,
                    **dropdown,
                ),
                SPOT_DUST,
            ),
            field(
                t("spot.online", lang),
                dcc.Dropdown(
                    id=SPOT_ONLINE,
                    options=_yes_no_options("online", lang),
                    value=values.online,
                    **dropdown,
                ),
                SPOT_ONLINE,
            ),
            field(
                t("spot.alarms", lang),
                dcc.Dropdown(
                    id=SPOT_ALARMS,
                    options=_yes_no_options("alarms", lang),
                    value=values.alarms,
                    **dropdown,
                ),
                SPOT_ALARMS,
            ),
            field(
                t("spot.warnings", lang),
                dcc.Dropdown(
                    id=SPOT_WARNINGS,
                    options=_yes_no_options("warnings", lang),
                    value=values.warnings,
                    **dropdown,
                ),
                SPOT_WARNINGS,
            ),
            field(
                t("spot.name", lang),
                dcc.Input(
                    id=SPOT_NAME,
                    type="search",
                    value=values.q or "",
                    debounce=True,
                    placeholder=t("spot.name_hint", lang),
                    maxLength=100,
                ),
                SPOT_NAME,
            ),
            submit(t("spot.search", lang), SPOT_SEARCH),
        ],
        className="reg-form",
    )


# ---------------------------------------------------------------- the results


def _level_badge(level: str, lang: str) -> html.Span:
    return html.Span(t(f"level.{level}", lang), className=f"reg-level level-{level}")


def result_row(row: EnterpriseRow, lang: str) -> html.Tr:
    """One enterprise found: its name opens the one-screen view."""
    zh = lang == "zh"
    dusts = "、".join(DUST_TYPE_NAMES.get(d, d) if zh else d for d in row.dust_types) or "—"
    return html.Tr(
        [
            html.Td(
                dcc.Link(
                    row.name,
                    href=f"/onescreen/{row.credit_code}",
                    id=f"spot-open-{row.credit_code}",
                )
            ),
            html.Td(row.credit_code, className="reg-code"),
            html.Td(row.region_name),
            html.Td(row.industry or "—"),
            html.Td(dusts),
            html.Td("—" if row.dust_workers is None else str(row.dust_workers)),
            html.Td(_level_badge(row.level, lang)),
            html.Td(
                t("spot.online.yes" if row.online else "spot.online.no", lang),
                className="reg-ok" if row.online else "reg-bad",
            ),
            html.Td(str(row.open_alarms), className="reg-bad" if row.open_alarms else ""),
            html.Td(str(row.open_warnings), className="reg-bad" if row.open_warnings else ""),
        ],
        id=f"spot-row-{row.credit_code}",
    )


COLUMNS: Final = (
    "spot.col.name",
    "spot.col.code",
    "spot.col.region",
    "spot.col.industry",
    "spot.col.dust",
    "spot.col.workers",
    "spot.col.level",
    "spot.col.online",
    "spot.col.alarms",
    "spot.col.warnings",
)


def results(scope: Scope, values: FormValues, page: int, dsn: str, lang: str) -> PageShown:
    """The page ``page`` of what the form finds in the caller's jurisdiction."""
    f = filter_from(values)
    page, total, shown = load_page(page, lambda n: run(dsn, fetch_page(scope, f, n)))
    count = summary("spot.count", total, page, lang)
    if not shown:
        table = html.Div(html.P(t("spot.none", lang)), className="reg-empty")
    else:
        head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in COLUMNS]))
        body = html.Tbody([result_row(r, lang) for r in shown])
        table = html.Div(
            html.Table([head, body], id=SPOT_TABLE, className="reg-table"), className="reg-scroll"
        )
    return page_shown(table, count, page, total)


def fetch_page(
    scope: Scope, f: SpotFilter, page: int
) -> Callable[[AsyncConnection[Any]], Awaitable[tuple[int, list[EnterpriseRow]]]]:
    """The query function of one page of results (for ``run``)."""

    async def fetch(conn: AsyncConnection[Any]) -> tuple[int, list[EnterpriseRow]]:
        return await search_enterprises(conn, scope, f, limit=PAGE_SIZE, offset=page * PAGE_SIZE)

    return fetch


# ---------------------------------------------------------------- layout and callbacks


def denied(scope: Scope | None, lang: str) -> Any:
    """What a caller who may not search sees instead (None when the caller may)."""
    if scope is None:
        return login_prompt(lang, "/spotcheck")
    if scope.role not in REGULATOR_ROLES:
        return html.Div(html.P(t("spot.regulators_only", lang)), id=SPOT_DENIED)
    return None


def layout(q: str | None = None, region: str | None = None, **_: Any) -> html.Div:
    """The search form and the first page of results (Chinese until switched)."""
    scope, lang, dsn = request_scope(), DEFAULT_LANG, database_url()
    refused = denied(scope, lang)
    if refused is not None or scope is None:
        return html.Div(refused, className="reg-page")
    values = FormValues(region=region, q=q)
    found = results(scope, values, 0, dsn, lang)
    return html.Div(
        [
            dcc.Store(id=SPOT_PAGE, data=0),
            html.H2(t("spot.heading", lang), id=SPOT_HEADING),
            html.Div(form(scope, values, dsn, lang), id=SPOT_FORM),
            html.Div(
                [
                    html.Span(found.summary, id=SPOT_COUNT),
                    html.Button(
                        t("spot.prev", lang), id=SPOT_PREV, n_clicks=0, disabled=not found.has_prev
                    ),
                    html.Button(
                        t("spot.next", lang), id=SPOT_NEXT, n_clicks=0, disabled=not found.has_next
                    ),
                ],
                className="reg-pager",
            ),
            html.Div(found.table, id=SPOT_RESULTS),
        ],
        className="reg-page",
    )


_FILTER_STATES: Final = (
    State(SPOT_REGION, "value"),
    State(SPOT_INDUSTRY, "value"),
    State(SPOT_WORKERS_MIN, "value"),
    State(SPOT_WORKERS_MAX, "value"),
    State(SPOT_LEVEL, "value"),
    State(SPOT_DUST, "value"),
    State(SPOT_ONLINE, "value"),
    State(SPOT_ALARMS, "value"),
    State(SPOT_WARNINGS, "value"),
    State(SPOT_NAME, "value"),
)


@callback(
    Output(SPOT_FORM, "children"),
    Output(SPOT_HEADING, "children"),
    Input(ids.LANG_STORE, "data"),
    *_FILTER_STATES,
)
def render_form(lang: str, *values: Any) -> tuple[Any, str]:
    """The form again in the chosen language, keeping what was filled in."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    scope = request_scope()
    if scope is None or scope.role not in REGULATOR_ROLES:
        raise PreventUpdate
    return form(scope, FormValues(*values), database_url(), lang), t("spot.heading", lang)


@callback(
    Output(SPOT_RESULTS, "children"),
    Output(SPOT_COUNT, "children"),
    Output(SPOT_PAGE, "data"),
    Output(SPOT_PREV, "disabled"),
    Output(SPOT_NEXT, "disabled"),
    Output(SPOT_PREV, "children"),
    Output(SPOT_NEXT, "children"),
    Input(SPOT_SEARCH, "n_clicks"),
    Input(SPOT_NAME, "n_submit"),
    Input(SPOT_PREV, "n_clicks"),
    Input(SPOT_NEXT, "n_clicks"),
    Input(ids.LANG_STORE, "data"),
    State(SPOT_PAGE, "data"),
    *_FILTER_STATES,
)
def search(
    _search: int, _submit: int, _prev: int, _next: int, lang: str, page: Any, *values: Any
) -> tuple[Any, ...]:
    """Search again (a new search starts at the first page; previous / next move by a page)."""
    trigger = dash.ctx.triggered_id
    if trigger is None and lang == DEFAULT_LANG:
        raise PreventUpdate  # the layout has shown the first page already
    scope = request_scope()
    if scope is None or scope.role not in REGULATOR_ROLES:
        raise PreventUpdate
    current = page if isinstance(page, int) else 0
    wanted = {SPOT_PREV: current - 1, SPOT_NEXT: current + 1, ids.LANG_STORE: current}
    found = results(scope, FormValues(*values), wanted.get(trigger, 0), database_url(), lang)
    return (
        found.table,
        found.summary,
        found.page,
        not found.has_prev,
        not found.has_next,
        t("spot.prev", lang),
        t("spot.next", lang),
    )
