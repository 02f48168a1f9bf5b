"""Alarms and warnings (``/alarms/<credit_code>``, 报警预警, 企业端): receive, acknowledge, feed
back with photos, history.

- **Receive.** The open alarms (most severe, then newest first) and open warnings refresh every
  5 s. A high-level alarm (the two top severities) that was not there on the previous refresh
  raises a red banner naming the point and level, which stays until it is dismissed or the alarm
  is acknowledged, and a beep (Web Audio, ``assets/alarm_sound.js``) once the user has enabled
  sound with a click (browsers allow audio only after a gesture; the choice is remembered in the
  browser's local storage).
- **Handle.** "处理" on an alarm or warning opens the form: acknowledge (确认 with a verification
  result; 签收 for a warning), then feed back (处置反馈: cause, measures, photos from the phone's
  camera). Every step goes through ``risk.alarms.act`` / ``risk.warnings_store.act`` with the
  caller's scope; a refused step (wrong state, role, an alarm of another enterprise forged into
  the request) shows why and changes nothing.
- **History.** Closed alarms of the last 7/30/90 days with who acknowledged, fed back and closed
  them, and when; cleared warnings.

Out of the caller's jurisdiction and unknown enterprises alike: "not found". Not logged in: the
login prompt. Every callback reads the caller from the request again: its inputs can be forged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, NamedTuple

import dash
import psycopg
from dash import (
    ALL,
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    dcc,
    html,
)
from dash.exceptions import PreventUpdate
from psycopg import AsyncConnection

from dash_app import ids
from dash_app.alarm_queries import (
    MAX_PHOTOS,
    AlarmsView,
    History,
    ItemKind,
    PhotoUpload,
    PointLabel,
    acknowledge,
    alarms_view,
    decode_upload,
    feed_back,
    handles_alarms,
    high_alarm_ids,
    history_view,
    new_high_alarms,
    next_alarm_action,
    next_warning_action,
    own_item,
    point_label,
    point_labels,
)
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.enterprise_queries import run
from dash_app.figures.enterprise import not_found
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.server import max_photo_bytes, photo_store
from dash_app.timefmt import local_time
from device_catalog import load_catalog
from risk.errors import (
    ActionNotPermittedError,
    AlarmNotFoundError,
    RiskError,
    WarningNotFoundError,
)
from risk.lifecycle import STATE_NAMES, VERIFICATIONS
from twins.photos import (
    DEFAULT_MAX_BYTES,
    NotAnImageError,
    PhotoError,
    PhotoStore,
    PhotoTooLargeError,
    check_photo,
)
from twins.scope import Scope

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/alarms/<credit_code>", name="alarms"
)

# ---------------------------------------------------------------- component ids

ALM_CODE: Final = "alm-code"  # store: the page's credit code
ALM_TICK: Final = "alm-tick"
ALM_NAME: Final = "alm-name"
ALM_NOT_FOUND: Final = "alm-not-found"
ALM_REFRESHED: Final = "alm-refreshed"
ALM_SEEN: Final = "alm-seen"  # store: ids of the announceable high alarms at the last refresh
ALM_BANNER: Final = "alm-banner"
ALM_BANNER_TEXT: Final = "alm-banner-text"
ALM_BANNER_ITEMS: Final = "alm-banner-items"  # store: [[alarm id, acknowledged_at or None]]
ALM_BANNER_DISMISS: Final = "alm-banner-dismiss"
ALM_BEEP: Final = "alm-beep"  # store: a counter; each increment beeps (when sound is on)
ALM_BEEP_DONE: Final = "alm-beep-done"
ALM_SOUND: Final = "alm-sound"  # store (browser local storage): sound enabled
ALM_SOUND_BUTTON: Final = "alm-sound-button"
ALM_SOUND_HINT: Final = "alm-sound-hint"
ALM_ALARMS_HEADING: Final = "alm-alarms-heading"
ALM_ALARMS: Final = "alm-alarms"
ALM_WARNINGS_HEADING: Final = "alm-warnings-heading"
ALM_WARNINGS: Final = "alm-warnings"
ALM_PICK: Final = "alm-pick"  # pattern: {"type": ALM_PICK, "kind", "id", "at"}
ALM_SELECTED: Final = "alm-selected"  # store: {"kind": "alarm"|"warning", "id": n}
ALM_SCROLL_DONE: Final = "alm-scroll-done"
ALM_VERSION: Final = "alm-version"  # store: {"n": steps taken, "reset": clear the photos}
ALM_FORM_SECTION: Final = "alm-form-section"
ALM_FORM_HEADING: Final = "alm-form-heading"
ALM_FORM_TITLE: Final = "alm-form-title"
ALM_FORM_BODY: Final = "alm-form-body"
ALM_MESSAGE: Final = "alm-message"
ALM_ACK_BOX: Final = "alm-ack-box"
ALM_ACK_STEP: Final = "alm-ack-step"
ALM_VERIFICATION_BOX: Final = "alm-verification-box"
ALM_VERIFICATION_LABEL: Final = "alm-verification-label"
ALM_VERIFICATION: Final = "alm-verification"
ALM_REMARK_LABEL: Final = "alm-remark-label"
ALM_REMARK: Final = "alm-remark"
ALM_ACK: Final = "alm-ack"
ALM_FEEDBACK_BOX: Final = "alm-feedback-box"
ALM_FEEDBACK_STEP: Final = "alm-feedback-step"
ALM_CAUSE_LABEL: Final = "alm-cause-label"
ALM_CAUSE: Final = "alm-cause"
ALM_MEASURES_LABEL: Final = "alm-measures-label"
ALM_MEASURES: Final = "alm-measures"
ALM_PHOTOS_LABEL: Final = "alm-photos-label"
ALM_UPLOAD: Final = "alm-upload"
ALM_UPLOAD_LABEL: Final = "alm-upload-label"
ALM_PHOTOS: Final = "alm-photos"  # store: [{"name", "contents"}] checked photos, not yet sent
ALM_PHOTO_LIST: Final = "alm-photo-list"
ALM_PHOTO_CLEAR: Final = "alm-photo-clear"
ALM_PHOTO_MESSAGE: Final = "alm-photo-message"
ALM_FEEDBACK: Final = "alm-feedback"
ALM_HISTORY_HEADING: Final = "alm-history-heading"
ALM_HISTORY_DAYS: Final = "alm-history-days"
ALM_HISTORY: Final = "alm-history"
ALM_HISTORY_PAGE: Final = "alm-history-page"  # store: the page shown (0-based)
ALM_HISTORY_PAGE_TEXT: Final = "alm-history-page-text"
ALM_HISTORY_PREV: Final = "alm-history-prev"
ALM_HISTORY_NEXT: Final = "alm-history-next"

REFRESH_MS: Final = 5_000
HISTORY_DAYS: Final = (7, 30, 90)
DEFAULT_DAYS: Final = 30
CAUSE_MAX: Final = 2000  # the API's limits (api/routes/alarms.py Feedback, Acknowledge)
MEASURES_MAX: Final = 4000
REMARK_MAX: Final = 2000
HIDDEN: Final = "alm-hidden"


# ---------------------------------------------------------------- small pure builders


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:g}"


def _named(prefix: str, code: str | None, lang: str) -> str:
    """A code's UI name (``alm.level.HHA``...), or the code itself when it has none."""
    if not code:
        return "—"
    try:
        return t(f"{prefix}.{code}", lang)
    except KeyError:
        return code


