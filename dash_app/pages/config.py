"""Enterprise configuration (``/config/<credit_code>``, 配置): cleaning plans (清扫计划: list,
create, edit, withdraw) and maintenance or shutdown filings (检修/停产报备: list, file, withdraw).

Every change goes through the workflow's domain function with the caller's scope
(``risk.cleaning.create_plan``/``update_plan``/``deactivate_plan``, ``risk.filings.file_filing``/
``withdraw_filing``), which enforces who may do what; a refused change shows the domain's reason
and changes nothing. Regulators of the enterprise's jurisdiction (and an engaged integrator) read
the page without its forms; anyone else, and an unknown code, gets the live twin's "not found".
Webhook subscriptions are not offered here: the API gives them to regulators only
(``risk.webhooks.subscribe``), never to an enterprise.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any, Final, NamedTuple

import dash
from dash import ALL, Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dash_app import ids
from dash_app.auth import database_url, login_prompt, request_scope
from dash_app.cleaning_queries import (
    ConfigView,
    Outcome,
    config_view,
    new_filing,
    plan_of,
    save_plan,
    stop_plan,
    withdraw,
)
from dash_app.components.sections import readonly_note, section
from dash_app.enterprise_queries import run
from dash_app.figures.enterprise import not_found
from dash_app.i18n import DEFAULT_LANG, t
from dash_app.server import app_settings
from dash_app.timefmt import CHINA, china_time, in_china
from risk.cleaning import AREA_KINDS, FREQUENCIES, METHODS, ZONES, PlanSpec
from risk.filings import FILING_KINDS, FilingRules
from twins.scope import Scope

dash.register_page(  # type: ignore[no-untyped-call]
    __name__, path_template="/config/<credit_code>", name="config"
)

# component ids (a browser test uses these)
CFG_CODE: Final = "cfg-code"
CFG_VERSION: Final = "cfg-version"  # bumped after each change: the lists are read again
CFG_NOT_FOUND: Final = "cfg-not-found"
CFG_NAME: Final = "cfg-name"
CFG_READONLY: Final = "cfg-readonly"
CFG_PLANS: Final = "cfg-plans"
CFG_PLAN_FORM: Final = "cfg-plan-form"
CFG_PLAN_TITLE: Final = "cfg-plan-title"
CFG_PLAN_ID: Final = "cfg-plan-id"  # None: the form creates a plan; a number: it edits that one
CFG_PLAN_RESET: Final = "cfg-plan-reset"  # bumped after a save: the form empties
CFG_AREA: Final = "cfg-area"
CFG_AREA_KIND: Final = "cfg-area-kind"
CFG_SYSTEM: Final = "cfg-system"
CFG_ZONE: Final = "cfg-zone"
CFG_FREQUENCY: Final = "cfg-frequency"
CFG_WINDOW_START: Final = "cfg-window-start"
CFG_WINDOW_MINUTES: Final = "cfg-window-minutes"
CFG_WEEKDAY: Final = "cfg-weekday"
CFG_MONTH_DAY: Final = "cfg-month-day"
CFG_METHOD: Final = "cfg-method"
CFG_RESPONSIBLE: Final = "cfg-responsible"
CFG_PHONE: Final = "cfg-phone"
CFG_PHOTOS: Final = "cfg-photos"
CFG_PLAN_SAVE: Final = "cfg-plan-save"
CFG_PLAN_NEW: Final = "cfg-plan-new"
CFG_PLAN_MESSAGE: Final = "cfg-plan-message"
CFG_FILINGS: Final = "cfg-filings"
CFG_FILING_FORM: Final = "cfg-filing-form"
CFG_FILING_SYSTEM: Final = "cfg-filing-system"
CFG_FILING_KIND: Final = "cfg-filing-kind"
CFG_FILING_START: Final = "cfg-filing-start"
CFG_FILING_END: Final = "cfg-filing-end"
CFG_FILING_REASON: Final = "cfg-filing-reason"
CFG_FILING_SAVE: Final = "cfg-filing-save"
CFG_FILING_MESSAGE: Final = "cfg-filing-message"
PLAN_EDIT: Final = "cfg-plan-edit"  # pattern id {"type": PLAN_EDIT, "plan": <plan id>}
PLAN_STOP: Final = "cfg-plan-stop"  # a confirm provider {"type": PLAN_STOP, "plan": <plan id>}
FILING_WITHDRAW: Final = "cfg-filing-withdraw"  # {"type": FILING_WITHDRAW, "filing": <id>}
# rows shown only for the frequencies they apply to
ROW_WINDOW_START: Final = "cfg-row-window-start"
ROW_WINDOW_MINUTES: Final = "cfg-row-window-minutes"
ROW_WEEKDAY: Final = "cfg-row-weekday"
ROW_MONTH_DAY: Final = "cfg-row-month-day"

# static texts: element id -> string key, rendered again when the language switches
LABELS: Final[dict[str, str]] = {
    "cfg-plans-heading": "cfg.plans",
    "cfg-plans-intro": "cfg.plans_intro",
    "cfg-area-label": "cfg.area",
    "cfg-area-kind-label": "cfg.area_kind",
    "cfg-system-label": "cfg.system",
    "cfg-zone-label": "cfg.zone",
    "cfg-frequency-label": "cfg.frequency",
    "cfg-window-start-label": "cfg.window_start",
    "cfg-window-minutes-label": "cfg.window_minutes",
    "cfg-weekday-label": "cfg.weekday",
    "cfg-month-day-label": "cfg.month_day",
    "cfg-method-label": "cfg.method",
    "cfg-method-note": "cfg.method_note",
    "cfg-responsible-label": "cfg.responsible",
    "cfg-phone-label": "cfg.phone",
    CFG_PLAN_SAVE: "cfg.save",
    CFG_PLAN_NEW: "cfg.new_plan",
    "cfg-filings-heading": "cfg.filings",
    "cfg-filings-intro": "cfg.filings_intro",
    "cfg-filing-form-heading": "cfg.new_filing",
    "cfg-filing-system-label": "cfg.filing_system",
    "cfg-filing-kind-label": "cfg.filing_kind",
    "cfg-filing-start-label": "cfg.starts",
    "cfg-filing-end-label": "cfg.ends",
    "cfg-filing-reason-label": "cfg.reason",
    CFG_FILING_SAVE: "cfg.file",
    CFG_READONLY: "cfg.readonly",
}

# the API's limits on the form fields (api/routes/cleaning.py, api/routes/filings.py)
MAX_AREA: Final = 200
MAX_RESPONSIBLE: Final = 100
MAX_PHONE: Final = 32
MAX_REASON: Final = 2000
DEFAULT_WINDOW: Final = "08:00"
DEFAULT_FILING_HOURS: Final = 4
TIME_FORMATS: Final = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S")
PHOTOS_YES: Final = "yes"
WHOLE_PLANT: Final = ""  # the radio value of "no system" / "the whole plant"
HIDDEN: Final = {"display": "none"}
SHOWN: Final[dict[str, str]] = {}


def filing_rules() -> FilingRules:
    """The filing rules in force, from the settings (as the API builds them)."""
    return FilingRules.of(app_settings())


def _view(scope: Scope, credit_code: str, dsn: str, lang: str) -> ConfigView | None:
    return run(dsn, partial(config_view, scope=scope, credit_code=credit_code, lang=lang))


# ---------------------------------------------------------------- pure builders


def schedule_text(plan: dict[str, Any], lang: str) -> str:
    """When a plan's tasks fall: per shift, daily/weekly/monthly windows, around maintenance."""
    frequency = plan["frequency"]
    start: time | None = plan.get("window_start")
    values = {
        "start": start.strftime("%H:%M") if start else "",
        "minutes": plan.get("window_minutes") or "",
        "weekday": t(f"cfg.weekday.{plan.get('weekday') or 1}", lang),
        "day": plan.get("month_day") or "",
    }
    return t(f"cfg.schedule.{frequency}", lang).format(**values)


