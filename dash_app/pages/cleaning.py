"""Dust cleaning (``/cleaning/<credit_code>``, 粉尘清扫打卡): today's tasks, a check-in with
before/after photos taken with the phone's camera, the last 30 days and the KPIs.

The check-in goes through ``risk.cleaning.check_in`` with the caller's scope, exactly as the API's
``POST /api/v1/cleaning/tasks/{id}/checkin`` does: server time, JPEG/PNG recognised by their
bytes, the size limit from the settings, refused before the window opens, marked late after it.
Photos are kept in the platform's photo store (``twins.photos``) and shown only within the
caller's jurisdiction. A regulator (or an engaged integrator) reads the page without the form;
anyone else, and an unknown code, gets the live twin's "not found". Every callback reads the
caller's scope again: its inputs (the credit code, the task id) can be forged.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import dash
from dash import MATCH, Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.cleaning_queries import (
    HISTORY_DAYS,
    CleaningView,
    cleaning_view,
    photo_of,
    submit_check_in,
    task_state,
)
from dash_app.components.sections import readonly_note, section
from dash_app.enterprise_queries import run
from dash_app.figures.enterprise import not_found
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.server import max_photo_bytes, photo_store
from dash_app.timefmt import china_time, in_china, local_time
from risk.cleaning import MAX_PHOTOS_PER_SIDE, CleaningKpi, Side
from twins.scope import Scope

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/cleaning/<credit_code>", name="cleaning"
)

# component ids (a browser test uses these)
CLN_CODE: Final = "cln-code"
CLN_VERSION: Final = "cln-version"  # bumped after each check-in: the lists are read again
CLN_TICK: Final = "cln-tick"
CLN_NOT_FOUND: Final = "cln-not-found"
CLN_NAME: Final = "cln-name"
CLN_KPIS: Final = "cln-kpis"
CLN_TODAY: Final = "cln-today"
CLN_FORM: Final = "cln-form"
CLN_TASK: Final = "cln-task"
CLN_OPERATOR: Final = "cln-operator"
CLN_BEFORE: Final = "cln-before"  # dcc.Upload: one photo per pick (a phone offers its camera)
CLN_BEFORE_PHOTOS: Final = "cln-before-photos"  # the photos picked so far (browser-side store)
CLN_BEFORE_NAMES: Final = "cln-before-names"
CLN_BEFORE_CLEAR: Final = "cln-before-clear"
CLN_AFTER: Final = "cln-after"
CLN_AFTER_PHOTOS: Final = "cln-after-photos"
CLN_AFTER_NAMES: Final = "cln-after-names"
CLN_AFTER_CLEAR: Final = "cln-after-clear"
CLN_REMARKS: Final = "cln-remarks"
CLN_SUBMIT: Final = "cln-submit"
CLN_MESSAGE: Final = "cln-message"
CLN_HISTORY: Final = "cln-history"
CLN_READONLY: Final = "cln-readonly"
PHOTO_BUTTON: Final = "cln-photo"  # pattern id {"type": PHOTO_BUTTON, "photo": <photo id>}
PHOTO_SHOWN: Final = "cln-photo-shown"  # pattern id {"type": PHOTO_SHOWN, "photo": <photo id>}

# static texts: element id -> string key, rendered again when the language switches
LABELS: Final[dict[str, str]] = {
    "cln-kpis-heading": "cln.kpis",
    "cln-today-heading": "cln.today",
    "cln-form-heading": "cln.checkin",
    "cln-task-label": "cln.task",
    "cln-operator-label": "cln.operator",
    "cln-before-label": "cln.before",
    "cln-before-prompt": "cln.take_photo",
    "cln-after-label": "cln.after",
    "cln-after-prompt": "cln.take_photo",
    CLN_BEFORE_CLEAR: "cln.clear_photos",
    CLN_AFTER_CLEAR: "cln.clear_photos",
    "cln-remarks-label": "cln.remarks",
    CLN_SUBMIT: "cln.submit",
    "cln-history-heading": "cln.history",
    CLN_READONLY: "cln.readonly",
}

REFRESH_MS: Final = 60_000  # a task turns open or overdue by the clock: read again each minute
MAX_OPERATOR: Final = 100  # the API's limits on the form fields
MAX_REMARKS: Final = 2000


def _view(scope: Scope, credit_code: str, dsn: str) -> CleaningView | None:
    return run(
        dsn, partial(cleaning_view, scope=scope, credit_code=credit_code, now=datetime.now(UTC))
    )


# ---------------------------------------------------------------- pure builders


def _clock(at: datetime) -> str:
    return china_time(at, "%H:%M")


def window_text(start: datetime, end: datetime, *, with_day: bool = False) -> str:
    """A window in China time: ``08:00–16:00``, ``16:00–24:00``, or with its days when it spans."""
    s, e = in_china(start), in_china(end)
    day = s.strftime("%m-%d ") if with_day else ""
    if e.date() == s.date():
        return f"{day}{_clock(s)}–{_clock(e)}"
    if (e - s).days == 0 and e.hour == 0 and e.minute == 0:
        return f"{day}{_clock(s)}–24:00"
    return f"{s:%m-%d %H:%M} – {e:%m-%d %H:%M}"


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def kpi_tiles(period: str, kpi: CleaningKpi, lang: str) -> html.Div:
    """One row of KPI tiles: completion and on-time rates, done, late, overdue, due."""
    tiles = (
        ("completion", _rate(kpi.completion_rate)),
        ("on_time", _rate(kpi.on_time_rate)),
        ("done", str(kpi.done)),
        ("late", str(kpi.late)),
        ("overdue", str(kpi.overdue)),
        ("due", str(kpi.due)),
    )
    return html.Div(
        [
            html.H4(t(f"cln.period.{period}", lang)),
            html.Div(
                [
                    html.Div(
                        [html.Strong(value), html.Span(t(f"cln.kpi.{name}", lang))],
                        id=f"cln-kpi-{period}-{name}",
                        className=f"cln-kpi cln-kpi-{name}",
                    )
                    for name, value in tiles
                ],
                className="cln-kpi-row",
            ),
        ],
        className="cln-kpi-period",
    )


def kpis_panel(view: CleaningView, lang: str) -> html.Div:
    """Today's KPIs and those of the last 30 days."""
    return html.Div(
        [kpi_tiles("today", view.kpi_today, lang), kpi_tiles("period", view.kpi_period, lang)]
    )


