"""Supervision (``/supervision``, 督办): the alarms and warnings of a regulator's jurisdiction
with their deadlines (overdue highlighted), the feedback each enterprise gave (text and photos),
and the regulator's actions on them — close (闭环) or reject (驳回, with a reason) an alarm's
feedback, clear (消警) a warning where the rules allow — and where each warning was escalated
(督办), when.

Every action goes through ``risk.alarms.act`` / ``risk.warnings_store.act`` with the caller's scope
and username, so the roles, states and jurisdictions are those the API enforces; a refused action
shows why and changes nothing. ``/supervision?alarm=12`` (or ``?warning=3``) opens one item;
``?credit_code=...`` lists one enterprise's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple

import dash
from dash import ALL, Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate
from psycopg import AsyncConnection

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.components.forms import field, submit
from dash_app.components.history import code_name, feedback_lines, history_list, state_name
from dash_app.components.paging import PAGE_SIZE, PageShown, load_page, page_shown, summary
from dash_app.enterprise_queries import run
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.regulator_queries import (
    Thumbnail,
    alarm_detail,
    supervision_alarms,
    supervision_warnings,
    thumbnails,
    warning_detail,
)
from dash_app.server import photo_store
from dash_app.timefmt import local_time
from risk import alarms as alarm_store
from risk import warnings_store
from risk.alarms import AlarmFilter
from risk.errors import (
    ActionNotPermittedError,
    AlarmNotFoundError,
    LifecycleError,
    WarningNotFoundError,
)
from risk.lifecycle import LEVEL_RANK, VERIFICATIONS
from risk.model import LEVELS
from risk.warnings_store import WarningFilter
from twins.regions import is_known_adcode, region
from twins.scope import Scope

dash.register_page(__name__, path="/supervision", name="supervision")  # type: ignore[no-untyped-call]

# component ids (a browser test finds the page by these)
SUP_HEADING: Final = "sup-heading"
SUP_PAGE: Final = "sup-page"  # store: the page of the list shown (0-based)
SUP_SELECTED: Final = "sup-selected"  # store: {"kind": "alarm"|"warning", "id": n} or None
SUP_REFRESH: Final = "sup-refresh"  # store: bumped after an action changed something
SUP_FORM: Final = "sup-form"
SUP_KIND: Final = "sup-kind"
SUP_STATE: Final = "sup-state"
SUP_LEVEL: Final = "sup-level"
SUP_FLAGS: Final = "sup-flags"
SUP_ENTERPRISE: Final = "sup-enterprise"
SUP_SEARCH: Final = "sup-search"
SUP_COUNT: Final = "sup-count"
SUP_PREV: Final = "sup-prev"
SUP_NEXT: Final = "sup-next"
SUP_LIST: Final = "sup-list"
SUP_DETAIL: Final = "sup-detail"
SUP_ACTIONS: Final = "sup-actions"
SUP_REMARK: Final = "sup-remark"
SUP_CLOSE: Final = "sup-close"
SUP_REJECT: Final = "sup-reject"
SUP_CLEAR: Final = "sup-clear"
SUP_MESSAGE: Final = "sup-message"
SUP_DENIED: Final = "sup-denied"
PICK: Final = "sup-pick"  # pattern-matching type of each row's "open" button
# rows: f"sup-alarm-{id}" / f"sup-warning-{id}", each with a button.sup-pick that opens it

MAX_REMARK: Final = 2000  # as the API's Close / Reject / Remark bodies
REGULATOR_ROLES: Final = frozenset({"regulator", "admin"})
ALARM_STATES: Final = ("ACTIVE", "HANDLING", "FED_BACK", "REJECTED", "CLOSED")
WARNING_STATES: Final = ("OPEN", "ACKNOWLEDGED", "FED_BACK", "CLEARED")
ALARM_LEVELS: Final = tuple(sorted(LEVEL_RANK, key=lambda lv: -LEVEL_RANK[lv]))
WARNING_LEVELS: Final = tuple(reversed(LEVELS))
OPEN, OVERDUE = "open", "overdue"
Kind = Literal["alarm", "warning"]
Action = Literal["close", "reject", "clear"]
HIDDEN: Final = {"display": "none"}
SHOWN: Final[dict[str, str]] = {}


def in_language(message: str, lang: str) -> str:
    """The part of a platform message ("english / 中文") in the chosen language."""
    english, sep, chinese = message.rpartition(" / ")
    if not sep:
        return message
    return chinese if lang == "zh" else english


# ---------------------------------------------------------------- what is asked for


class Query(NamedTuple):
    """The list the form asks for, as the browser sends it (anything may be forged)."""

    kind: Any = "alarm"
    states: Any = ()
    levels: Any = ()
    flags: Any = (OPEN,)
    enterprise: Any = None

    @property
    def is_warnings(self) -> bool:
        """Warnings rather than alarms."""
        return bool(self.kind == "warning")

    def _pick(self, values: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v for v in values if v in allowed) if isinstance(values, list | tuple) else ()

    def _flag(self, flag: str) -> bool:
        return isinstance(self.flags, list | tuple) and flag in self.flags

    def _code(self) -> str | None:
        if not isinstance(self.enterprise, str):
            return None
        return self.enterprise.strip().upper()[:18] or None

    def alarm_filter(self) -> AlarmFilter:
        """The alarms asked for (states and levels the form does not offer are ignored)."""
        return AlarmFilter(
            credit_code=self._code(),
            states=self._pick(self.states, ALARM_STATES),
            levels=self._pick(self.levels, ALARM_LEVELS),
            open_only=self._flag(OPEN),
            overdue_only=self._flag(OVERDUE),
        )

    def warning_filter(self) -> tuple[WarningFilter, bool]:
        """The warnings asked for, and whether only overdue ones."""
        f = WarningFilter(
            credit_code=self._code(),
            states=self._pick(self.states, WARNING_STATES),
            levels=self._pick(self.levels, WARNING_LEVELS),
            open_only=self._flag(OPEN),
        )
        return f, self._flag(OVERDUE)


def parse_selected(data: Any) -> tuple[Kind, int] | None:
    """(kind, id) of the item the page holds open, or None for anything else."""
    if not isinstance(data, dict) or data.get("kind") not in ("alarm", "warning"):
        return None
    item = data.get("id")
    if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
        return None
    kind: Kind = "alarm" if data["kind"] == "alarm" else "warning"
    return kind, item


def _selected_from_url(alarm: str | None, warning: str | None) -> dict[str, Any] | None:
    for kind, raw in (("alarm", alarm), ("warning", warning)):
        if raw and raw.isdigit() and len(raw) < 19:
            return {"kind": kind, "id": int(raw)}
    return None


# ---------------------------------------------------------------- the form


def _options(prefix: str, values: tuple[str, ...], lang: str) -> list[dict[str, str]]:
    return [{"label": code_name(prefix, v, lang), "value": v} for v in values]


def state_options(is_warnings: bool, lang: str) -> list[dict[str, str]]:
    """The states to filter by: a warning's or an alarm's."""
    if is_warnings:
        return _options("sup.wstate", WARNING_STATES, lang)
    return [{"label": state_name(s, lang), "value": s} for s in ALARM_STATES]


def level_options(is_warnings: bool, lang: str) -> list[dict[str, str]]:
    """The levels to filter by: risk levels for warnings, alarm levels for alarms."""
    if is_warnings:
        return [{"label": t(f"level.{lv}", lang), "value": lv} for lv in WARNING_LEVELS]
    return [{"label": lv, "value": lv} for lv in ALARM_LEVELS]


def form(q: Query, lang: str) -> html.Div:
    """What to list: alarms or warnings, by state, level, open / overdue and enterprise."""
    warn = q.is_warnings
    return html.Div(
        [
            dcc.RadioItems(
                id=SUP_KIND,
                options=[
                    {"label": t("sup.alarms", lang), "value": "alarm"},
                    {"label": t("sup.warnings", lang), "value": "warning"},
                ],
                value="warning" if warn else "alarm",
                inline=True,
                className="reg-field sup-kind",
            ),
            field(
                t("sup.state", lang),
                dcc.Dropdown(
                    id=SUP_STATE,
                    options=state_options(warn, lang),
                    value=list(q.states) if isinstance(q.states, list | tuple) else [],
                    multi=True,
                    placeholder=t("sup.any", lang),
                ),
                SUP_STATE,
            ),
            field(
                t("sup.level", lang),
                dcc.Dropdown(
                    id=SUP_LEVEL,
                    options=level_options(warn, lang),
                    value=list(q.levels) if isinstance(q.levels, list | tuple) else [],
                    multi=True,
                    placeholder=t("sup.any", lang),
                ),
                SUP_LEVEL,
            ),
            field(
                t("sup.enterprise", lang),
                dcc.Input(
                    id=SUP_ENTERPRISE,
                    type="search",
                    value=q.enterprise or "",
                    maxLength=18,
                    placeholder=t("sup.enterprise_hint", lang),
                ),
                SUP_ENTERPRISE,
            ),
            dcc.Checklist(
                id=SUP_FLAGS,
                options=[
                    {"label": t("sup.open_only", lang), "value": OPEN},
                    {"label": t("sup.overdue_only", lang), "value": OVERDUE},
                ],
                value=list(q.flags) if isinstance(q.flags, list | tuple) else [],
                inline=True,
                className="reg-field",
            ),
            submit(t("sup.search", lang), SUP_SEARCH),
        ],
        className="reg-form",
    )


# ---------------------------------------------------------------- the list


def _deadline(at: datetime, overdue: bool, done_at: datetime | None, lang: str) -> html.Td:
    if done_at is not None:
        return html.Td(f"✓ {local_time(done_at)}", className="reg-muted")
    if overdue:
        return html.Td(f"{local_time(at)} ({t('sup.overdue', lang)})", className="reg-bad overdue")
    return html.Td(local_time(at))


def _pick_button(kind: Kind, item_id: int, lang: str) -> html.Button:
    return html.Button(
        t("sup.open", lang), id={"type": PICK, "kind": kind, "id": item_id}, className=PICK
    )


def _enterprise_link(row: dict[str, Any]) -> dcc.Link:
    return dcc.Link(row["enterprise"], href=f"/onescreen/{row['credit_code']}")


def alarm_row(a: dict[str, Any], lang: str) -> html.Tr:
    """An alarm of the jurisdiction with its deadlines (overdue ones marked)."""
    acked = a["acknowledged_at"] if a["state"] != "ACTIVE" else None
    fed = a["fed_back_at"] if a["state"] in ("FED_BACK", "CLOSED") else None
    what = " · ".join(x for x in (a.get("system_code"), a.get("indicator"), a["alarm_type"]) if x)
    overdue = bool(a["ack_overdue"] or a["feedback_overdue"])
    return html.Tr(
        [
            html.Td(_pick_button("alarm", int(a["id"]), lang)),
            html.Td(local_time(a["raised_at"])),
            html.Td(_enterprise_link(a)),
            html.Td(what),
            html.Td(a["level"], className=f"alarm-level alarm-{a['level']}"),
            html.Td(state_name(a["state"], lang)),
            _deadline(a["ack_deadline"], a["ack_overdue"], acked, lang),
            _deadline(a["feedback_deadline"], a["feedback_overdue"], fed, lang),
        ],
        id=f"sup-alarm-{a['id']}",
        className="overdue" if overdue else "",
    )


def escalation_text(step: dict[str, Any], lang: str) -> str:
    """One escalation: the tier and its regulator's region, and when (督办至 上海市 市级)."""
    code = str(step.get("regulator_adcode") or "")
    place = region(code).name if is_known_adcode(code) else code
    at = step.get("at")
    when = local_time(at) if isinstance(at, datetime) else str(at or "")
    return f"{code_name('tier', step.get('tier'), lang)} {place} {when}".strip()