def _state_name(state: str, lang: str) -> str:
    zh, en = STATE_NAMES.get(state, (state, state))
    return zh if lang == "zh" else en


def _field(label_key: str, value: Any, lang: str, cls: str = "") -> html.Div:
    return html.Div(
        [html.Span(t(label_key, lang), className="alm-label"), html.Span(value, className="alm-v")],
        className=f"alm-field {cls}".strip(),
    )


def _data(attributes: dict[str, str]) -> dict[str, Any]:
    """HTML attributes with a dash in their name (data-*, aria-*), as keywords Dash takes."""
    return dict(attributes)


def _pick(kind: ItemKind, item_id: int, at: str, label: str) -> html.Button:
    return html.Button(
        label,
        id={"type": ALM_PICK, "kind": kind, "id": int(item_id), "at": at},
        n_clicks=0,
        className="alm-pick",
        **_data({"data-kind": kind, "data-id": str(item_id)}),
    )


def _deadline_fields(item: Mapping[str, Any], lang: str) -> list[html.Div]:
    """The acknowledge and feedback deadlines of an alarm or warning, marked once passed."""
    overdue = f" ({t('alm.overdue', lang)})"
    fields = []
    for step in ("ack", "feedback"):
        late = bool(item.get(f"{step}_overdue"))
        when = local_time(item[f"{step}_deadline"]) + (overdue if late else "")
        fields.append(_field(f"alm.{step}_deadline", when, lang, "late" if late else ""))
    return fields


def alarm_card(
    alarm: Mapping[str, Any], label: PointLabel, lang: str, next_action: str | None
) -> html.Div:
    """One open alarm: point, level, type, state, raised, value/peak, deadlines, overdue."""
    level, state = alarm["level"], alarm["state"]
    ack_late, fb_late = bool(alarm.get("ack_overdue")), bool(alarm.get("feedback_overdue"))
    unit = f" {label.unit}" if label.unit else ""
    overdue = f" ({t('alm.overdue', lang)})"
    state_text = _state_name(state, lang) + (overdue if ack_late or fb_late else "")
    condition = "alm.condition_active" if alarm.get("condition_active") else "alm.condition_cleared"
    flags = [t(condition, lang)] + ([t("alm.suppressed", lang)] if alarm.get("suppressed") else [])
    point = " · ".join(x for x in (label.system, label.point) if x)
    children: list[Any] = [
        html.Div(
            [
                html.Span(
                    f"{level} {_named('alm.level', level, lang)}",
                    className=f"alarm-level alarm-{level} alm-badge",
                ),
                html.Span(point, className="alm-point"),
                html.Span(state_text, className="alm-state"),
            ],
            className="alm-card-head",
        ),
        html.Div(
            [
                _field("alm.type", _named("alm.type", alarm.get("alarm_type"), lang), lang),
                _field("alm.raised", local_time(alarm["raised_at"]), lang),
                _field(
                    "alm.value",
                    f"{_num(alarm.get('last_value'))} / {_num(alarm.get('peak_value'))}{unit}",
                    lang,
                ),
                _field("alm.limit", f"{_num(alarm.get('limit_value'))}{unit}", lang),
                _field("alm.count", str(alarm.get("count", 1)), lang),
                *_deadline_fields(alarm, lang),
            ],
            className="alm-fields",
        ),
        html.Div(" · ".join(flags), className="alm-flags"),
    ]
    if next_action is not None:
        children.append(_pick("alarm", int(alarm["id"]), "list", t("alm.handle", lang)))
    late = " overdue" if ack_late or fb_late else ""
    return html.Div(
        children, id=f"alm-alarm-{alarm['id']}", className=f"alm-item alm-{level}{late}"
    )


def alarms_list(view: AlarmsView, scope: Scope, lang: str) -> html.Div:
    """Every open alarm of the enterprise as a card (a phone shows one per row)."""
    if not view.alarms:
        return html.Div(html.P(t("alm.no_alarms", lang)), className="alm-empty")
    catalog = load_catalog()
    cards = [
        alarm_card(a, point_label(a, view.labels, catalog, lang), lang, next_alarm_action(a, scope))
        for a in view.alarms
    ]
    count = t("alm.shown", lang).format(shown=len(view.alarms), n=view.alarms_total)
    return html.Div([html.P(count, className="alm-count"), html.Div(cards, className="alm-list")])


def _warning_reason(warning: Mapping[str, Any], lang: str) -> str:
    detail = warning.get("detail") or {}
    reason = detail.get("reason_zh" if lang == "zh" else "reason_en")
    return str(reason or _named("alm.trigger", warning.get("trigger"), lang))


def warning_card(warning: Mapping[str, Any], lang: str, next_action: str | None) -> html.Div:
    """One open warning: level, cause, state, raised, deadlines, tier, overdue."""
    level = warning["level"]
    ack_late = bool(warning.get("ack_overdue"))
    fb_late = bool(warning.get("feedback_overdue"))
    overdue = f" ({t('alm.overdue', lang)})"
    level_name = warning.get("level_zh" if lang == "zh" else "level_en") or level
    children: list[Any] = [
        html.Div(
            [
                html.Span(level_name, className=f"level level-{level} alm-badge"),
                html.Span(
                    _named("alm.trigger", warning.get("trigger"), lang), className="alm-point"
                ),
                html.Span(
                    _named("alm.wstate", warning["state"], lang)
                    + (overdue if ack_late or fb_late else ""),
                    className="alm-state",
                ),
            ],
            className="alm-card-head",
        ),
        html.P(_warning_reason(warning, lang), className="alm-reason"),
        html.Div(
            [
                _field("alm.raised", local_time(warning["raised_at"]), lang),
                *_deadline_fields(warning, lang),
                _field("alm.tier", _named("tier", warning.get("tier"), lang), lang),
            ],
            className="alm-fields",
        ),
    ]
    if next_action is not None:
        children.append(_pick("warning", int(warning["id"]), "list", t("alm.handle", lang)))
    late = " overdue" if ack_late or fb_late else ""
    return html.Div(
        children, id=f"alm-warning-{warning['id']}", className=f"alm-item alm-w-{level}{late}"
    )