def plan_card(plan: dict[str, Any], writable: bool, lang: str) -> html.Div:
    """One plan: area and kind, zone, schedule, method, who is responsible; edit and withdraw."""
    who = plan["responsible"] + (
        f" ({plan['responsible_phone']})" if plan.get("responsible_phone") else ""
    )
    facts = [
        t("cln.zone", lang).format(zone=plan["zone"]),
        schedule_text(plan, lang),
        t(f"cln.method.{plan['method']}", lang),
        f"{t('cln.responsible', lang)} {who}",
        t("cfg.photos_required" if plan["photos_required"] else "cfg.photos_optional", lang),
    ]
    if plan.get("system_code"):
        facts.insert(0, f"{t('cfg.system', lang)} {plan['system_code']}")
    actions = [
        html.Button(
            t("cfg.edit", lang),
            id={"type": PLAN_EDIT, "plan": plan["id"]},
            n_clicks=0,
            className="cfg-button",
        ),
        dcc.ConfirmDialogProvider(
            html.Button(t("cfg.stop", lang), className="cfg-button cfg-danger"),
            id={"type": PLAN_STOP, "plan": plan["id"]},
            message=t("cfg.confirm_stop", lang).format(area=plan["area"]),
        ),
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.Strong(plan["area"]),
                    html.Span(t(f"cfg.kind.{plan['area_kind']}", lang), className="cfg-tag"),
                ],
                className="cln-card-head",
            ),
            html.P(" · ".join(facts), className="cln-card-meta"),
            html.Div(actions if writable else [], className="cfg-actions"),
        ],
        id=f"cfg-plan-{plan['id']}",
        className="cln-card",
    )


def plans_list(view: ConfigView, lang: str) -> html.Div:
    """The enterprise's active cleaning plans."""
    if not view.plans:
        return html.Div(html.P(t("cfg.no_plans", lang)), className="cln-empty")
    return html.Div([plan_card(p, view.writable, lang) for p in view.plans], className="cln-cards")