def warning_row(w: dict[str, Any], lang: str) -> html.Tr:
    """A warning with its deadlines, the tier now responsible and its escalations."""
    acked = w["acknowledged_at"] if w["state"] != "OPEN" else None
    fed = w["fed_back_at"] if w["state"] in ("FED_BACK", "CLEARED") else None
    overdue = bool(w["ack_overdue"] or w["feedback_overdue"])
    escalations = w.get("escalations") or []
    return html.Tr(
        [
            html.Td(_pick_button("warning", int(w["id"]), lang)),
            html.Td(local_time(w["raised_at"])),
            html.Td(_enterprise_link(w)),
            html.Td(code_name("sup.trigger", w["trigger"], lang)),
            html.Td(t(f"level.{w['level']}", lang), className=f"level-text-{w['level']}"),
            html.Td(code_name("sup.wstate", w["state"], lang)),
            html.Td(
                escalation_text({"tier": w["tier"], "regulator_adcode": w["tier_adcode"]}, lang)
            ),
            _deadline(w["ack_deadline"], w["ack_overdue"], acked, lang),
            _deadline(w["feedback_deadline"], w["feedback_overdue"], fed, lang),
            html.Td(
                html.Ul([html.Li(escalation_text(e, lang)) for e in escalations])
                if escalations
                else "—",
                className="sup-escalations",
            ),
        ],
        id=f"sup-warning-{w['id']}",
        className="overdue" if overdue else "",
    )