def _state_badge(state: str, lang: str) -> html.Span:
    return html.Span(t(f"cln.state.{state}", lang), className=f"cln-state cln-state-{state}")


def _checkin_line(task: dict[str, Any], lang: str) -> list[Any]:
    checkin = task.get("checkin")
    if not checkin:
        return []
    at: datetime = checkin["checked_in_at"]
    parts = [f"{checkin['operator']} · {china_time(at, '%m-%d %H:%M')}"]
    if checkin.get("remarks"):
        parts.append(checkin["remarks"])
    return [html.P(" · ".join(parts), className="cln-checkin")]


def _zone(task: dict[str, Any], lang: str) -> str:
    return t("cln.zone", lang).format(zone=task["zone"])


def _task_card(
    task: dict[str, Any], state: str, meta: str, card_id: str, extra: list[Any], lang: str
) -> html.Div:
    """A task as a card: area and state, ``meta`` (window, zone…), who checked in, ``extra``."""
    return html.Div(
        [
            html.Div(
                [html.Strong(task["area"]), _state_badge(state, lang)], className="cln-card-head"
            ),
            html.P(meta, className="cln-card-meta"),
            *_checkin_line(task, lang),
            *extra,
        ],
        id=card_id,
        className=f"cln-card cln-{state}",
    )


def today_list(view: CleaningView, lang: str) -> html.Div:
    """Today's tasks as cards: area, zone, window, state (open, done, late, overdue)."""
    if not view.today:
        return html.Div(html.P(t("cln.no_tasks_today", lang)), className="cln-empty")
    cards = []
    for task in view.today:
        state = task_state(task, view.now)
        meta = (
            f"{window_text(task['window_start'], task['window_end'])} · "
            f"{_zone(task, lang)} · {t('cln.method.' + task['method'], lang)} · "
            f"{t('cln.responsible', lang)} {task['responsible']}"
        )
        cards.append(_task_card(task, state, meta, f"cln-task-{task['id']}", [], lang))
    return html.Div(cards, className="cln-cards")