def _system_name(view: ConfigView, code: str | None, lang: str) -> str:
    if code is None:
        return t("cfg.whole_plant", lang)
    return next((f"{name} ({c})" for c, name in view.systems if c == code), code)


def filing_card(filing: dict[str, Any], view: ConfigView, now: datetime, lang: str) -> html.Div:
    """One filing: kind, system or whole plant, window, reason, state; withdraw while live."""
    live = filing["state"] in ("FILED", "APPROVED") and filing["ends_at"] > now
    facts = [
        _system_name(view, filing["system_code"], lang),
        f"{china_time(filing['starts_at'])} – {china_time(filing['ends_at'])}",
        f"{t('cfg.filed_by', lang)} {filing['filed_by']}",
    ]
    remark = filing.get("decision_remark")
    body: list[Any] = [
        html.Div(
            [
                html.Strong(t(f"cfg.filing_kind.{filing['kind']}", lang)),
                html.Span(
                    t(f"cfg.filing_state.{filing['state']}", lang),
                    className=f"cln-state cfg-filing-{filing['state']}",
                ),
            ],
            className="cln-card-head",
        ),
        html.P(" · ".join(facts), className="cln-card-meta"),
        html.P(filing["reason"], className="cln-checkin"),
    ]
    if remark:
        body.append(html.P(f"{t('cfg.decision', lang)}: {remark}", className="cln-checkin"))
    if live and view.writable:
        during = filing["starts_at"] <= now
        body.append(
            dcc.ConfirmDialogProvider(
                html.Button(
                    t("cfg.end_now" if during else "cfg.withdraw", lang),
                    className="cfg-button cfg-danger",
                ),
                id={"type": FILING_WITHDRAW, "filing": filing["id"]},
                message=t("cfg.confirm_withdraw", lang),
            )
        )
    return html.Div(body, id=f"cfg-filing-{filing['id']}", className="cln-card")


def filings_list(view: ConfigView, now: datetime, lang: str) -> html.Div:
    """The enterprise's filings, latest window first."""
    if not view.filings:
        return html.Div(html.P(t("cfg.no_filings", lang)), className="cln-empty")
    count = t("cfg.filings_count", lang).format(shown=len(view.filings), total=view.filings_total)
    return html.Div(
        [
            html.P(count, className="cln-count"),
            html.Div(
                [filing_card(f, view, now, lang) for f in view.filings], className="cln-cards"
            ),
        ]
    )


def _options(prefix: str, values: tuple[Any, ...], lang: str) -> list[dict[str, Any]]:
    return [{"label": t(f"{prefix}.{v}", lang), "value": v} for v in values]


def system_options(view: ConfigView, none_key: str, lang: str) -> list[dict[str, Any]]:
    """Radio options: none (the whole plant) and each registered dust-removal system."""
    return [{"label": t(none_key, lang), "value": WHOLE_PLANT}] + [
        {"label": f"{name} ({code})", "value": code} for code, name in view.systems
    ]


class Choices(NamedTuple):
    """The option lists of the forms' radio groups, in one language."""

    area_kind: list[dict[str, Any]]
    system: list[dict[str, Any]]
    zone: list[dict[str, Any]]
    frequency: list[dict[str, Any]]
    weekday: list[dict[str, Any]]
    method: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    filing_system: list[dict[str, Any]]
    filing_kind: list[dict[str, Any]]


def choices(view: ConfigView, lang: str) -> Choices:
    """Every radio group's options (methods: only those the rules allow; see the note)."""
    return Choices(
        area_kind=_options("cfg.kind", AREA_KINDS, lang),
        system=system_options(view, "cfg.no_system", lang),
        zone=[{"label": t("cln.zone", lang).format(zone=z), "value": z} for z in ZONES],
        frequency=_options("cfg.frequency", FREQUENCIES, lang),
        weekday=_options("cfg.weekday", tuple(range(1, 8)), lang),
        method=_options("cln.method", tuple(METHODS), lang),
        photos=[{"label": t("cfg.photos_required", lang), "value": PHOTOS_YES}],
        filing_system=system_options(view, "cfg.whole_plant", lang),
        filing_kind=_options("cfg.filing_kind", FILING_KINDS, lang),
    )


def _field(label_id: str, key: str, control: Any, lang: str, row_id: str | None = None) -> Any:
    parts = [html.Label(t(key, lang), id=label_id, className="cln-label"), control]
    return (
        html.Div(parts, id=row_id, className="cfg-field")
        if row_id
        else html.Div(parts, className="cfg-field")
    )


def _radio(element: str, options: list[dict[str, Any]], value: Any) -> dcc.RadioItems:
    return dcc.RadioItems(id=element, options=options, value=value, className="cfg-radio")