ALARM_COLUMNS: Final = (
    "sup.col.open",
    "sup.col.raised",
    "sup.col.enterprise",
    "sup.col.what",
    "sup.col.level",
    "sup.col.state",
    "sup.col.ack_deadline",
    "sup.col.feedback_deadline",
)
WARNING_COLUMNS: Final = (
    "sup.col.open",
    "sup.col.raised",
    "sup.col.enterprise",
    "sup.col.trigger",
    "sup.col.level",
    "sup.col.state",
    "sup.col.tier",
    "sup.col.ack_deadline",
    "sup.col.feedback_deadline",
    "sup.col.escalations",
)


def _page_of(
    q: Query, scope: Scope, page: int
) -> Callable[[AsyncConnection[Any]], Awaitable[tuple[int, list[dict[str, Any]]]]]:
    now = datetime.now(UTC)

    async def fetch(conn: AsyncConnection[Any]) -> tuple[int, list[dict[str, Any]]]:
        offset = page * PAGE_SIZE
        if q.is_warnings:
            f, overdue = q.warning_filter()
            return await supervision_warnings(
                conn, scope, f, now, overdue_only=overdue, limit=PAGE_SIZE, offset=offset
            )
        return await supervision_alarms(
            conn, scope, q.alarm_filter(), now, limit=PAGE_SIZE, offset=offset
        )

    return fetch