def task_options(view: CleaningView, lang: str) -> list[dict[str, Any]]:
    """The tasks a check-in is accepted for now (radio options; overdue ones say "late")."""
    options = []
    for task in view.checkable:
        state = task_state(task, view.now)
        window = window_text(task["window_start"], task["window_end"], with_day=True)
        label = f"{task['area']} · {window} · {t('cln.state.' + state, lang)}"
        options.append({"label": label, "value": task["id"]})
    return options


def _photo_buttons(task: dict[str, Any], lang: str) -> list[Any]:
    shown: list[Any] = []
    counts: dict[str, int] = {}
    for photo in task["photos"]:
        counts[photo["side"]] = counts.get(photo["side"], 0) + 1
        label = f"{t('cln.side.' + photo['side'], lang)} {counts[photo['side']]}"
        shown.append(
            html.Button(
                label,
                id={"type": PHOTO_BUTTON, "photo": photo["id"]},
                n_clicks=0,
                className="cln-photo-button",
            )
        )
    slots = [html.Div(id={"type": PHOTO_SHOWN, "photo": p["id"]}) for p in task["photos"]]
    if not shown:
        return []
    return [html.Div(shown, className="cln-photo-buttons"), html.Div(slots)]


def history_list(view: CleaningView, lang: str) -> html.Div:
    """The last 30 days' tasks, newest first, with who checked in when, and their photos."""
    if not view.history:
        return html.Div(html.P(t("cln.no_history", lang)), className="cln-empty")
    rows = []
    for task in view.history:
        state = task_state(task, view.now)
        meta = (
            f"{window_text(task['window_start'], task['window_end'], with_day=True)}"
            f" · {_zone(task, lang)}"
        )
        photos = _photo_buttons(task, lang)
        rows.append(_task_card(task, state, meta, f"cln-history-{task['id']}", photos, lang))
    count = t("cln.history_count", lang).format(
        shown=len(view.history), total=view.history_total, days=HISTORY_DAYS
    )
    return html.Div([html.P(count, className="cln-count"), html.Div(rows, className="cln-cards")])


def _upload(side: str, lang: str) -> html.Div:
    """One side's photos: a big "take or choose a photo" area, what was picked, "clear".

    One photo per pick, not ``multiple``: Android's browsers offer the camera for a single
    image input, not always for a multiple one. Each pick is added (in the browser) to the
    side's store, so several photos per side are still possible.
    """
    upload, photos, names, clear = (
        f"cln-{side}",
        f"cln-{side}-photos",
        f"cln-{side}-names",
        f"cln-{side}-clear",
    )
    return html.Div(
        [
            dcc.Store(id=photos, data=[]),
            dcc.Upload(
                html.Div(t("cln.take_photo", lang), id=f"cln-{side}-prompt"),
                id=upload,
                accept="image/*",  # a phone offers its camera for this
                multiple=False,
                className="cln-upload",
                className_active="cln-upload active",
            ),
            html.Div(
                [
                    html.Span(id=names, className="cln-upload-names"),
                    html.Button(
                        t("cln.clear_photos", lang),
                        id=clear,
                        n_clicks=0,
                        className="cln-photo-button",
                    ),
                ],
                className="cln-upload-row",
            ),
        ]
    )


def form_note(lang: str) -> str:
    """What the form promises: server time, which photos, how large, how many."""
    mb = max_photo_bytes() / 1024 / 1024
    return t("cln.note", lang).format(mb=f"{mb:g}", n=MAX_PHOTOS_PER_SIDE)