def warnings_list(view: AlarmsView, scope: Scope, lang: str) -> html.Div:
    """Every open warning of the enterprise as a card."""
    if not view.warnings:
        return html.Div(html.P(t("alm.no_warnings", lang)), className="alm-empty")
    cards = [warning_card(w, lang, next_warning_action(w, scope)) for w in view.warnings]
    count = t("alm.shown", lang).format(shown=len(view.warnings), n=view.warnings_total)
    return html.Div([html.P(count, className="alm-count"), html.Div(cards, className="alm-list")])


def banner_children(
    alarms: Sequence[Mapping[str, Any]], view: AlarmsView, scope: Scope, lang: str
) -> list[Any]:
    """The red banner's lines: each new high-level alarm's point and level, with "处理"."""
    catalog = load_catalog()
    lines: list[Any] = [html.Strong(t("alm.banner_title", lang))]
    for a in alarms:
        label = point_label(a, view.labels, catalog, lang)
        where = " · ".join(x for x in (label.system, label.point) if x)
        value = _num(a.get("last_value"))
        unit = f" {label.unit}" if label.unit else ""
        text = f"{where} — {a['level']} {_named('alm.level', a['level'], lang)}"
        if a.get("last_value") is not None:
            text += f" ({value}{unit})"
        line: list[Any] = [html.Span(f"{text}, {local_time(a['raised_at'])}")]
        if next_alarm_action(a, scope) is not None:
            line.append(_pick("alarm", int(a["id"]), "banner", t("alm.handle", lang)))
        lines.append(html.Div(line, className="alm-banner-line", id=f"alm-banner-{a['id']}"))
    return lines


# ---------------------------------------------------------------- one refresh


class Refresh(NamedTuple):
    """What one refresh puts on the page."""

    title: str  # the enterprise's name and the page's
    alarms: html.Div
    warnings: html.Div
    refreshed: str
    seen: list[int]
    banner_items: list[list[Any]]  # [alarm id, acknowledged_at ISO or None when bannered]
    banner: list[Any]
    banner_class: str
    beep: int | None  # the new beep counter; None: no new high alarm, no beep

    def outputs(self) -> tuple[Any, ...]:
        """The refresh callback's outputs, in order."""
        return (
            self.title,
            self.alarms,
            self.warnings,
            self.refreshed,
            self.seen,
            self.banner_items,
            self.banner,
            self.banner_class,
            dash.no_update if self.beep is None else self.beep,
        )


def _ack_mark(alarm: Mapping[str, Any]) -> str | None:
    at: datetime | None = alarm.get("acknowledged_at")
    return None if at is None else at.isoformat()


def next_banner(
    view: AlarmsView,
    seen: Sequence[int] | None,
    items: Sequence[Sequence[Any]] | None,
    *,
    dismissed: bool,
) -> tuple[list[list[Any]], list[Mapping[str, Any]]]:
    """The banner's entries after a refresh, and the alarms new since the previous one.

    An entry stays until the banner is dismissed, the alarm is acknowledged (its acknowledgement
    changed since it was bannered) or its loop is no longer open.
    """
    by_id = {int(a["id"]): a for a in view.alarms}
    kept = [
        [int(i), mark]
        for i, mark in ([] if dismissed else (items or []))
        if int(i) in by_id and _ack_mark(by_id[int(i)]) == mark
    ]
    new = new_high_alarms(seen, view.alarms)
    known = {i for i, _ in kept}
    kept += [[int(a["id"]), _ack_mark(a)] for a in new if int(a["id"]) not in known]
    return kept, new


def refresh_for(
    scope: Scope | None,
    credit_code: str,
    dsn: str,
    lang: str,
    seen: Sequence[int] | None,
    banner_items: Sequence[Sequence[Any]] | None,
    beep: int | None,
    *,
    dismissed: bool = False,
    now: datetime | None = None,
) -> Refresh | None:
    """Re-read the open alarms and warnings; flag new high-level alarms. None: not the caller's."""
    if scope is None:
        return None
    at = now or datetime.now(UTC)
    fetch = partial(
        alarms_view, scope=scope, credit_code=credit_code, now=at, catalog=load_catalog(), lang=lang
    )
    view = run(dsn, fetch)
    if view is None:
        return None
    items, new = next_banner(view, seen, banner_items, dismissed=dismissed)
    shown_ids = {int(i) for i, _ in items}
    bannered = [a for a in view.alarms if int(a["id"]) in shown_ids]
    return Refresh(
        title=f"{view.header.name} · {t('alm.heading', lang)}",
        alarms=alarms_list(view, scope, lang),
        warnings=warnings_list(view, scope, lang),
        refreshed=t("alm.refreshed", lang).format(time=local_time(at)),
        seen=high_alarm_ids(view.alarms),
        banner_items=items,
        banner=banner_children(bannered, view, scope, lang) if bannered else [],
        banner_class="alm-banner" if bannered else f"alm-banner {HIDDEN}",
        beep=(beep or 0) + 1 if new else None,
    )


# ---------------------------------------------------------------- the page


def _verification_options(lang: str) -> list[dict[str, str]]:
    i = 0 if lang == "zh" else 1
    return [{"label": names[i], "value": code} for code, names in VERIFICATIONS.items()]


def _days_options(lang: str) -> list[dict[str, Any]]:
    return [{"label": t(f"alm.days.{d}", lang), "value": d} for d in HISTORY_DAYS]