def listing(scope: Scope, q: Query, page: int, dsn: str, lang: str) -> PageShown:
    """Page ``page`` of the alarms or warnings the form asks for, in the caller's jurisdiction."""
    page, total, rows = load_page(page, lambda n: run(dsn, _page_of(q, scope, n)))
    count = summary("sup.count", total, page, lang)
    if not rows:
        return PageShown(
            html.P(t("sup.none", lang), className="reg-empty"), count, page, False, False
        )
    columns = WARNING_COLUMNS if q.is_warnings else ALARM_COLUMNS
    build = warning_row if q.is_warnings else alarm_row
    table = html.Div(
        html.Table(
            [
                html.Thead(html.Tr([html.Th(t(c, lang)) for c in columns])),
                html.Tbody([build(r, lang) for r in rows]),
            ],
            className="reg-table sup-table",
        ),
        className="reg-scroll",
    )
    return page_shown(table, count, page, total)


# ---------------------------------------------------------------- one item, in detail


def _facts(pairs: list[tuple[str, Any]], lang: str) -> html.Dl:
    return html.Dl([x for key, value in pairs for x in (html.Dt(t(key, lang)), html.Dd(value))])


def _feedback(feedback: dict[str, Any] | None, photos: list[Thumbnail], lang: str) -> list[Any]:
    if not feedback:
        return [html.P(t("sup.no_feedback", lang), className="reg-muted")]
    parts = feedback_lines(feedback, lang)
    if photos:
        parts.append(
            html.Div(
                [
                    html.Img(src=p.data_uri, alt=f"#{p.photo_id}", id=f"sup-photo-{p.photo_id}")
                    if p.data_uri
                    else html.Span(
                        f"#{p.photo_id} {t('sup.photo_missing', lang)}", className="reg-muted"
                    )
                    for p in photos
                ],
                className="sup-photos",
            )
        )
    return parts