class PlanValues(NamedTuple):
    """What the plan form holds (its controls' values).

    A named tuple, not a dataclass: Dash Pages executes page modules before it registers them
    in ``sys.modules``, where dataclasses look their module up.
    """

    area: str = ""
    area_kind: str = "other"
    system: str = WHOLE_PLANT
    zone: int | None = None
    frequency: str = "daily"
    window_start: str = DEFAULT_WINDOW
    window_minutes: int | None = None
    weekday: int = 1
    month_day: int = 1
    method: str = "explosion_proof_vacuum"
    responsible: str = ""
    phone: str = ""
    photos: tuple[str, ...] = (PHOTOS_YES,)

    @classmethod
    def of(cls, plan: dict[str, Any]) -> PlanValues:
        """The form filled with a stored plan, to edit it."""
        start: time | None = plan.get("window_start")
        return cls(
            area=plan["area"],
            area_kind=plan["area_kind"],
            system=plan.get("system_code") or WHOLE_PLANT,
            zone=plan["zone"],
            frequency=plan["frequency"],
            window_start=start.strftime("%H:%M") if start else DEFAULT_WINDOW,
            window_minutes=plan.get("window_minutes"),
            weekday=plan.get("weekday") or 1,
            month_day=plan.get("month_day") or 1,
            method=plan["method"],
            responsible=plan["responsible"],
            phone=plan.get("responsible_phone") or "",
            photos=(PHOTOS_YES,) if plan["photos_required"] else (),
        )

    def controls(self) -> tuple[Any, ...]:
        """The values in the order of ``PLAN_CONTROLS``."""
        return (
            self.area,
            self.area_kind,
            self.system,
            self.zone,
            self.frequency,
            self.window_start,
            self.window_minutes,
            self.weekday,
            self.month_day,
            self.method,
            self.responsible,
            self.phone,
            list(self.photos),
        )


# (element id, property) of each plan control, in ``PlanValues.controls`` order
PLAN_CONTROLS: Final = (
    (CFG_AREA, "value"),
    (CFG_AREA_KIND, "value"),
    (CFG_SYSTEM, "value"),
    (CFG_ZONE, "value"),
    (CFG_FREQUENCY, "value"),
    (CFG_WINDOW_START, "value"),
    (CFG_WINDOW_MINUTES, "value"),
    (CFG_WEEKDAY, "value"),
    (CFG_MONTH_DAY, "value"),
    (CFG_METHOD, "value"),
    (CFG_RESPONSIBLE, "value"),
    (CFG_PHONE, "value"),
    (CFG_PHOTOS, "value"),
)


def plan_form(view: ConfigView, c: Choices, lang: str) -> html.Section:
    """The plan form: empty to create a plan, filled by "edit" to change one."""
    v = PlanValues()
    fields = [
        _field(
            "cfg-area-label",
            "cfg.area",
            dcc.Input(id=CFG_AREA, type="text", maxLength=MAX_AREA, className="cln-input"),
            lang,
        ),
        _field(
            "cfg-area-kind-label",
            "cfg.area_kind",
            _radio(CFG_AREA_KIND, c.area_kind, v.area_kind),
            lang,
        ),
        _field("cfg-system-label", "cfg.system", _radio(CFG_SYSTEM, c.system, v.system), lang),
        _field("cfg-zone-label", "cfg.zone", _radio(CFG_ZONE, c.zone, v.zone), lang),
        _field(
            "cfg-frequency-label",
            "cfg.frequency",
            _radio(CFG_FREQUENCY, c.frequency, v.frequency),
            lang,
        ),
        _field(
            "cfg-window-start-label",
            "cfg.window_start",
            dcc.Input(
                id=CFG_WINDOW_START,
                type="text",
                value=v.window_start,
                placeholder="08:00",
                inputMode="numeric",
                className="cln-input",
            ),
            lang,
            ROW_WINDOW_START,
        ),
        _field(
            "cfg-window-minutes-label",
            "cfg.window_minutes",
            dcc.Input(id=CFG_WINDOW_MINUTES, type="number", min=1, step=1, className="cln-input"),
            lang,
            ROW_WINDOW_MINUTES,
        ),
        _field(
            "cfg-weekday-label",
            "cfg.weekday",
            _radio(CFG_WEEKDAY, c.weekday, v.weekday),
            lang,
            ROW_WEEKDAY,
        ),
        _field(
            "cfg-month-day-label",
            "cfg.month_day",
            dcc.Input(
                id=CFG_MONTH_DAY,
                type="number",
                min=1,
                max=28,
                step=1,
                value=v.month_day,
                className="cln-input",
            ),
            lang,
            ROW_MONTH_DAY,
        ),
        html.Div(
            [
                html.Label(t("cfg.method", lang), id="cfg-method-label", className="cln-label"),
                _radio(CFG_METHOD, c.method, v.method),
                html.P(t("cfg.method_note", lang), id="cfg-method-note", className="cln-note"),
            ],
            className="cfg-field",
        ),
        _field(
            "cfg-responsible-label",
            "cfg.responsible",
            dcc.Input(
                id=CFG_RESPONSIBLE, type="text", maxLength=MAX_RESPONSIBLE, className="cln-input"
            ),
            lang,
        ),
        _field(
            "cfg-phone-label",
            "cfg.phone",
            dcc.Input(id=CFG_PHONE, type="tel", maxLength=MAX_PHONE, className="cln-input"),
            lang,
        ),
        dcc.Checklist(
            id=CFG_PHOTOS,
            options=c.photos,
            value=list(v.photos),
            className="cfg-radio",
        ),
    ]
    return html.Section(
        [
            dcc.Store(id=CFG_PLAN_ID, data=None),
            dcc.Store(id=CFG_PLAN_RESET, data=0),
            html.H4(t("cfg.new_plan", lang), id=CFG_PLAN_TITLE),
            *fields,
            html.Div(
                [
                    html.Button(
                        t("cfg.save", lang), id=CFG_PLAN_SAVE, n_clicks=0, className="cln-submit"
                    ),
                    html.Button(
                        t("cfg.new_plan", lang), id=CFG_PLAN_NEW, n_clicks=0, className="cfg-button"
                    ),
                ],
                className="cfg-actions",
            ),
            html.Div(id=CFG_PLAN_MESSAGE, role="status"),
        ],
        id=CFG_PLAN_FORM,
        className="cfg-form" if view.writable else "cfg-form cln-hidden",
    )


