"""Protocol v1 messages (rts, event, heartbeat, state) checked against the registered points.

Pure functions over plain data: a message's bytes and the gateway's registered points in, accepted
readings and events plus per-point rejections out. Nothing here does I/O; the same checks serve
MQTT, HTTP and the inbound adapters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

MAX_MESSAGE_BYTES = 256 * 1024
FUTURE_TOLERANCE = timedelta(minutes=5)
# Readings older than this when they arrive are stored and evaluated, but the alarms they raise
# are marked backfilled and not pushed as new (protocol v1 §4).
BACKFILL_AFTER = timedelta(minutes=10)
QUALITIES = ("GOOD", "FAULT", "MAINT", "OVER_RANGE")
QUALITY_CODES = {"GOOD": 0, "FAULT": 1, "MAINT": 2, "OVER_RANGE": 3}
EVENT_TYPES = ("ACTIVE", "CLEAR")
MessageKind = Literal["rts", "event", "heartbeat", "state"]


class MessageRejectedError(Exception):
    """A whole message refused (malformed JSON, too large, not a protocol v1 body)."""


@dataclass(frozen=True)
class PointSpec:
    """What ingest needs of a registered point."""

    point_id: int
    code: str
    indicator: str
    kind: str  # analog | switch | count
    range_low: float
    range_high: float
    gateway_id: str | None  # the gateway it is registered to (None: any of its enterprise)


@dataclass(frozen=True)
class Reading:
    """One value of one point, ready to store."""

    time: datetime
    point_id: int
    value: float | None
    quality: int
    backfilled: bool


@dataclass(frozen=True)
class DeviceEvent:
    """A device event (protocol v1 §5)."""

    time: datetime
    point_id: int
    type: str
    value: float | None
    content: str | None
    backfilled: bool


@dataclass(frozen=True)
class Rejection:
    """One refused entry of a message (index into its list), or the whole message (index None)."""

    index: int | None
    code: str | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        """The shape of protocol v1 §7/§8."""
        return {"index": self.index, "code": self.code, "reason": self.reason}


@dataclass
class CheckedMessage:
    """A message after its checks: what goes on, what was refused and why."""

    kind: MessageKind
    msg_id: str | None
    readings: list[Reading] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    sent_at: datetime | None = None
    state: str | None = None


def parse_time(value: Any) -> datetime:
    """An ISO 8601 time with an offset, or integer epoch milliseconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a time is not a boolean")
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.utcoffset() is None:
            raise ValueError("an ISO time needs its offset, e.g. +08:00")
        return parsed
    raise ValueError("a time is an ISO 8601 string with an offset or epoch milliseconds")


def _json_object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MessageRejectedError(f"message of {len(payload)} bytes is over the 256 KiB limit")
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MessageRejectedError(f"not UTF-8 JSON: {err}") from err
    if not isinstance(body, dict):
        raise MessageRejectedError("a message is a JSON object")
    return body


def _message_time(body: dict[str, Any], now: datetime) -> datetime:
    if "ts" not in body:
        return now
    try:
        return parse_time(body["ts"])
    except (ValueError, OverflowError, OSError) as err:
        raise MessageRejectedError(f"ts: {err}") from err


def _msg_id(body: dict[str, Any]) -> str | None:
    msg_id = body.get("msg_id")
    if msg_id is None:
        return None
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= 128:
        raise MessageRejectedError("msg_id is a string of 1 to 128 characters")
    return msg_id


@dataclass(frozen=True)
class Context:
    """What the checks compare against: the gateway, its enterprise's points, the clock."""

    gateway_id: str
    points: dict[str, PointSpec]
    now: datetime
    retention: timedelta


def _point(ctx: Context, code: Any) -> PointSpec | str:
    if not isinstance(code, str):
        return "code is not a string"
    spec = ctx.points.get(code)
    if spec is None:
        return "unknown point"
    if spec.gateway_id is not None and spec.gateway_id != ctx.gateway_id:
        return f"point is registered to gateway {spec.gateway_id}"
    return spec


def _time_problem(ctx: Context, when: datetime) -> str | None:
    if when > ctx.now + FUTURE_TOLERANCE:
        return "timestamp more than 5 minutes in the future"
    if when < ctx.now - ctx.retention:
        return "timestamp older than the retention period"
    return None


def _value(spec: PointSpec, raw: Any) -> float | str:
    """The stored value, or the reason it is refused."""
    if isinstance(raw, bool):
        if spec.kind != "switch":
            return f"a boolean for {spec.indicator}, which is {spec.kind}"
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        value = float(raw)
        if not math.isfinite(value):
            return "value is not a finite number"
        if spec.kind == "switch" and value not in (0.0, 1.0):
            return f"a switch ({spec.indicator}) takes 0/1 or true/false"
        return value
    return f"value of type {type(raw).__name__}; expected a number" + (
        " or boolean" if spec.kind == "switch" else ""
    )


EntryCheck = Callable[[Any, datetime, Context, CheckedMessage], str | None]