class Detail(NamedTuple):
    """The item held open and which actions its state allows."""

    content: Any
    can_close: bool = False  # close and reject an alarm's feedback
    can_clear: bool = False  # clear a warning


def _alarm_detail(a: dict[str, Any], photos: list[Thumbnail], lang: str) -> Detail:
    values = " / ".join(
        "—" if a[k] is None else f"{a[k]:g}"
        for k in ("first_value", "peak_value", "last_value", "limit_value")
    )
    condition = (
        t("sup.condition_active", lang)
        if a["condition_active"]
        else f"{t('sup.condition_cleared', lang)} {local_time(a['cleared_at'])}"
    )
    verification = VERIFICATIONS.get(a.get("verification") or "")
    content = html.Div(
        [
            html.H3(f"{t('sup.alarm', lang)} #{a['id']} · {a['enterprise']}"),
            _facts(
                [
                    ("sup.col.enterprise", _enterprise_link(a)),
                    (
                        "sup.col.what",
                        " · ".join(
                            x
                            for x in (a.get("system_code"), a.get("indicator"), a["alarm_type"])
                            if x
                        ),
                    ),
                    ("sup.col.level", a["level"]),
                    ("sup.col.state", state_name(a["state"], lang)),
                    ("sup.condition", condition),
                    ("sup.values", values),
                    (
                        "sup.verification",
                        "—" if verification is None else verification[0 if lang == "zh" else 1],
                    ),
                    ("sup.col.ack_deadline", local_time(a["ack_deadline"])),
                    ("sup.col.feedback_deadline", local_time(a["feedback_deadline"])),
                ],
                lang,
            ),
            html.H4(t("sup.feedback", lang)),
            *_feedback(a.get("feedback"), photos, lang),
            html.H4(t("sup.history", lang)),
            history_list(a.get("history") or [], "one.action", lang, escalation_text),
        ]
    )
    return Detail(content, can_close=a["state"] == "FED_BACK")


def _warning_detail(w: dict[str, Any], photos: list[Thumbnail], lang: str) -> Detail:
    detail = w.get("detail") or {}
    reason = detail.get("reason_zh" if lang == "zh" else "reason_en") or "—"
    escalations = w.get("escalations") or []
    follow_up = w.get("followup_deadline")
    content = html.Div(
        [
            html.H3(f"{t('sup.warning', lang)} #{w['id']} · {w['enterprise']}"),
            _facts(
                [
                    ("sup.col.enterprise", _enterprise_link(w)),
                    ("sup.col.trigger", code_name("sup.trigger", w["trigger"], lang)),
                    ("sup.reason", reason),
                    ("sup.col.level", t(f"level.{w['level']}", lang)),
                    ("sup.col.state", code_name("sup.wstate", w["state"], lang)),
                    (
                        "sup.col.tier",
                        escalation_text(
                            {"tier": w["tier"], "regulator_adcode": w["tier_adcode"]}, lang
                        ),
                    ),
                    ("sup.col.ack_deadline", local_time(w["ack_deadline"])),
                    ("sup.col.feedback_deadline", local_time(w["feedback_deadline"])),
                    ("sup.followup_deadline", local_time(follow_up)),
                    (
                        "sup.col.escalations",
                        html.Ul([html.Li(escalation_text(e, lang)) for e in escalations])
                        if escalations
                        else "—",
                    ),
                ],
                lang,
            ),
            html.H4(t("sup.feedback", lang)),
            *_feedback(w.get("feedback"), photos, lang),
            html.H4(t("sup.history", lang)),
            history_list(w.get("history") or [], "sup.waction", lang, escalation_text),
        ]
    )
    return Detail(content, can_clear=w["state"] != "CLEARED")