def _form(lang: str) -> html.Section:
    upload_label = html.Span(t("alm.upload", lang), id=ALM_UPLOAD_LABEL)
    return html.Section(
        [
            html.H3(t("alm.form_heading", lang), id=ALM_FORM_HEADING),
            html.Div(t("alm.form_hint", lang), id=ALM_FORM_TITLE, className="alm-form-title"),
            html.Div(id=ALM_MESSAGE, role="status", **_data({"aria-live": "polite"})),
            html.Div(
                [
                    html.Div(
                        [
                            html.H4(t("alm.step_ack", lang), id=ALM_ACK_STEP),
                            html.Div(
                                [
                                    html.Label(
                                        t("alm.verification", lang),
                                        id=ALM_VERIFICATION_LABEL,
                                        htmlFor=ALM_VERIFICATION,
                                    ),
                                    dcc.RadioItems(
                                        id=ALM_VERIFICATION,
                                        options=_verification_options(lang),
                                        value="REAL",
                                        className="alm-radios",
                                    ),
                                ],
                                id=ALM_VERIFICATION_BOX,
                            ),
                            html.Label(
                                t("alm.remark", lang), id=ALM_REMARK_LABEL, htmlFor=ALM_REMARK
                            ),
                            dcc.Textarea(id=ALM_REMARK, value="", maxLength=REMARK_MAX, rows=2),
                            html.Button(
                                t("alm.ack", lang), id=ALM_ACK, n_clicks=0, className="alm-primary"
                            ),
                        ],
                        id=ALM_ACK_BOX,
                        className="alm-step",
                    ),
                    html.Div(
                        [
                            html.H4(t("alm.step_feedback", lang), id=ALM_FEEDBACK_STEP),
                            html.Label(t("alm.cause", lang), id=ALM_CAUSE_LABEL, htmlFor=ALM_CAUSE),
                            dcc.Textarea(id=ALM_CAUSE, value="", maxLength=CAUSE_MAX, rows=2),
                            html.Label(
                                t("alm.measures", lang), id=ALM_MEASURES_LABEL, htmlFor=ALM_MEASURES
                            ),
                            dcc.Textarea(id=ALM_MEASURES, value="", maxLength=MEASURES_MAX, rows=3),
                            html.Label(t("alm.photos", lang), id=ALM_PHOTOS_LABEL),
                            dcc.Upload(
                                upload_label,
                                id=ALM_UPLOAD,
                                accept="image/*",  # a phone offers its camera
                                multiple=True,
                                className="alm-upload",
                            ),
                            html.Div(t("alm.no_photos", lang), id=ALM_PHOTO_LIST),
                            html.Div(id=ALM_PHOTO_MESSAGE, className="alm-error"),
                            html.Button(
                                t("alm.photos_clear", lang), id=ALM_PHOTO_CLEAR, n_clicks=0
                            ),
                            html.Button(
                                t("alm.feedback", lang),
                                id=ALM_FEEDBACK,
                                n_clicks=0,
                                className="alm-primary",
                            ),
                        ],
                        id=ALM_FEEDBACK_BOX,
                        className="alm-step",
                    ),
                ],
                id=ALM_FORM_BODY,
                className=HIDDEN,
            ),
        ],
        id=ALM_FORM_SECTION,
        className="alm-card",
    )


def page_for(scope: Scope | None, credit_code: str, dsn: str, lang: str = DEFAULT_LANG) -> Any:
    """The page for this caller: the alarms and warnings, or "not found" outside the caller's
    scope (a caller not logged in is asked to log in, whatever the code)."""
    if scope is None:
        return login_prompt(lang, f"/alarms/{credit_code}")
    first = refresh_for(scope, credit_code, dsn, lang, None, None, None)
    if first is None:
        return html.Div(not_found(lang), id=ALM_NOT_FOUND)
    sound_label = t("alm.sound_on", lang)
    return html.Div(
        [
            dcc.Store(id=ALM_CODE, data=credit_code),
            dcc.Store(id=ALM_SEEN, data=first.seen),
            dcc.Store(id=ALM_BANNER_ITEMS, data=[]),
            dcc.Store(id=ALM_BEEP, data=0),
            dcc.Store(id=ALM_BEEP_DONE),
            dcc.Store(id=ALM_SOUND, storage_type="local", data=False),
            dcc.Store(id=ALM_SELECTED),
            dcc.Store(id=ALM_SCROLL_DONE),
            dcc.Store(id=ALM_VERSION, data={"n": 0, "reset": False}),
            dcc.Store(id=ALM_PHOTOS, data=[]),
            dcc.Store(id=ALM_HISTORY_PAGE, data=0),
            dcc.Interval(id=ALM_TICK, interval=REFRESH_MS, n_intervals=0),
            html.Div(
                [
                    html.Div(id=ALM_BANNER_TEXT),
                    html.Button(t("alm.banner_dismiss", lang), id=ALM_BANNER_DISMISS, n_clicks=0),
                ],
                id=ALM_BANNER,
                className=f"alm-banner {HIDDEN}",
                role="alert",
            ),
            html.Div(
                [
                    html.H2(first.title, id=ALM_NAME),
                    html.Div(
                        [
                            html.Button(sound_label, id=ALM_SOUND_BUTTON, n_clicks=0),
                            html.Small(t("alm.sound_hint", lang), id=ALM_SOUND_HINT),
                        ],
                        className="alm-sound",
                    ),
                ],
                className="alm-head",
            ),
            html.P(first.refreshed, id=ALM_REFRESHED, className="alm-refreshed"),
            html.Div(
                [
                    html.Section(
                        [
                            html.H3(t("alm.open_alarms", lang), id=ALM_ALARMS_HEADING),
                            html.Div(first.alarms, id=ALM_ALARMS),
                        ],
                        className="alm-card",
                    ),
                    html.Section(
                        [
                            html.H3(t("alm.open_warnings", lang), id=ALM_WARNINGS_HEADING),
                            html.Div(first.warnings, id=ALM_WARNINGS),
                        ],
                        className="alm-card",
                    ),
                    _form(lang),
                    html.Section(
                        [
                            html.H3(t("alm.history", lang), id=ALM_HISTORY_HEADING),
                            dcc.RadioItems(
                                id=ALM_HISTORY_DAYS,
                                options=_days_options(lang),
                                value=DEFAULT_DAYS,
                                inline=True,
                                className="alm-radios",
                            ),
                            html.Div(id=ALM_HISTORY),
                            html.Div(
                                [
                                    html.Button(
                                        t("alm.prev", lang), id=ALM_HISTORY_PREV, n_clicks=0
                                    ),
                                    html.Span(id=ALM_HISTORY_PAGE_TEXT),
                                    html.Button(
                                        t("alm.next", lang), id=ALM_HISTORY_NEXT, n_clicks=0
                                    ),
                                ],
                                className="alm-pager",
                            ),
                        ],
                        className="alm-card",
                    ),
                ],
                className="alm-grid",
            ),
        ],
        className="alm-page",
    )


def layout(credit_code: str | None = None, **_: Any) -> Any:
    """The page's layout for the logged-in caller (Chinese first; callbacks follow the switch)."""
    return page_for(request_scope(), credit_code or "", database_url())


# ---------------------------------------------------------------- callbacks: labels, refresh


@callback(
    Output(ALM_NOT_FOUND, "children"),
    Input(ids.LANG_STORE, "data"),
)
def render_not_found(lang: str) -> html.Div:
    """The "not found" content in the chosen language."""
    return not_found(lang)