def default_window(now: datetime) -> tuple[str, str]:
    """A filing form's first window: from the next quarter hour, for four hours (China time)."""
    local = in_china(now).replace(second=0, microsecond=0)
    start = local + timedelta(minutes=15 - local.minute % 15)
    return china_time(start), china_time(start + timedelta(hours=DEFAULT_FILING_HOURS))


def filing_form(view: ConfigView, c: Choices, now: datetime, lang: str) -> html.Section:
    """The filing form: system or whole plant, maintenance or shutdown, window, reason."""
    start, end = default_window(now)
    return html.Section(
        [
            html.H4(t("cfg.new_filing", lang), id="cfg-filing-form-heading"),
            _field(
                "cfg-filing-system-label",
                "cfg.filing_system",
                _radio(CFG_FILING_SYSTEM, c.filing_system, WHOLE_PLANT),
                lang,
            ),
            _field(
                "cfg-filing-kind-label",
                "cfg.filing_kind",
                _radio(CFG_FILING_KIND, c.filing_kind, "maintenance"),
                lang,
            ),
            _field(
                "cfg-filing-start-label",
                "cfg.starts",
                dcc.Input(id=CFG_FILING_START, type="text", value=start, className="cln-input"),
                lang,
            ),
            _field(
                "cfg-filing-end-label",
                "cfg.ends",
                dcc.Input(id=CFG_FILING_END, type="text", value=end, className="cln-input"),
                lang,
            ),
            _field(
                "cfg-filing-reason-label",
                "cfg.reason",
                dcc.Textarea(id=CFG_FILING_REASON, maxLength=MAX_REASON, className="cln-input"),
                lang,
            ),
            html.Button(
                t("cfg.file", lang), id=CFG_FILING_SAVE, n_clicks=0, className="cln-submit"
            ),
            html.Div(id=CFG_FILING_MESSAGE, role="status"),
        ],
        id=CFG_FILING_FORM,
        className="cfg-form" if view.writable else "cfg-form cln-hidden",
    )


def page_for(scope: Scope | None, credit_code: str, dsn: str, lang: str = DEFAULT_LANG) -> html.Div:
    """The page for this caller: the configuration, a login prompt, or "not found"."""
    if scope is None:
        return login_prompt(lang, f"/config/{credit_code}")
    view = _view(scope, credit_code, dsn, lang)
    if view is None:
        return html.Div(not_found(lang), id=CFG_NOT_FOUND)
    now = datetime.now(UTC)
    c = choices(view, lang)
    return html.Div(
        [
            dcc.Store(id=CFG_CODE, data=credit_code),
            dcc.Store(id=CFG_VERSION, data=0),
            html.H2(f"{view.header.name} · {t('nav.config', lang)}", id=CFG_NAME),
            readonly_note(t("cfg.readonly", lang), CFG_READONLY, writable=view.writable),
            section(
                t("cfg.plans", lang),
                "cfg-plans-heading",
                html.P(t("cfg.plans_intro", lang), id="cfg-plans-intro", className="cln-note"),
                html.Div(plans_list(view, lang), id=CFG_PLANS),
                plan_form(view, c, lang),
            ),
            section(
                t("cfg.filings", lang),
                "cfg-filings-heading",
                html.P(t("cfg.filings_intro", lang), id="cfg-filings-intro", className="cln-note"),
                html.Div(filings_list(view, now, lang), id=CFG_FILINGS),
                filing_form(view, c, now, lang),
            ),
        ],
        className="cln-page",
    )


def layout(credit_code: str | None = None, **_: Any) -> html.Div:
    """The page's layout for the logged-in caller (Chinese first; callbacks follow the switch)."""
    return page_for(request_scope(), credit_code or "", database_url())


# ---------------------------------------------------------------- reading the forms