def checkin_form(view: CleaningView, lang: str) -> html.Section:
    """The check-in form; hidden (and refused by the domain anyway) for read-only callers."""
    options = task_options(view, lang)
    return html.Section(
        [
            html.H3(t("cln.checkin", lang), id="cln-form-heading"),
            html.Label(t("cln.task", lang), id="cln-task-label", className="cln-label"),
            dcc.RadioItems(
                id=CLN_TASK,
                options=options,
                value=options[0]["value"] if len(options) == 1 else None,
                className="cln-task-choice",
            ),
            html.Label(
                t("cln.operator", lang),
                id="cln-operator-label",
                htmlFor=CLN_OPERATOR,
                className="cln-label",
            ),
            dcc.Input(
                id=CLN_OPERATOR,
                type="text",
                maxLength=MAX_OPERATOR,
                placeholder=t("cln.operator_hint", lang),
                className="cln-input",
                debounce=True,
            ),
            html.Label(t("cln.before", lang), id="cln-before-label", className="cln-label"),
            _upload("before", lang),
            html.Label(t("cln.after", lang), id="cln-after-label", className="cln-label"),
            _upload("after", lang),
            html.Label(
                t("cln.remarks", lang),
                id="cln-remarks-label",
                htmlFor=CLN_REMARKS,
                className="cln-label",
            ),
            dcc.Textarea(id=CLN_REMARKS, maxLength=MAX_REMARKS, className="cln-input"),
            html.Button(t("cln.submit", lang), id=CLN_SUBMIT, n_clicks=0, className="cln-submit"),
            html.Div(id=CLN_MESSAGE, role="status"),
            html.P(form_note(lang), id="cln-form-note", className="cln-note"),
        ],
        id=CLN_FORM,
        className="cln-section" if view.writable else "cln-section cln-hidden",
    )


def page_for(scope: Scope | None, credit_code: str, dsn: str, lang: str = DEFAULT_LANG) -> html.Div:
    """The page for this caller: the cleaning page, a login prompt, or "not found"."""
    if scope is None:
        return login_prompt(lang, f"/cleaning/{credit_code}")
    view = _view(scope, credit_code, dsn)
    if view is None:
        return html.Div(not_found(lang), id=CLN_NOT_FOUND)
    return html.Div(
        [
            dcc.Store(id=CLN_CODE, data=credit_code),
            dcc.Store(id=CLN_VERSION, data=0),
            dcc.Interval(id=CLN_TICK, interval=REFRESH_MS, n_intervals=0),
            html.H2(f"{view.header.name} · {t('nav.cleaning', lang)}", id=CLN_NAME),
            readonly_note(t("cln.readonly", lang), CLN_READONLY, writable=view.writable),
            section(
                t("cln.today", lang),
                "cln-today-heading",
                html.Div(today_list(view, lang), id=CLN_TODAY),
            ),
            checkin_form(view, lang),
            section(
                t("cln.kpis", lang),
                "cln-kpis-heading",
                html.Div(kpis_panel(view, lang), id=CLN_KPIS),
            ),
            section(
                t("cln.history", lang),
                "cln-history-heading",
                html.Div(history_list(view, lang), id=CLN_HISTORY),
            ),
        ],
        className="cln-page",
    )


def layout(credit_code: str | None = None, **_: Any) -> html.Div:
    """The page's layout for the logged-in caller (Chinese first; callbacks follow the switch)."""
    return page_for(request_scope(), credit_code or "", database_url())


# ---------------------------------------------------------------- callbacks


@callback(Output(CLN_NOT_FOUND, "children"), Input(ids.LANG_STORE, "data"))
def render_not_found(lang: str) -> html.Div:
    """The "not found" content in the chosen language."""
    return not_found(lang)


@callback(
    Output(CLN_NAME, "children"),
    Output(CLN_TODAY, "children"),
    Output(CLN_KPIS, "children"),
    Output(CLN_TASK, "options"),
    Output(CLN_OPERATOR, "placeholder"),
    Output("cln-form-note", "children"),
    *[Output(element, "children") for element in LABELS],
    Input(ids.LANG_STORE, "data"),
    Input(CLN_VERSION, "data"),
    Input(CLN_TICK, "n_intervals"),
    State(CLN_CODE, "data"),
)
def render(lang: str, version: int, tick: int, credit_code: str) -> tuple[Any, ...]:
    """Today's tasks and the KPIs, read again on a check-in, each minute and on a language
    switch (a task turns open or overdue by the clock)."""
    if lang == DEFAULT_LANG and not version and not tick:
        raise PreventUpdate  # the page's first call: the layout has just rendered this
    scope = request_scope()
    view = None if scope is None else _view(scope, credit_code, database_url())
    if view is None:
        raise PreventUpdate  # logged out or out of scope meanwhile: show nothing new
    return (
        f"{view.header.name} · {t('nav.cleaning', lang)}",
        today_list(view, lang),
        kpis_panel(view, lang),
        task_options(view, lang),
        t("cln.operator_hint", lang),
        form_note(lang),
        *[t(key, lang) for key in LABELS.values()],
    )