def detail(scope: Scope, selected: Any, dsn: str, lang: str) -> Detail:
    """The item held open, as the caller may see it ("not found" outside its jurisdiction)."""
    picked = parse_selected(selected)
    if picked is None:
        return Detail(html.P(t("sup.pick_hint", lang), className="reg-muted"))
    kind, item_id = picked
    store = photo_store()
    now = datetime.now(UTC)

    async def fetch(conn: AsyncConnection[Any]) -> tuple[dict[str, Any], list[Thumbnail]]:
        if kind == "alarm":
            item = await alarm_detail(conn, scope, item_id, now)
        else:
            item = await warning_detail(conn, scope, item_id, now)
        refs = (item.get("feedback") or {}).get("photos") or []
        return item, await thumbnails(conn, scope, refs, store)

    try:
        item, photos = run(dsn, fetch)
    except (AlarmNotFoundError, WarningNotFoundError):
        return Detail(html.P(t("sup.not_found", lang), className="reg-bad", id="sup-not-found"))
    build = _alarm_detail if kind == "alarm" else _warning_detail
    return build(item, photos, lang)


# ---------------------------------------------------------------- the regulator's actions


class Outcome(NamedTuple):
    """What an action did: the message to show and whether anything changed."""

    message: str
    changed: bool


def take_action(
    scope: Scope, selected: Any, action: Action, remark: Any, dsn: str, lang: str
) -> Outcome:
    """Close or reject an alarm's feedback, or clear a warning, as the caller (the platform's
    rules decide: a refusal changes nothing and says why)."""
    picked = parse_selected(selected)
    if picked is None:
        return Outcome(t("sup.pick_hint", lang), False)
    kind, item_id = picked
    text = remark.strip()[:MAX_REMARK] if isinstance(remark, str) else ""
    if action == "reject" and not text:
        return Outcome(t("sup.reason_needed", lang), False)
    now = datetime.now(UTC)

    async def act(conn: AsyncConnection[Any]) -> dict[str, Any]:
        if kind == "alarm" and action in ("close", "reject"):
            detail = {"reason": text} if action == "reject" else ({"remark": text} if text else {})
            return await alarm_store.act(conn, scope, item_id, action, now, detail)
        if kind == "warning" and action == "clear":
            remark_only = {"remark": text} if text else {}
            return await warnings_store.act(conn, scope, item_id, "clear", now, remark_only)
        raise ActionNotPermittedError(f"cannot {action} a {kind} / 不能对此执行该操作")

    try:
        run(dsn, act)
    except (AlarmNotFoundError, WarningNotFoundError):
        return Outcome(t("sup.not_found", lang), False)
    except (LifecycleError, ActionNotPermittedError) as err:
        return Outcome(t("sup.refused", lang).format(reason=in_language(str(err), lang)), False)
    return Outcome(t(f"sup.done.{action}", lang).format(id=item_id), True)


# ---------------------------------------------------------------- layout and callbacks


def denied(scope: Scope | None, lang: str) -> Any:
    """What a caller who may not supervise sees instead (None when the caller may)."""
    if scope is None:
        return login_prompt(lang, "/supervision")
    if scope.role not in REGULATOR_ROLES:
        return html.Div(html.P(t("sup.regulators_only", lang)), id=SUP_DENIED)
    return None


def _actions(d: Detail, lang: str) -> tuple[Any, ...]:
    """Style and label of the remark box and the three buttons, for the item held open."""
    any_action = d.can_close or d.can_clear
    return (
        SHOWN if any_action else HIDDEN,
        SHOWN if d.can_close else HIDDEN,
        SHOWN if d.can_close else HIDDEN,
        SHOWN if d.can_clear else HIDDEN,
        t("sup.close", lang),
        t("sup.reject", lang),
        t("sup.clear", lang),
        t("sup.remark_hint", lang),
    )