class FormError(ValueError):
    """A form value that cannot be turned into what the domain takes (the message says why)."""


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int_or_none(value: object, what: str, lang: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError as err:
        raise FormError(t("cfg.not_a_number", lang).format(what=t(what, lang))) from err


def _clock_time(value: object, lang: str) -> time | None:
    text = _text(value)
    if not text:
        return None
    try:
        return time.fromisoformat(text if len(text) > 4 else "0" + text)
    except ValueError as err:
        raise FormError(t("cfg.bad_clock", lang).format(value=text)) from err


def plan_spec(values: PlanValues, lang: str) -> PlanSpec:
    """The domain's plan from the form (FormError when a field cannot be read).

    Only the fields of the chosen frequency are taken (a per-shift plan has no window of its
    own); whether the plan is acceptable is ``risk.cleaning.validate_plan``'s to say.
    """
    area, responsible, phone = _text(values.area), _text(values.responsible), _text(values.phone)
    if len(area) > MAX_AREA or len(responsible) > MAX_RESPONSIBLE or len(phone) > MAX_PHONE:
        raise FormError(
            t("cfg.too_long", lang).format(area=MAX_AREA, person=MAX_RESPONSIBLE, phone=MAX_PHONE)
        )
    zone = _int_or_none(values.zone, "cfg.zone", lang)
    if zone is None:
        raise FormError(t("cfg.choose_zone", lang))
    frequency = _text(values.frequency)
    windowed = frequency in ("daily", "weekly", "monthly")
    return PlanSpec(
        area=area,
        zone=zone,
        frequency=frequency,
        method=_text(values.method),
        responsible=responsible,
        area_kind=_text(values.area_kind) or "other",
        system_code=_text(values.system) or None,
        window_start=_clock_time(values.window_start, lang) if windowed else None,
        window_minutes=(
            _int_or_none(values.window_minutes, "cfg.window_minutes", lang)
            if frequency != "per_shift"
            else None
        ),
        weekday=_int_or_none(values.weekday, "cfg.weekday", lang)
        if frequency == "weekly"
        else None,
        month_day=(
            _int_or_none(values.month_day, "cfg.month_day", lang)
            if frequency == "monthly"
            else None
        ),
        photos_required=PHOTOS_YES in (values.photos or ()),
        responsible_phone=phone or None,
    )


def parse_china_time(value: object, lang: str) -> datetime:
    """A form's ``2025-03-03 08:00`` (China time) as an aware datetime (FormError otherwise)."""
    text = _text(value)
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=CHINA)
        except ValueError:
            continue
    raise FormError(t("cfg.bad_datetime", lang).format(value=text or "—"))


# ---------------------------------------------------------------- writes, for one caller


def _result(outcome: Outcome, done_key: str, lang: str, **values: Any) -> tuple[bool, str]:
    if not outcome.ok:
        return False, t("cfg.refused", lang) + outcome.reason
    return True, t(done_key, lang).format(**values)


def save_plan_for(
    scope: Scope, dsn: str, credit_code: str, plan_id: object, values: PlanValues, lang: str
) -> tuple[bool, str]:
    """Create or change a plan for this caller; (done, what to tell the person)."""
    try:
        spec = plan_spec(values, lang)
        target = _int_or_none(plan_id, "cfg.plans", lang)
    except FormError as err:
        return False, t("cfg.refused", lang) + str(err)
    outcome = run(
        dsn,
        partial(
            save_plan,
            scope=scope,
            credit_code=credit_code,
            plan_id=target,
            spec=spec,
            now=datetime.now(UTC),
        ),
    )
    key = "cfg.plan_created" if target is None else "cfg.plan_saved"
    return _result(outcome, key, lang, area=spec.area)


def stop_plan_for(
    scope: Scope, dsn: str, credit_code: str, plan_id: int, lang: str
) -> tuple[bool, str]:
    """Withdraw a plan for this caller."""
    outcome = run(
        dsn,
        partial(
            stop_plan, scope=scope, credit_code=credit_code, plan_id=plan_id, now=datetime.now(UTC)
        ),
    )
    return _result(outcome, "cfg.plan_stopped", lang)


def file_for(
    scope: Scope,
    dsn: str,
    credit_code: str,
    *,
    system: object,
    kind: object,
    starts: object,
    ends: object,
    reason: object,
    lang: str,
) -> tuple[bool, str]:
    """File a maintenance or shutdown window for this caller."""
    text = _text(reason)
    try:
        if not text or len(text) > MAX_REASON:
            raise FormError(t("cfg.reason_required", lang).format(n=MAX_REASON))
        starts_at, ends_at = parse_china_time(starts, lang), parse_china_time(ends, lang)
    except FormError as err:
        return False, t("cfg.refused", lang) + str(err)
    outcome = run(
        dsn,
        partial(
            new_filing,
            scope=scope,
            credit_code=credit_code,
            system_code=_text(system) or None,
            kind=_text(kind),
            starts_at=starts_at,
            ends_at=ends_at,
            reason=text,
            now=datetime.now(UTC),
            rules=filing_rules(),
        ),
    )
    return _result(outcome, "cfg.filed", lang)