@callback(
    Output(CLN_HISTORY, "children"),
    Input(ids.LANG_STORE, "data"),
    Input(CLN_VERSION, "data"),
    State(CLN_CODE, "data"),
)
def render_history(lang: str, version: int, credit_code: str) -> html.Div:
    """The history, read again on a check-in and a language switch only (not each minute: a
    photo opened in it stays open)."""
    if lang == DEFAULT_LANG and not version:
        raise PreventUpdate  # the page's first call: the layout has just rendered this
    scope = request_scope()
    view = None if scope is None else _view(scope, credit_code, database_url())
    if view is None:
        raise PreventUpdate
    return history_list(view, lang)


# Each pick joins the side's photos in the browser (a photo is not sent to the server twice);
# the upload is emptied so that the same photo may be picked again; "clear" forgets them.
_COLLECT_PHOTOS: Final = """
function(contents, _clear, filename, photos) {
    const dc = window.dash_clientside;
    const fired = dc.callback_context.triggered.map(function (t) { return t.prop_id; });
    if (fired.some(function (p) { return p.endsWith("-clear.n_clicks"); })) {
        return [[], null, ""];
    }
    if (!contents) { return [dc.no_update, dc.no_update, dc.no_update]; }
    const all = (photos || []).concat([{name: filename || "", contents: contents}]);
    const names = all.map(function (p) { return p.name; }).join(", ");
    return [all, null, "\u2713 " + all.length + ": " + names];
}
"""
for _side in ("before", "after"):
    dash.clientside_callback(
        _COLLECT_PHOTOS,
        Output(f"cln-{_side}-photos", "data"),
        Output(f"cln-{_side}", "contents"),
        Output(f"cln-{_side}-names", "children"),
        Input(f"cln-{_side}", "contents"),
        Input(f"cln-{_side}-clear", "n_clicks"),
        State(f"cln-{_side}", "filename"),
        State(f"cln-{_side}-photos", "data"),
        prevent_initial_call=True,
    )


def message(ok: bool, text: str) -> html.Div:
    """A check-in's result: confirmed, or refused with the reason."""
    return html.Div(text, className="cln-ok" if ok else "cln-refused", role="alert")


def _contents(photos: object) -> list[str]:
    """The data URLs of a side's picked photos (the store holds ``{name, contents}``)."""
    if not isinstance(photos, list):
        return []
    return [str(p.get("contents") or "") if isinstance(p, dict) else str(p) for p in photos]


def check_in_for(
    scope: Scope,
    dsn: str,
    task_id: object,
    before: list[str],
    after: list[str],
    operator: str | None,
    remarks: str | None,
    lang: str,
) -> tuple[bool, str]:
    """Check a task in for this caller; (done, what to tell the person)."""
    try:
        task = int(str(task_id))
    except ValueError:
        return False, t("cln.choose_task", lang)
    if len(operator or "") > MAX_OPERATOR or len(remarks or "") > MAX_REMARKS:
        return False, t("cln.too_long", lang).format(operator=MAX_OPERATOR, remarks=MAX_REMARKS)
    photos: list[tuple[Side, str]] = [("before", c) for c in before] + [("after", c) for c in after]
    max_bytes = max_photo_bytes()
    outcome = run(
        dsn,
        partial(
            submit_check_in,
            scope=scope,
            task_id=task,
            photos=photos,
            store=photo_store(),
            now=datetime.now(UTC),
            operator=operator,
            remarks=remarks,
            max_photo_bytes=max_bytes,
        ),
    )
    if not outcome.ok:
        return False, t("cln.refused", lang) + outcome.reason
    done = outcome.value
    key = "cln.done_late" if done["state"] == "LATE" else "cln.done"
    at: datetime = done["checkin"]["checked_in_at"]
    return True, t(key, lang).format(area=done["area"], time=_clock(at))