def layout(
    alarm: str | None = None,
    warning: str | None = None,
    credit_code: str | None = None,
    **_: Any,
) -> html.Div:
    """The list, the item held open and the actions (Chinese until switched)."""
    scope, lang, dsn = request_scope(), DEFAULT_LANG, database_url()
    refused = denied(scope, lang)
    if refused is not None or scope is None:
        return html.Div(refused, className="reg-page")
    selected = _selected_from_url(alarm, warning)
    q = Query(
        kind="warning" if warning and not alarm else "alarm",
        enterprise=credit_code,
        flags=[] if selected else [OPEN],
    )
    found = listing(scope, q, 0, dsn, lang)
    shown = detail(scope, selected, dsn, lang)
    (box, close, reject, clear, close_label, reject_label, clear_label, hint) = _actions(
        shown, lang
    )
    return html.Div(
        [
            dcc.Store(id=SUP_PAGE, data=0),
            dcc.Store(id=SUP_SELECTED, data=selected),
            dcc.Store(id=SUP_REFRESH, data=0),
            html.H2(t("sup.heading", lang), id=SUP_HEADING),
            html.Div(form(q, lang), id=SUP_FORM),
            html.Div(
                [
                    html.Section(
                        [
                            html.Div(
                                [
                                    html.Span(found.summary, id=SUP_COUNT),
                                    html.Button(
                                        t("sup.prev", lang),
                                        id=SUP_PREV,
                                        n_clicks=0,
                                        disabled=not found.has_prev,
                                    ),
                                    html.Button(
                                        t("sup.next", lang),
                                        id=SUP_NEXT,
                                        n_clicks=0,
                                        disabled=not found.has_next,
                                    ),
                                ],
                                className="reg-pager",
                            ),
                            html.Div(found.table, id=SUP_LIST),
                        ],
                        className="reg-card sup-list",
                    ),
                    html.Section(
                        [
                            html.Div(shown.content, id=SUP_DETAIL),
                            html.Div(
                                [
                                    dcc.Textarea(
                                        id=SUP_REMARK,
                                        value="",
                                        maxLength=MAX_REMARK,
                                        placeholder=hint,
                                        className="sup-remark",
                                    ),
                                    html.Div(
                                        [
                                            html.Button(
                                                close_label,
                                                id=SUP_CLOSE,
                                                n_clicks=0,
                                                style=close,
                                                className="reg-primary",
                                            ),
                                            html.Button(
                                                reject_label,
                                                id=SUP_REJECT,
                                                n_clicks=0,
                                                style=reject,
                                                className="reg-danger",
                                            ),
                                            html.Button(
                                                clear_label,
                                                id=SUP_CLEAR,
                                                n_clicks=0,
                                                style=clear,
                                                className="reg-primary",
                                            ),
                                        ],
                                        className="sup-buttons",
                                    ),
                                ],
                                id=SUP_ACTIONS,
                                style=box,
                            ),
                            html.Div(id=SUP_MESSAGE, role="status", className="sup-message"),
                        ],
                        className="reg-card sup-detail",
                    ),
                ],
                className="sup-grid",
            ),
        ],
        className="reg-page sup-page",
    )


def _regulator() -> Scope:
    scope = request_scope()
    if scope is None or scope.role not in REGULATOR_ROLES:
        raise PreventUpdate  # the layout has shown the login prompt or the refusal
    return scope


_FORM_STATES: Final = (
    State(SUP_KIND, "value"),
    State(SUP_STATE, "value"),
    State(SUP_LEVEL, "value"),
    State(SUP_FLAGS, "value"),
    State(SUP_ENTERPRISE, "value"),
)