def withdraw_for(scope: Scope, dsn: str, filing_id: int, lang: str) -> tuple[bool, str]:
    """Withdraw a filing for this caller (during its window: it ends now)."""
    outcome = run(dsn, partial(withdraw, scope=scope, filing_id=filing_id, now=datetime.now(UTC)))
    return _result(outcome, "cfg.withdrawn", lang)


def note(ok: bool, text: str) -> html.Div:
    """A change's result: done, or refused with the reason."""
    return html.Div(text, className="cln-ok" if ok else "cln-refused", role="alert")


def _clicked(pattern_type: str, key: str) -> int | None:
    """The id of the pattern-matched element whose click fired this callback (None if none)."""
    triggered = dash.ctx.triggered_id
    if not isinstance(triggered, dict) or triggered.get("type") != pattern_type:
        return None
    if not dash.ctx.triggered or not dash.ctx.triggered[0].get("value"):
        return None  # a button just rendered, not clicked
    try:
        return int(triggered[key])
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------- callbacks


@callback(Output(CFG_NOT_FOUND, "children"), Input(ids.LANG_STORE, "data"))
def render_not_found(lang: str) -> html.Div:
    """The "not found" content in the chosen language."""
    return not_found(lang)


@callback(
    Output(CFG_NAME, "children"),
    Output(CFG_PLANS, "children"),
    Output(CFG_FILINGS, "children"),
    Output(CFG_PLAN_TITLE, "children"),
    Output(CFG_AREA_KIND, "options"),
    Output(CFG_SYSTEM, "options"),
    Output(CFG_ZONE, "options"),
    Output(CFG_FREQUENCY, "options"),
    Output(CFG_WEEKDAY, "options"),
    Output(CFG_METHOD, "options"),
    Output(CFG_PHOTOS, "options"),
    Output(CFG_FILING_SYSTEM, "options"),
    Output(CFG_FILING_KIND, "options"),
    *[Output(element, "children") for element in LABELS],
    Input(ids.LANG_STORE, "data"),
    Input(CFG_VERSION, "data"),
    State(CFG_CODE, "data"),
    State(CFG_PLAN_ID, "data"),
)
def render(lang: str, version: int, credit_code: str, plan_id: int | None) -> tuple[Any, ...]:
    """Plans and filings, read again after each change and on a language switch."""
    if lang == DEFAULT_LANG and not version:
        raise PreventUpdate  # the page's first call: the layout has just rendered this
    scope = request_scope()
    view = None if scope is None else _view(scope, credit_code, database_url(), lang)
    if view is None:
        raise PreventUpdate
    c = choices(view, lang)
    return (
        f"{view.header.name} · {t('nav.config', lang)}",
        plans_list(view, lang),
        filings_list(view, datetime.now(UTC), lang),
        _plan_title(plan_id, lang),
        c.area_kind,
        c.system,
        c.zone,
        c.frequency,
        c.weekday,
        c.method,
        c.photos,
        c.filing_system,
        c.filing_kind,
        *[t(key, lang) for key in LABELS.values()],
    )


def _plan_title(plan_id: int | None, lang: str) -> str:
    if plan_id is None:
        return t("cfg.new_plan", lang)
    return t("cfg.editing", lang).format(id=plan_id)


@callback(
    Output(ROW_WINDOW_START, "style"),
    Output(ROW_WINDOW_MINUTES, "style"),
    Output(ROW_WEEKDAY, "style"),
    Output(ROW_MONTH_DAY, "style"),
    Input(CFG_FREQUENCY, "value"),
)
def frequency_rows(frequency: str | None) -> tuple[dict[str, str], ...]:
    """Show only the schedule fields of the chosen frequency."""
    return (
        SHOWN if frequency in ("daily", "weekly", "monthly") else HIDDEN,
        HIDDEN if frequency == "per_shift" else SHOWN,
        SHOWN if frequency == "weekly" else HIDDEN,
        SHOWN if frequency == "monthly" else HIDDEN,
    )


@callback(
    Output(CFG_PLAN_ID, "data"),
    *[Output(element, prop) for element, prop in PLAN_CONTROLS],
    Output(CFG_PLAN_TITLE, "children", allow_duplicate=True),
    Output(CFG_PLAN_MESSAGE, "children", allow_duplicate=True),
    Input({"type": PLAN_EDIT, "plan": ALL}, "n_clicks"),
    Input(CFG_PLAN_NEW, "n_clicks"),
    Input(CFG_PLAN_RESET, "data"),
    State(CFG_CODE, "data"),
    State(ids.LANG_STORE, "data"),
    prevent_initial_call=True,
)
def fill_plan_form(
    _edits: list[int], _new: int, _reset: int, credit_code: str, lang: str
) -> tuple[Any, ...]:
    """ "Edit" fills the form with the plan; "new plan" and a successful save empty it."""
    triggered = dash.ctx.triggered_id
    if triggered == CFG_PLAN_RESET:
        return (None, *PlanValues().controls(), t("cfg.new_plan", lang), dash.no_update)
    if triggered == CFG_PLAN_NEW:
        return (None, *PlanValues().controls(), t("cfg.new_plan", lang), None)
    plan_id = _clicked(PLAN_EDIT, "plan")
    scope = request_scope()
    if plan_id is None or scope is None:
        raise PreventUpdate
    plan = run(
        database_url(),
        partial(plan_of, scope=scope, credit_code=credit_code, plan_id=plan_id),
    )
    if plan is None:
        raise PreventUpdate
    return (
        plan_id,
        *PlanValues.of(plan).controls(),
        t("cfg.editing", lang).format(id=plan_id),
        None,
    )