@callback(
    Output(CLN_MESSAGE, "children"),
    Output(CLN_VERSION, "data"),
    Output(CLN_BEFORE_PHOTOS, "data", allow_duplicate=True),
    Output(CLN_BEFORE_NAMES, "children", allow_duplicate=True),
    Output(CLN_AFTER_PHOTOS, "data", allow_duplicate=True),
    Output(CLN_AFTER_NAMES, "children", allow_duplicate=True),
    Output(CLN_REMARKS, "value"),
    Output(CLN_TASK, "value"),
    Input(CLN_SUBMIT, "n_clicks"),
    State(CLN_CODE, "data"),
    State(CLN_TASK, "value"),
    State(CLN_BEFORE_PHOTOS, "data"),
    State(CLN_AFTER_PHOTOS, "data"),
    State(CLN_OPERATOR, "value"),
    State(CLN_REMARKS, "value"),
    State(ids.LANG_STORE, "data"),
    State(CLN_VERSION, "data"),
    prevent_initial_call=True,
)
def submit(
    n_clicks: int,
    _credit_code: str,  # the task decides whose it is; the domain checks it against the scope
    task_id: object,
    before: object,
    after: object,
    operator: str | None,
    remarks: str | None,
    lang: str,
    version: int | None,
) -> tuple[Any, ...]:
    """Check the chosen task in; on success the form empties and the lists are read again."""
    if not n_clicks:
        raise PreventUpdate
    scope = request_scope()
    keep = (dash.no_update,) * 6
    if scope is None:
        return (message(False, t("auth.required", lang)), *keep, dash.no_update)
    if task_id is None:
        return (message(False, t("cln.choose_task", lang)), *keep, dash.no_update)
    ok, text = check_in_for(
        scope, database_url(), task_id, _contents(before), _contents(after), operator, remarks, lang
    )
    if not ok:
        return (message(False, text), *keep, dash.no_update)
    return (message(True, text), (version or 0) + 1, [], "", [], "", "", None)


def photo_figure(scope: Scope, dsn: str, photo_id: int, lang: str) -> html.Figure | None:
    """One check-in photo with its shooting and upload times; None outside the jurisdiction."""
    found = run(dsn, partial(photo_of, scope=scope, photo_id=photo_id, store=photo_store()))
    if found is None:
        return None
    record, data = found
    src = f"data:{record.content_type};base64,{base64.b64encode(data).decode('ascii')}"
    taken = (
        f"{t('cln.photo_taken', lang)} {china_time(record.exif_time)}"
        if record.exif_time
        else t("cln.photo_no_exif", lang)
    )
    uploaded = f"{t('cln.photo_uploaded', lang)} {local_time(record.uploaded_at)}"
    return html.Figure(
        [
            html.Img(src=src, alt=t(f"cln.side.{record.kind.removeprefix('cleaning_')}", lang)),
            html.Figcaption(f"{taken} · {uploaded} · {record.uploaded_by}"),
        ],
        className="cln-photo",
    )


@callback(
    Output({"type": PHOTO_SHOWN, "photo": MATCH}, "children"),
    Input({"type": PHOTO_BUTTON, "photo": MATCH}, "n_clicks"),
    State({"type": PHOTO_BUTTON, "photo": MATCH}, "id"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def toggle_photo(n_clicks: int | None, button: dict[str, Any], lang: str) -> Any:
    """Show a photo under its task on the first tap, hide it on the next."""
    if not n_clicks:
        raise PreventUpdate
    if n_clicks % 2 == 0:
        return None
    scope = request_scope()
    if scope is None:
        raise PreventUpdate
    try:
        photo_id = int(button["photo"])
    except (KeyError, TypeError, ValueError) as err:
        raise PreventUpdate from err
    shown = photo_figure(scope, database_url(), photo_id, lang)
    return shown if shown is not None else html.P(t("cln.photo_missing", lang))