@callback(
    Output(SUP_FORM, "children"),
    Output(SUP_HEADING, "children"),
    Input(ids.LANG_STORE, "data"),
    *_FORM_STATES,
)
def render_form(lang: str, *values: Any) -> tuple[Any, str]:
    """The form again in the chosen language, keeping what was chosen."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    _regulator()
    return form(Query(*values), lang), t("sup.heading", lang)


@callback(
    Output(SUP_STATE, "options"),
    Output(SUP_STATE, "value"),
    Output(SUP_LEVEL, "options"),
    Output(SUP_LEVEL, "value"),
    Input(SUP_KIND, "value"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def switch_kind(kind: Any, lang: str) -> tuple[Any, ...]:
    """Alarms and warnings have states and levels of their own."""
    warn = kind == "warning"
    return state_options(warn, lang), [], level_options(warn, lang), []


@callback(
    Output(SUP_LIST, "children"),
    Output(SUP_COUNT, "children"),
    Output(SUP_PAGE, "data"),
    Output(SUP_PREV, "disabled"),
    Output(SUP_NEXT, "disabled"),
    Output(SUP_PREV, "children"),
    Output(SUP_NEXT, "children"),
    Input(SUP_SEARCH, "n_clicks"),
    Input(SUP_KIND, "value"),
    Input(SUP_PREV, "n_clicks"),
    Input(SUP_NEXT, "n_clicks"),
    Input(SUP_REFRESH, "data"),
    Input(ids.LANG_STORE, "data"),
    State(SUP_PAGE, "data"),
    *_FORM_STATES,
)
def show_list(
    _search: int,
    _kind: Any,
    _prev: int,
    _next: int,
    _refresh: int,
    lang: str,
    page: Any,
    *values: Any,
) -> tuple[Any, ...]:
    """The list again: a new search starts at the first page, an action keeps the page."""
    trigger = dash.ctx.triggered_id
    if trigger is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    scope = _regulator()
    current = page if isinstance(page, int) else 0
    keep = {SUP_PREV: current - 1, SUP_NEXT: current + 1, SUP_REFRESH: current}
    keep[ids.LANG_STORE] = current
    q = Query(*values)
    if trigger == SUP_KIND:  # the other kind's states and levels are being cleared meanwhile
        q = q._replace(states=(), levels=())
    found = listing(scope, q, keep.get(trigger, 0), database_url(), lang)
    return (
        found.table,
        found.summary,
        found.page,
        not found.has_prev,
        not found.has_next,
        t("sup.prev", lang),
        t("sup.next", lang),
    )


@callback(
    Output(SUP_SELECTED, "data"),
    Output(SUP_MESSAGE, "children", allow_duplicate=True),
    Output(SUP_REMARK, "value"),
    Input({"type": PICK, "kind": ALL, "id": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def pick(_clicks: list[Any]) -> tuple[Any, str, str]:
    """Open the item whose button was clicked."""
    trigger = dash.ctx.triggered_id
    clicked = any(item.get("value") for item in dash.ctx.triggered)
    if not isinstance(trigger, dict) or not clicked:
        raise PreventUpdate  # buttons rendered anew, not clicked
    return {"kind": trigger.get("kind"), "id": trigger.get("id")}, "", ""


@callback(
    Output(SUP_DETAIL, "children"),
    Output(SUP_ACTIONS, "style"),
    Output(SUP_CLOSE, "style"),
    Output(SUP_REJECT, "style"),
    Output(SUP_CLEAR, "style"),
    Output(SUP_CLOSE, "children"),
    Output(SUP_REJECT, "children"),
    Output(SUP_CLEAR, "children"),
    Output(SUP_REMARK, "placeholder"),
    Input(SUP_SELECTED, "data"),
    Input(SUP_REFRESH, "data"),
    Input(ids.LANG_STORE, "data"),
)
def show_detail(selected: Any, _refresh: int, lang: str) -> tuple[Any, ...]:
    """The item held open and the actions its state allows."""
    if dash.ctx.triggered_id is None and lang == DEFAULT_LANG:
        raise PreventUpdate
    scope = _regulator()
    shown = detail(scope, selected, database_url(), lang)
    return (shown.content, *_actions(shown, lang))


@callback(
    Output(SUP_MESSAGE, "children"),
    Output(SUP_MESSAGE, "className"),
    Output(SUP_REFRESH, "data"),
    Output(SUP_REMARK, "value", allow_duplicate=True),
    Input(SUP_CLOSE, "n_clicks"),
    Input(SUP_REJECT, "n_clicks"),
    Input(SUP_CLEAR, "n_clicks"),
    State(SUP_SELECTED, "data"),
    State(SUP_REMARK, "value"),
    State(SUP_REFRESH, "data"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def act(
    _close: int, _reject: int, _clear: int, selected: Any, remark: Any, refresh: Any, lang: str
) -> tuple[str, str, int, Any]:
    """Take the clicked action as the caller; the list and the item show the result."""
    actions: dict[Any, Action] = {SUP_CLOSE: "close", SUP_REJECT: "reject", SUP_CLEAR: "clear"}
    action = actions.get(dash.ctx.triggered_id)
    if action is None:
        raise PreventUpdate
    scope = _regulator()
    outcome = take_action(scope, selected, action, remark, database_url(), lang)
    bumped = (refresh if isinstance(refresh, int) else 0) + (1 if outcome.changed else 0)
    cls = "sup-message ok" if outcome.changed else "sup-message refused"
    return outcome.message, cls, bumped, "" if outcome.changed else dash.no_update
