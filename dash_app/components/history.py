"""An alarm's or warning's life as the regulator pages list it (one-screen view, supervision)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import html

from dash_app.i18n import STRINGS, t
from dash_app.timefmt import local_time
from risk.lifecycle import STATE_NAMES, VERIFICATIONS
from twins.errors import InvalidThingError
from twins.model import parse_thing_id

__all__ = ["code_name", "feedback_lines", "gateway_label", "history_list", "state_name"]

DETAIL_KEYS = ("verification", "cause", "measures", "remark", "reason")


def code_name(prefix: str, key: Any, lang: str) -> str:
    """A translated name for a code (``prefix.key``), the code itself when there is none."""
    full = f"{prefix}.{key}"
    return t(full, lang) if full in STRINGS else ("—" if key is None else str(key))


def gateway_label(thing_id: str, lang: str) -> str | None:
    """ "数采网关 GW01" for an alarm raised on a gateway (offline), None for any other twin."""
    try:
        key = parse_thing_id(thing_id)
    except InvalidThingError:
        return None
    return f"{t('ent.gateway', lang)} {key.local_id}" if key.kind == "gateway" else None


def state_name(state: str, lang: str) -> str:
    """An alarm's state (ACTIVE, HANDLING…) in the chosen language."""
    names = STATE_NAMES.get(state)
    return state if names is None else names[0 if lang == "zh" else 1]


def history_list(
    history: list[dict[str, Any]],
    prefix: str,
    lang: str,
    escalation: Callable[[dict[str, Any], str], str],
) -> html.Ol:
    """Every step of an alarm's or warning's life: when, what, who, with its remark or reason.

    ``escalation`` words an ``escalated`` step's detail (to whom the warning went).
    """
    items = []
    for h in history:
        detail = h.get("detail") or {}
        words = [
            local_time(h.get("at")),
            code_name(prefix, h.get("action"), lang),
            h.get("actor") or "",
        ]
        if h.get("to_state") and h.get("from_state") != h.get("to_state"):
            words.append(f"→ {state_name(h['to_state'], lang)}")
        if h.get("action") == "escalated":
            words.append(escalation(detail, lang))
        for key in DETAIL_KEYS:
            if detail.get(key):
                value = str(detail[key])
                if key == "verification" and value in VERIFICATIONS:
                    value = VERIFICATIONS[value][0 if lang == "zh" else 1]
                words.append(f"{t(f'one.detail.{key}', lang)}: {value}")
        items.append(html.Li(" ".join(w for w in words if w)))
    return html.Ol(items, className="reg-history")


def feedback_lines(feedback: dict[str, Any], lang: str) -> list[Any]:
    """The enterprise's feedback (cause, measures) and a regulator's reason for sending it back."""
    return [
        html.P([html.B(f"{t(f'one.detail.{key}', lang)}: "), str(feedback[key])])
        for key in ("cause", "measures", "rejected_reason")
        if feedback.get(key)
    ]