def _check_batch(
    payload: bytes, ctx: Context, kind: MessageKind, member: str, shape: str, entry: EntryCheck
) -> CheckedMessage:
    """A message holding a list of entries: each entry checked, each refusal kept with its index."""
    body = _json_object(payload)
    msg_id = _msg_id(body)
    sent = _message_time(body, ctx.now)
    entries = body.get(member)
    if not isinstance(entries, list):
        raise MessageRejectedError(f"{member} is a list of {shape}")
    checked = CheckedMessage(kind, msg_id, sent_at=sent)
    for index, item in enumerate(entries):
        problem = entry(item, sent, ctx, checked)
        if problem is not None:
            code = item.get("code") if isinstance(item, dict) else None
            checked.rejected.append(
                Rejection(index, code if isinstance(code, str) else None, problem)
            )
    return checked


def check_rts(payload: bytes, ctx: Context) -> CheckedMessage:
    """A real-time data batch (protocol v1 §4); MessageRejectedError when refused whole."""
    return _check_batch(payload, ctx, "rts", "points", "{code, value[, ts, quality]}", _rts_entry)


def _point_and_time(entry: Any, sent: datetime, ctx: Context) -> tuple[PointSpec, datetime] | str:
    """The registered point and the time of an entry, or the reason it is refused."""
    if not isinstance(entry, dict):
        return "an entry is a JSON object"
    spec = _point(ctx, entry.get("code"))
    if isinstance(spec, str):
        return spec
    try:
        when = parse_time(entry["ts"]) if "ts" in entry else sent
    except (ValueError, OverflowError, OSError) as err:
        return f"ts: {err}"
    return _time_problem(ctx, when) or (spec, when)


def _rts_entry(entry: Any, sent: datetime, ctx: Context, checked: CheckedMessage) -> str | None:
    found = _point_and_time(entry, sent, ctx)
    if isinstance(found, str):
        return found
    spec, when = found
    quality_name = entry.get("quality", "GOOD")
    if quality_name not in QUALITIES or quality_name == "OVER_RANGE":
        return f"quality {quality_name!r}; one of GOOD, FAULT, MAINT"
    raw = entry.get("value")
    value: float | None
    if raw is None:
        if quality_name == "GOOD":
            return "value is null without a quality (FAULT or MAINT)"
        value = None
    else:
        checked_value = _value(spec, raw)
        if isinstance(checked_value, str):
            return checked_value
        value = checked_value
    quality = QUALITY_CODES[quality_name]
    if value is not None and quality == 0 and not spec.range_low <= value <= spec.range_high:
        quality = QUALITY_CODES[
            "OVER_RANGE"
        ]  # stored, flagged: a data-quality alarm, no process alarm
    checked.readings.append(
        Reading(when, spec.point_id, value, quality, backfilled=ctx.now - when > BACKFILL_AFTER)
    )
    return None


def check_event(payload: bytes, ctx: Context) -> CheckedMessage:
    """Device events (protocol v1 §5); MessageRejectedError when refused whole."""
    return _check_batch(
        payload, ctx, "event", "events", "{code, type[, value, content, ts]}", _event_entry
    )


def _event_entry(entry: Any, sent: datetime, ctx: Context, checked: CheckedMessage) -> str | None:
    found = _point_and_time(entry, sent, ctx)
    if isinstance(found, str):
        return found
    spec, when = found
    if entry.get("type") not in EVENT_TYPES:
        return "type is ACTIVE or CLEAR"
    raw = entry.get("value")
    value = None
    if raw is not None:
        checked_value = _value(spec, raw)
        if isinstance(checked_value, str):
            return checked_value
        value = checked_value
    content = entry.get("content")
    if content is not None and not isinstance(content, str):
        return "content is a string"
    checked.events.append(
        DeviceEvent(
            when,
            spec.point_id,
            entry["type"],
            value,
            content,
            backfilled=ctx.now - when > BACKFILL_AFTER,
        )
    )
    return None


def check_heartbeat(payload: bytes, ctx: Context) -> CheckedMessage:
    """A heartbeat (protocol v1 §6): alive, but not data activity."""
    body = _json_object(payload)
    return CheckedMessage("heartbeat", _msg_id(body), sent_at=_message_time(body, ctx.now))


def check_state(payload: bytes) -> CheckedMessage:
    """The retained state (protocol v1 §3): ``online`` or ``offline``."""
    text = payload.decode("utf-8", errors="replace").strip()
    if text not in ("online", "offline"):
        raise MessageRejectedError("state is 'online' or 'offline'")
    return CheckedMessage("state", None, state=text)


def check(kind: MessageKind, payload: bytes, ctx: Context) -> CheckedMessage:
    """Dispatch on the message kind."""
    if kind == "rts":
        return check_rts(payload, ctx)
    if kind == "event":
        return check_event(payload, ctx)
    if kind == "heartbeat":
        return check_heartbeat(payload, ctx)
    return check_state(payload)