_LABELS: Final = (
    (ALM_ALARMS_HEADING, "alm.open_alarms"),
    (ALM_WARNINGS_HEADING, "alm.open_warnings"),
    (ALM_FORM_HEADING, "alm.form_heading"),
    (ALM_SOUND_HINT, "alm.sound_hint"),
    (ALM_BANNER_DISMISS, "alm.banner_dismiss"),
    (ALM_VERIFICATION_LABEL, "alm.verification"),
    (ALM_REMARK_LABEL, "alm.remark"),
    (ALM_FEEDBACK_STEP, "alm.step_feedback"),
    (ALM_CAUSE_LABEL, "alm.cause"),
    (ALM_MEASURES_LABEL, "alm.measures"),
    (ALM_PHOTOS_LABEL, "alm.photos"),
    (ALM_UPLOAD_LABEL, "alm.upload"),
    (ALM_PHOTO_CLEAR, "alm.photos_clear"),
    (ALM_FEEDBACK, "alm.feedback"),
    (ALM_HISTORY_HEADING, "alm.history"),
    (ALM_HISTORY_PREV, "alm.prev"),
    (ALM_HISTORY_NEXT, "alm.next"),
)


@callback(
    *(Output(cid, "children") for cid, _ in _LABELS),
    Output(ALM_VERIFICATION, "options"),
    Output(ALM_HISTORY_DAYS, "options"),
    Input(ids.LANG_STORE, "data"),
)
def render_labels(lang: str) -> tuple[Any, ...]:
    """Every fixed text of the page in the chosen language."""
    return (
        *(t(key, lang) for _, key in _LABELS),
        _verification_options(lang),
        _days_options(lang),
    )


@callback(
    Output(ALM_SOUND_BUTTON, "children"),
    Output(ALM_SOUND_BUTTON, "className"),
    Input(ALM_SOUND, "data"),
    Input(ids.LANG_STORE, "data"),
)
def render_sound_button(enabled: bool | None, lang: str) -> tuple[str, str]:
    """ "Enable sound" or "turn sound off", as the browser remembers it."""
    if enabled:
        return t("alm.sound_off", lang), "alm-sound-on"
    return t("alm.sound_on", lang), "alm-sound-off"


@callback(
    Output(ALM_NAME, "children"),
    Output(ALM_ALARMS, "children"),
    Output(ALM_WARNINGS, "children"),
    Output(ALM_REFRESHED, "children"),
    Output(ALM_SEEN, "data"),
    Output(ALM_BANNER_ITEMS, "data"),
    Output(ALM_BANNER_TEXT, "children"),
    Output(ALM_BANNER, "className"),
    Output(ALM_BEEP, "data"),
    Input(ALM_TICK, "n_intervals"),
    Input(ids.LANG_STORE, "data"),
    Input(ALM_VERSION, "data"),
    Input(ALM_BANNER_DISMISS, "n_clicks"),
    State(ALM_CODE, "data"),
    State(ALM_SEEN, "data"),
    State(ALM_BANNER_ITEMS, "data"),
    State(ALM_BEEP, "data"),
)
def refresh(
    _n: int,
    lang: str,
    _version: Any,
    _dismiss: int,
    credit_code: str,
    seen: list[int] | None,
    banner_items: list[list[Any]] | None,
    beep: int | None,
) -> tuple[Any, ...]:
    """Open alarms and warnings, re-read every tick, after each step and on a language switch;
    the banner and the beep for new high-level alarms."""
    dismissed = dash.ctx.triggered_id == ALM_BANNER_DISMISS
    try:
        result = refresh_for(
            request_scope(),
            str(credit_code or ""),
            database_url(),
            lang,
            seen,
            banner_items,
            beep,
            dismissed=dismissed,
        )
    except psycopg.OperationalError as err:
        # the database is away: keep what the page shows, the next tick tries again
        raise PreventUpdate from err
    if result is None:
        raise PreventUpdate  # logged out or out of scope meanwhile: show nothing new
    return result.outputs()


clientside_callback(
    ClientsideFunction(namespace="dusttwinAlarms", function_name="beep"),
    Output(ALM_BEEP_DONE, "data"),
    Input(ALM_BEEP, "data"),
    State(ALM_SOUND, "data"),
    prevent_initial_call=True,
)
clientside_callback(
    ClientsideFunction(namespace="dusttwinAlarms", function_name="toggleSound"),
    Output(ALM_SOUND, "data"),
    Input(ALM_SOUND_BUTTON, "n_clicks"),
    State(ALM_SOUND, "data"),
    prevent_initial_call=True,
)
clientside_callback(
    ClientsideFunction(namespace="dusttwinAlarms", function_name="scrollToForm"),
    Output(ALM_SCROLL_DONE, "data"),
    Input(ALM_SELECTED, "data"),
    prevent_initial_call=True,
)


# ---------------------------------------------------------------- callbacks: choose, the form