@callback(
    Output(CFG_PLAN_MESSAGE, "children"),
    Output(CFG_VERSION, "data"),
    Output(CFG_PLAN_RESET, "data"),
    Input(CFG_PLAN_SAVE, "n_clicks"),
    State(CFG_CODE, "data"),
    State(CFG_PLAN_ID, "data"),
    *[State(element, prop) for element, prop in PLAN_CONTROLS],
    State(ids.LANG_STORE, "data"),
    State(CFG_VERSION, "data"),
    State(CFG_PLAN_RESET, "data"),
    prevent_initial_call=True,
)
def submit_plan(
    n_clicks: int,
    credit_code: str,
    plan_id: object,
    *rest: Any,
) -> tuple[Any, ...]:
    """Save the form's plan (new or changed); refused: the reason, and the form is kept."""
    *controls, lang, version, reset = rest
    if not n_clicks:
        raise PreventUpdate
    scope = request_scope()
    if scope is None:
        return note(False, t("auth.required", lang)), dash.no_update, dash.no_update
    values = PlanValues(*controls)
    ok, text = save_plan_for(scope, database_url(), credit_code, plan_id, values, lang)
    if not ok:
        return note(False, text), dash.no_update, dash.no_update
    return note(True, text), (version or 0) + 1, (reset or 0) + 1


@callback(
    Output(CFG_PLAN_MESSAGE, "children", allow_duplicate=True),
    Output(CFG_VERSION, "data", allow_duplicate=True),
    Input({"type": PLAN_STOP, "plan": ALL}, "submit_n_clicks"),
    State(CFG_CODE, "data"),
    State(ids.LANG_STORE, "data"),
    State(CFG_VERSION, "data"),
    prevent_initial_call=True,
)
def confirm_stop_plan(
    _clicks: list[int | None], credit_code: str, lang: str, version: int | None
) -> tuple[Any, ...]:
    """Withdraw the plan whose "withdraw" was confirmed."""
    plan_id = _clicked(PLAN_STOP, "plan")
    scope = request_scope()
    if plan_id is None or scope is None:
        raise PreventUpdate
    ok, text = stop_plan_for(scope, database_url(), credit_code, plan_id, lang)
    return note(ok, text), (version or 0) + 1 if ok else dash.no_update


@callback(
    Output(CFG_FILING_MESSAGE, "children"),
    Output(CFG_VERSION, "data", allow_duplicate=True),
    Output(CFG_FILING_REASON, "value"),
    Input(CFG_FILING_SAVE, "n_clicks"),
    State(CFG_CODE, "data"),
    State(CFG_FILING_SYSTEM, "value"),
    State(CFG_FILING_KIND, "value"),
    State(CFG_FILING_START, "value"),
    State(CFG_FILING_END, "value"),
    State(CFG_FILING_REASON, "value"),
    State(ids.LANG_STORE, "data"),
    State(CFG_VERSION, "data"),
    prevent_initial_call=True,
)
def submit_filing(
    n_clicks: int,
    credit_code: str,
    system: object,
    kind: object,
    starts: object,
    ends: object,
    reason: object,
    lang: str,
    version: int | None,
) -> tuple[Any, ...]:
    """File the form's window; refused: the reason, and the form is kept."""
    if not n_clicks:
        raise PreventUpdate
    scope = request_scope()
    if scope is None:
        return note(False, t("auth.required", lang)), dash.no_update, dash.no_update
    ok, text = file_for(
        scope,
        database_url(),
        credit_code,
        system=system,
        kind=kind,
        starts=starts,
        ends=ends,
        reason=reason,
        lang=lang,
    )
    if not ok:
        return note(False, text), dash.no_update, dash.no_update
    return note(True, text), (version or 0) + 1, ""


@callback(
    Output(CFG_FILING_MESSAGE, "children", allow_duplicate=True),
    Output(CFG_VERSION, "data", allow_duplicate=True),
    Input({"type": FILING_WITHDRAW, "filing": ALL}, "submit_n_clicks"),
    State(ids.LANG_STORE, "data"),
    State(CFG_VERSION, "data"),
    prevent_initial_call=True,
)
def confirm_withdraw(_clicks: list[int | None], lang: str, version: int | None) -> tuple[Any, ...]:
    """Withdraw the filing whose "withdraw" was confirmed."""
    filing_id = _clicked(FILING_WITHDRAW, "filing")
    scope = request_scope()
    if filing_id is None or scope is None:
        raise PreventUpdate
    ok, text = withdraw_for(scope, database_url(), filing_id, lang)
    return note(ok, text), (version or 0) + 1 if ok else dash.no_update