@callback(
    Output(ALM_SELECTED, "data"),
    Input({"type": ALM_PICK, "kind": ALL, "id": ALL, "at": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def select(_clicks: list[int | None]) -> dict[str, Any]:
    """Choose the alarm or warning whose "处理" was clicked."""
    triggered = dash.ctx.triggered
    picked = dash.ctx.triggered_id
    # re-rendered lists bring new buttons (no clicks): that is no choice
    if not isinstance(picked, Mapping) or not triggered or not triggered[0].get("value"):
        raise PreventUpdate
    return {"kind": picked["kind"], "id": int(picked["id"])}


class FormState(NamedTuple):
    """How the form looks for the chosen item."""

    title: Any
    body_class: str
    ack_class: str
    feedback_class: str
    verification_class: str
    ack_step: str
    ack_label: str
    ack_disabled: bool
    feedback_disabled: bool

    def outputs(self) -> tuple[Any, ...]:
        """The form callback's outputs, in order."""
        return tuple(self)


def _selection(selected: Any) -> tuple[ItemKind, int] | None:
    if not isinstance(selected, Mapping):
        return None
    kind, item_id = selected.get("kind"), selected.get("id")
    if kind not in ("alarm", "warning") or isinstance(item_id, bool):
        return None
    try:
        return kind, int(item_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _item_title(kind: ItemKind, item: Mapping[str, Any], lang: str, where: str) -> str:
    head = t(f"alm.selected_{kind}", lang).format(id=item["id"])
    if kind == "alarm":
        state = _state_name(item["state"], lang)
        level = f"{item['level']} {_named('alm.level', item['level'], lang)}"
        point = where or item.get("indicator") or item.get("alarm_type") or ""
        return f"{head}: {point} · {level} · {state}"
    state = _named("alm.wstate", item["state"], lang)
    level = item.get("level_zh" if lang == "zh" else "level_en") or item["level"]
    return f"{head}: {level} · {_warning_reason(item, lang)} · {state}"


def form_for(
    scope: Scope | None, credit_code: str, selected: Any, dsn: str, lang: str
) -> FormState:
    """The form for the chosen alarm or warning: which step is open, which is done."""
    hint = FormState(
        t("alm.form_hint", lang),
        HIDDEN,
        "alm-step",
        "alm-step",
        "",
        t("alm.step_ack", lang),
        t("alm.ack", lang),
        True,
        True,
    )
    if scope is None:
        return hint._replace(title=t("alm.err.logged_out", lang))
    if not handles_alarms(scope):
        return hint._replace(title=t("alm.readonly", lang))
    chosen = _selection(selected)
    if chosen is None:
        return hint
    kind, item_id = chosen
    now = datetime.now(UTC)
    catalog = load_catalog()

    async def fetch(conn: AsyncConnection[Any]) -> tuple[dict[str, Any], dict[str, PointLabel]]:
        item = await own_item(conn, scope, kind, item_id, credit_code, now)
        labels = await point_labels(conn, scope, credit_code, catalog, lang)
        return item, labels

    try:
        item, labels = run(dsn, fetch)
    except (AlarmNotFoundError, WarningNotFoundError):
        return hint._replace(title=t("alm.err.not_found", lang))
    if kind == "alarm":
        step = next_alarm_action(item, scope)
        label = point_label(item, labels, catalog, lang)
        where = " · ".join(x for x in (label.system, label.point) if x)
        title = _item_title(kind, item, lang, where)
    else:
        step = next_warning_action(item, scope)
        title = _item_title(kind, item, lang, "")
    is_alarm = kind == "alarm"
    return FormState(
        title=title,
        body_class="alm-form-body",
        ack_class="alm-step" if step == "acknowledge" else "alm-step alm-done",
        feedback_class="alm-step" if step == "feedback" else "alm-step alm-later",
        verification_class="" if is_alarm else HIDDEN,
        ack_step=t("alm.step_ack" if is_alarm else "alm.step_ack_warning", lang),
        ack_label=t("alm.ack" if is_alarm else "alm.ack_warning", lang),
        ack_disabled=step != "acknowledge",
        feedback_disabled=step != "feedback",
    )


@callback(
    Output(ALM_FORM_TITLE, "children"),
    Output(ALM_FORM_BODY, "className"),
    Output(ALM_ACK_BOX, "className"),
    Output(ALM_FEEDBACK_BOX, "className"),
    Output(ALM_VERIFICATION_BOX, "className"),
    Output(ALM_ACK_STEP, "children"),
    Output(ALM_ACK, "children"),
    Output(ALM_ACK, "disabled"),
    Output(ALM_FEEDBACK, "disabled"),
    Input(ALM_SELECTED, "data"),
    Input(ALM_VERSION, "data"),
    Input(ids.LANG_STORE, "data"),
    State(ALM_CODE, "data"),
)
def render_form(selected: Any, _version: Any, lang: str, credit_code: str) -> tuple[Any, ...]:
    """The form of the chosen alarm or warning, after each step and on a language switch."""
    return form_for(
        request_scope(), str(credit_code or ""), selected, database_url(), lang
    ).outputs()


# ---------------------------------------------------------------- callbacks: photos


def _photo_problem(name: str, err: PhotoError, lang: str, max_bytes: int) -> str:
    if isinstance(err, PhotoTooLargeError):
        return t("alm.err.too_large", lang).format(name=name, mb=f"{max_bytes / 1024 / 1024:g}")
    return t("alm.err.not_image", lang).format(name=name)


def add_photos(
    photos: Sequence[Mapping[str, str]],
    contents: Sequence[str] | str | None,
    filenames: Sequence[str] | str | None,
    lang: str,
    max_bytes: int,
) -> tuple[list[dict[str, str]], list[str]]:
    """The photos kept after an upload (each checked like the API's: JPEG/PNG by its bytes,
    the size limit) and a message per file refused."""
    kept = [dict(p) for p in photos]
    items = [contents] if isinstance(contents, str) else list(contents or [])
    names = [filenames] if isinstance(filenames, str) else list(filenames or [])
    problems: list[str] = []
    for i, data_url in enumerate(items):
        name = names[i] if i < len(names) else f"#{i + 1}"
        if len(kept) >= MAX_PHOTOS:
            problems.append(t("alm.err.too_many_photos", lang).format(n=MAX_PHOTOS))
            break
        try:
            upload = decode_upload(name, data_url)
            check_photo(upload.data, upload.declared_type, max_bytes)
        except PhotoError as err:
            problems.append(_photo_problem(name, err, lang, max_bytes))
            continue
        kept.append({"name": name, "contents": data_url})
    return kept, problems


def photo_list(photos: Sequence[Mapping[str, str]], lang: str) -> Any:
    """The photos chosen so far, by name and size."""
    if not photos:
        return t("alm.no_photos", lang)
    items = []
    for p in photos:
        size_kb = max(1, round(len(p["contents"].partition(",")[2]) * 3 / 4 / 1024))
        items.append(html.Li(f"{p['name']} ({size_kb} KB)"))
    return html.Ul(items, className="alm-photo-names")


@callback(
    Output(ALM_PHOTOS, "data"),
    Output(ALM_PHOTO_LIST, "children"),
    Output(ALM_PHOTO_MESSAGE, "children"),
    Input(ALM_UPLOAD, "contents"),
    Input(ALM_PHOTO_CLEAR, "n_clicks"),
    Input(ALM_VERSION, "data"),
    Input(ALM_SELECTED, "data"),
    Input(ids.LANG_STORE, "data"),
    State(ALM_UPLOAD, "filename"),
    State(ALM_PHOTOS, "data"),
    prevent_initial_call=True,
)
def update_photos(
    contents: list[str] | str | None,
    _clear: int,
    version: Mapping[str, Any] | None,
    _selected: Any,
    lang: str,
    filenames: list[str] | str | None,
    photos: list[dict[str, str]] | None,
) -> tuple[Any, ...]:
    """Add the photos just taken or chosen (refusing what is no JPEG/PNG or too large), remove
    them all, or forget them once a feedback has taken them or another item was chosen."""
    if request_scope() is None:
        raise PreventUpdate
    trigger = dash.ctx.triggered_id
    fed_back = trigger == ALM_VERSION and (version or {}).get("reset")
    if trigger in (ALM_PHOTO_CLEAR, ALM_SELECTED) or fed_back:
        return [], photo_list([], lang), ""
    if trigger != ALM_UPLOAD:
        return dash.no_update, photo_list(photos or [], lang), dash.no_update
    kept, problems = add_photos(photos or [], contents, filenames, lang, max_photo_bytes())
    return kept, photo_list(kept, lang), " ".join(problems)


# ---------------------------------------------------------------- callbacks: the steps


class ActResult(NamedTuple):
    """What a step did: the message, whether it was done, and whether the form is to be reset."""

    ok: bool
    message: str
    reset: bool = False


def _reason(err: Exception, lang: str) -> str:
    """The risk room's reason, in the chosen language (its messages read "english / 中文")."""
    text = str(err)
    en, sep, zh = text.rpartition(" / ")
    if not sep:
        return text
    return zh.strip() if lang == "zh" else en.strip()


class StepForm(NamedTuple):
    """What the form sends with a step."""

    verification: str | None = None
    remark: str | None = None
    cause: str = ""
    measures: str = ""
    photos: Sequence[Mapping[str, str]] = ()


def _too_long(key: str, limit: int, lang: str) -> str:
    return t("alm.err.too_long", lang).format(field=t(key, lang), n=limit)


def step_problems(
    action: str, kind: ItemKind, form: StepForm, lang: str, max_bytes: int
) -> tuple[list[str], list[PhotoUpload]]:
    """What is wrong with the form for this step (before anything is sent to the risk room),
    and the photos decoded and checked like the API's (JPEG/PNG by their bytes, size)."""
    problems: list[str] = []
    if action == "acknowledge":
        if kind == "alarm" and form.verification not in VERIFICATIONS:
            problems.append(t("alm.err.verification", lang))
        if form.remark and len(form.remark) > REMARK_MAX:
            problems.append(_too_long("alm.remark", REMARK_MAX, lang))
        return problems, []
    if not form.cause.strip():
        problems.append(t("alm.err.cause", lang))
    if not form.measures.strip():
        problems.append(t("alm.err.measures", lang))
    if len(form.cause) > CAUSE_MAX:
        problems.append(_too_long("alm.cause", CAUSE_MAX, lang))
    if len(form.measures) > MEASURES_MAX:
        problems.append(_too_long("alm.measures", MEASURES_MAX, lang))
    if len(form.photos) > MAX_PHOTOS:
        problems.append(t("alm.err.too_many_photos", lang).format(n=MAX_PHOTOS))
    uploads: list[PhotoUpload] = []
    for p in form.photos:
        name = str(p.get("name") or "?")
        try:
            upload = decode_upload(name, str(p.get("contents") or ""))
            check_photo(upload.data, upload.declared_type, max_bytes)
        except PhotoError as err:
            problems.append(_photo_problem(name, err, lang, max_bytes))
            continue
        uploads.append(upload)
    return problems, uploads


# What a refused step says, by the risk or photo room's error; any other (a LifecycleError: the
# alarm's state does not allow the step) says its own reason.
_REFUSALS: Final[tuple[tuple[type[Exception], str], ...]] = (
    (AlarmNotFoundError, "alm.err.not_found"),
    (WarningNotFoundError, "alm.err.not_found"),
    (ActionNotPermittedError, "alm.err.not_permitted"),
    (NotAnImageError, "alm.err.photo_invalid"),
    (PhotoError, "alm.err.store"),
    (psycopg.OperationalError, "alm.err.database"),
)


def refusal(err: Exception, lang: str) -> str:
    """Why a step was refused, for the person holding the phone."""
    key = next((k for cls, k in _REFUSALS if isinstance(err, cls)), None)
    return _reason(err, lang) if key is None else t(key, lang)


def act_for(
    scope: Scope | None,
    action: str,
    credit_code: str,
    selected: Any,
    dsn: str,
    lang: str,
    form: StepForm,
    *,
    store: PhotoStore | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ActResult:
    """Take one step (acknowledge or feedback) on the chosen alarm or warning as the caller."""
    if scope is None:
        return ActResult(False, t("alm.err.logged_out", lang))
    chosen = _selection(selected)
    if chosen is None or action not in ("acknowledge", "feedback"):
        return ActResult(False, t("alm.err.nothing_selected", lang))
    kind, item_id = chosen
    problems, uploads = step_problems(action, kind, form, lang, max_bytes)
    if problems:
        return ActResult(False, t("alm.refused", lang) + " ".join(problems))
    now = datetime.now(UTC)

    async def step(conn: AsyncConnection[Any]) -> dict[str, Any]:
        if action == "acknowledge":
            return await acknowledge(
                conn,
                scope,
                kind,
                item_id,
                credit_code,
                now,
                verification=form.verification,
                remark=form.remark,
            )
        if store is None:
            raise RuntimeError("a feedback needs the photo store")
        return await feed_back(
            conn,
            scope,
            kind,
            item_id,
            credit_code,
            now,
            cause=form.cause,
            measures=form.measures,
            photos=uploads,
            store=store,
            max_photo_bytes=max_bytes,
        )

    try:
        done = run(dsn, step)
    except (RiskError, PhotoError, psycopg.OperationalError) as err:
        return ActResult(False, t("alm.refused", lang) + refusal(err, lang))
    if action == "acknowledge":
        return ActResult(True, t("alm.done.acknowledge", lang))
    closed = done["state"] == "CLOSED"
    return ActResult(True, t("alm.done.closed" if closed else "alm.done.feedback", lang), True)


@callback(
    Output(ALM_MESSAGE, "children"),
    Output(ALM_MESSAGE, "className"),
    Output(ALM_VERSION, "data"),
    Output(ALM_REMARK, "value"),
    Output(ALM_CAUSE, "value"),
    Output(ALM_MEASURES, "value"),
    Input(ALM_ACK, "n_clicks"),
    Input(ALM_FEEDBACK, "n_clicks"),
    State(ALM_SELECTED, "data"),
    State(ALM_CODE, "data"),
    State(ALM_VERIFICATION, "value"),
    State(ALM_REMARK, "value"),
    State(ALM_CAUSE, "value"),
    State(ALM_MEASURES, "value"),
    State(ALM_PHOTOS, "data"),
    State(ALM_VERSION, "data"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def take_step(
    ack_clicks: int,
    feedback_clicks: int,
    selected: Any,
    credit_code: str,
    verification: str | None,
    remark: str | None,
    cause: str | None,
    measures: str | None,
    photos: list[dict[str, str]] | None,
    version: Mapping[str, Any] | None,
    lang: str,
) -> tuple[Any, ...]:
    """Acknowledge or feed back the chosen alarm or warning; say what happened."""
    trigger = dash.ctx.triggered_id
    if trigger not in (ALM_ACK, ALM_FEEDBACK) or not (ack_clicks or feedback_clicks):
        raise PreventUpdate
    action = "acknowledge" if trigger == ALM_ACK else "feedback"
    form = StepForm(verification, remark, cause or "", measures or "", photos or [])
    result = act_for(
        request_scope(),
        action,
        str(credit_code or ""),
        selected,
        database_url(),
        lang,
        form,
        store=photo_store() if action == "feedback" else None,
        max_bytes=max_photo_bytes(),
    )
    if not result.ok:
        keep = dash.no_update
        return result.message, "alm-message alm-refused", keep, keep, keep, keep
    n = int((version or {}).get("n", 0)) + 1
    cleared = "" if result.reset else dash.no_update
    return (
        result.message,
        "alm-message alm-ok",
        {"n": n, "reset": result.reset},
        "",
        cleared,
        cleared,
    )


# ---------------------------------------------------------------- callbacks: history


def _step_line(step: Mapping[str, Any], lang: str) -> html.Li:
    actor = step["actor"]
    who = t("alm.system_actor", lang) if actor == "system" else actor
    action = _named("alm.action", step["action"], lang)
    return html.Li(f"{local_time(step['at'])} {action} · {who}")


def history_alarm(alarm: Mapping[str, Any], label: PointLabel, lang: str) -> html.Div:
    """A closed alarm: what, when, who acknowledged / fed back / closed it, and every step."""
    level = alarm["level"]
    point = " · ".join(x for x in (label.system, label.point) if x)
    feedback = alarm.get("feedback") or {}
    verification = VERIFICATIONS.get(alarm.get("verification") or "", ("—", "—"))
    who = [
        ("alm.acknowledged", alarm.get("acknowledged_by"), alarm.get("acknowledged_at")),
        ("alm.fed_back", alarm.get("fed_back_by"), alarm.get("fed_back_at")),
        ("alm.closed", alarm.get("closed_by"), alarm.get("closed_at")),
    ]
    fields = [
        _field("alm.type", _named("alm.type", alarm.get("alarm_type"), lang), lang),
        _field("alm.raised", local_time(alarm["raised_at"]), lang),
        _field("alm.verification", verification[0 if lang == "zh" else 1], lang),
    ]
    for key, by, at in who:
        by_text = t("alm.system_actor", lang) if by == "system" else (by or "—")
        fields.append(_field(key, f"{by_text} {local_time(at)}", lang))
    body: list[Any] = [
        html.Div(
            [
                html.Span(
                    f"{level} {_named('alm.level', level, lang)}",
                    className=f"alarm-level alarm-{level} alm-badge",
                ),
                html.Span(point, className="alm-point"),
                html.Span(_state_name(alarm["state"], lang), className="alm-state"),
            ],
            className="alm-card-head",
        ),
        html.Div(fields, className="alm-fields"),
    ]
    if feedback.get("cause") or feedback.get("measures"):
        photos = feedback.get("photos") or []
        body.append(
            html.P(
                f"{t('alm.cause', lang)}: {feedback.get('cause', '')}; "
                f"{t('alm.measures', lang)}: {feedback.get('measures', '')}; "
                + t("alm.photo_count", lang).format(n=len(photos)),
                className="alm-reason",
            )
        )
    steps = [_step_line(s, lang) for s in alarm.get("history") or []]
    body.append(
        html.Details([html.Summary(t("alm.steps", lang)), html.Ol(steps, className="alm-steps")])
    )
    return html.Div(body, id=f"alm-history-{alarm['id']}", className="alm-item alm-closed")


def history_children(history: History, lang: str) -> list[Any]:
    """The history page: closed alarms, then cleared warnings."""
    catalog = load_catalog()
    out: list[Any] = []
    if history.alarms:
        out.append(
            html.Div(
                [
                    history_alarm(a, point_label(a, history.labels, catalog, lang), lang)
                    for a in history.alarms
                ],
                className="alm-list",
            )
        )
    else:
        out.append(html.P(t("alm.no_history", lang), className="alm-empty"))
    if history.warnings:
        out.append(html.H4(t("alm.history_warnings", lang)))
        rows = []
        for w in history.warnings:
            level = w.get("level_zh" if lang == "zh" else "level_en") or w["level"]
            rows.append(
                html.Li(
                    f"{local_time(w['raised_at'])} {level} · {_warning_reason(w, lang)} · "
                    f"{t('alm.fed_back', lang)} {w.get('fed_back_by') or '—'} "
                    f"{local_time(w.get('fed_back_at'))} · "
                    f"{_named('alm.wstate', 'CLEARED', lang)} {w.get('cleared_by') or '—'} "
                    f"{local_time(w.get('cleared_at'))}",
                    id=f"alm-history-warning-{w['id']}",
                )
            )
        out.append(html.Ul(rows, className="alm-cleared"))
    return out


def history_for(
    scope: Scope | None, credit_code: str, days: int, page: int, dsn: str, lang: str
) -> tuple[list[Any], int, str, bool, bool] | None:
    """The history of ``days`` days, page ``page``: (children, page, page text, no previous,
    no next); None when the enterprise is not the caller's."""
    if scope is None:
        return None
    days = days if days in HISTORY_DAYS else DEFAULT_DAYS
    now = datetime.now(UTC)
    fetch = partial(
        history_view,
        scope=scope,
        credit_code=credit_code,
        now=now,
        catalog=load_catalog(),
        days=days,
        page=page,
        lang=lang,
    )
    history = run(dsn, fetch)
    if history is None:
        return None
    text = t("alm.page", lang).format(page=history.page + 1, pages=history.pages)
    return (
        history_children(history, lang),
        history.page,
        text,
        history.page <= 0,
        history.page >= history.pages - 1,
    )


@callback(
    Output(ALM_HISTORY, "children"),
    Output(ALM_HISTORY_PAGE, "data"),
    Output(ALM_HISTORY_PAGE_TEXT, "children"),
    Output(ALM_HISTORY_PREV, "disabled"),
    Output(ALM_HISTORY_NEXT, "disabled"),
    Input(ALM_HISTORY_DAYS, "value"),
    Input(ALM_HISTORY_PREV, "n_clicks"),
    Input(ALM_HISTORY_NEXT, "n_clicks"),
    Input(ALM_VERSION, "data"),
    Input(ids.LANG_STORE, "data"),
    State(ALM_HISTORY_PAGE, "data"),
    State(ALM_CODE, "data"),
)
def render_history(
    days: int | None,
    _prev: int,
    _next: int,
    _version: Any,
    lang: str,
    page: int | None,
    credit_code: str,
) -> tuple[Any, ...]:
    """The closed alarms of the chosen period, a page at a time."""
    trigger = dash.ctx.triggered_id
    wanted = int(page or 0)
    if trigger == ALM_HISTORY_PREV:
        wanted -= 1
    elif trigger == ALM_HISTORY_NEXT:
        wanted += 1
    elif trigger == ALM_HISTORY_DAYS:
        wanted = 0
    result = history_for(
        request_scope(),
        str(credit_code or ""),
        int(days or DEFAULT_DAYS),
        wanted,
        database_url(),
        lang,
    )
    if result is None:
        raise PreventUpdate
    return result
