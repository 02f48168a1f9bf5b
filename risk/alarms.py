"""Alarms in PostgreSQL: raised, repeated, cleared, and taken through their closed loop.

The limit evaluation hands in ``AlarmChange``s; this layer keeps at most one open alarm per (twin,
alarm type) with ``INSERT … ON CONFLICT`` on a partial unique index, so connectors racing on one
point still make one alarm. Every step goes to ``alarm_history``, the live events to
``risk.events``, the point twin's ``alarm`` feature is refreshed, and the enterprise is marked
for re-evaluation of its risk (``risk_pending``) — all in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from risk import lifecycle
from risk.errors import AlarmNotFoundError
from risk.events import Event, emit
from risk.filings import active_windows, suppressed
from risk.lifecycle import Action, Role
from risk.queryfilters import scoped_where
from twins.scope import Scope

SYSTEM: Final = "system"


@dataclass(frozen=True)
class Subject:
    """The twin an alarm is on, with its jurisdiction keys."""

    thing_id: str
    credit_code: str
    adcode: str
    point_id: int | None = None
    system_code: str | None = None
    indicator: str | None = None
    mandatory: bool = False


@dataclass(frozen=True)
class Change:
    """One change of an alarm condition (the shape of ``risk.limits.AlarmChange``)."""

    action: str  # raise | update | clear
    alarm_type: str
    level: str
    time: datetime
    value: float | None = None
    limit: float | None = None
    backfilled: bool = False
    predicted_at: datetime | None = None
    suppressed: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Deadlines:
    """How long an enterprise has to acknowledge and to feed back [DEFAULT 30 min / 24 h]."""

    acknowledge: timedelta = timedelta(minutes=30)
    feedback: timedelta = timedelta(hours=24)


_UPSERT: Final = """
INSERT INTO alarms (thing_id, point_id, credit_code, adcode, system_code, indicator, alarm_type,
                    level, mandatory, raised_at, last_seen_at, first_value, peak_value,
                    last_value, limit_value, predicted_at, backfilled, suppressed,
                    ack_deadline, feedback_deadline, detail)
VALUES (%(thing_id)s, %(point_id)s, %(credit_code)s, %(adcode)s, %(system_code)s, %(indicator)s,
        %(alarm_type)s, %(level)s, %(mandatory)s, %(time)s, %(time)s, %(value)s, %(value)s,
        %(value)s, %(limit)s, %(predicted_at)s, %(backfilled)s, %(suppressed)s,
        %(ack_deadline)s, %(feedback_deadline)s, %(detail)s)
ON CONFLICT (thing_id, alarm_type) WHERE state <> 'CLOSED' DO UPDATE SET
    count = alarms.count + CASE WHEN %(is_raise)s AND NOT alarms.condition_active THEN 1 ELSE 0 END,
    condition_active = true,
    cleared_at = NULL,
    last_seen_at = greatest(alarms.last_seen_at, EXCLUDED.last_seen_at),
    last_value = coalesce(EXCLUDED.last_value, alarms.last_value),
    peak_value = CASE
        WHEN EXCLUDED.peak_value IS NULL THEN alarms.peak_value
        WHEN alarms.peak_value IS NULL THEN EXCLUDED.peak_value
        WHEN %(low)s THEN least(alarms.peak_value, EXCLUDED.peak_value)
        ELSE greatest(alarms.peak_value, EXCLUDED.peak_value) END,
    level = CASE WHEN %(rank)s > %(old_rank_sql)s THEN EXCLUDED.level ELSE alarms.level END,
    limit_value = CASE WHEN %(rank)s > %(old_rank_sql)s THEN EXCLUDED.limit_value
                       ELSE alarms.limit_value END,
    predicted_at = coalesce(EXCLUDED.predicted_at, alarms.predicted_at),
    -- raised in a maintenance window and still present after it: no longer suppressed
    suppressed = alarms.suppressed AND EXCLUDED.suppressed,
    detail = alarms.detail || jsonb_build_object('previous_level', alarms.level,
                                                 'was_active', alarms.condition_active,
                                                 'was_suppressed', alarms.suppressed)
RETURNING id, (xmax = 0) AS inserted, level, state, detail ->> 'previous_level' AS previous_level,
          (detail ->> 'was_active')::boolean AS was_active,
          (detail ->> 'was_suppressed')::boolean AS was_suppressed
"""


def _old_rank_sql() -> str:
    cases = " ".join(f"WHEN '{level}' THEN {r}" for level, r in lifecycle.LEVEL_RANK.items())
    return f"(CASE alarms.level {cases} ELSE 0 END)"


_UPSERT_SQL: Final = _UPSERT.replace("%(old_rank_sql)s", _old_rank_sql())


def collapse(changes: Sequence[tuple[Subject, Change]]) -> list[tuple[Subject, Change]]:
    """Merge runs of ``update``s of one alarm into one (newest time, most extreme value).

    A busy point above its limit repeats an update per reading; storing one per batch keeps the
    peak, the last value and the highest level all the same.
    """
    out: list[tuple[Subject, Change]] = []
    pending: dict[tuple[str, str], int] = {}  # (thing, type) -> index of its pending update
    for subject, change in changes:
        key = (subject.thing_id, change.alarm_type)
        if change.action != "update":
            pending.pop(key, None)
            out.append((subject, change))
            continue
        at = pending.get(key)
        if at is None:
            pending[key] = len(out)
            out.append((subject, change))
            continue
        old = out[at][1]
        low = change.alarm_type == "LOW"
        extreme = _extreme(old.value, change.value, low=low)
        level = (
            change.level if lifecycle.rank(change.level) > lifecycle.rank(old.level) else old.level
        )
        out[at] = (
            subject,
            Change(
                "update",
                change.alarm_type,
                level,
                max(old.time, change.time),
                extreme,
                change.limit if level == change.level else old.limit,
                old.backfilled and change.backfilled,
                change.predicted_at or old.predicted_at,
                change.suppressed,
            ),
        )
    return out


async def _during_maintenance(
    conn: AsyncConnection[Any], changes: Sequence[tuple[Subject, Change]]
) -> Sequence[tuple[Subject, Change]]:
    raising = [(s, c) for s, c in changes if c.action != "clear"]
    if not raising:
        return changes
    times = [c.time for _, c in raising]
    windows = await active_windows(
        conn, {s.credit_code for s, _ in raising}, min(times), max(times)
    )
    if not windows:
        return changes
    return [
        (s, c)
        if c.action == "clear"
        else (
            s,
            replace(
                c,
                suppressed=c.suppressed
                or suppressed(s.system_code, c.time, windows.get(s.credit_code, []), level=c.level),
            ),
        )
        for s, c in changes
    ]


def _extreme(a: float | None, b: float | None, *, low: bool) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a, b) if low else max(a, b)


async def apply_changes(
    conn: AsyncConnection[Any],
    changes: Sequence[tuple[Subject, Change]],
    now: datetime,
    deadlines: Deadlines,
) -> list[Event]:
    """Store alarm changes in the caller's transaction; returns the events they made (emitted).

    A change inside an approved maintenance filing (检修报备) of its system or plant is stored
    marked ``suppressed``: recorded, not announced (explosion-device alarms never are).
    """
    changes = await _during_maintenance(conn, changes)
    events: list[Event] = []
    touched: dict[str, Subject] = {}
    for subject, change in collapse(changes):
        touched[subject.thing_id] = subject
        if change.action == "clear":
            events += await _clear(conn, subject, change)
        else:
            events += await _upsert(conn, subject, change, now, deadlines)
    if touched:
        await refresh_alarm_features(conn, list(touched))
        await mark_pending(conn, {s.credit_code for s in touched.values()}, now)
    await emit(conn, events)
    return events


async def _upsert(
    conn: AsyncConnection[Any], subject: Subject, change: Change, now: datetime, d: Deadlines
) -> list[Event]:
    # deadlines run from when the platform learnt of it: a backfilled alarm is not overdue at once
    params = {
        "thing_id": subject.thing_id,
        "point_id": subject.point_id,
        "credit_code": subject.credit_code,
        "adcode": subject.adcode,
        "system_code": subject.system_code,
        "indicator": subject.indicator,
        "alarm_type": change.alarm_type,
        "level": change.level,
        "mandatory": subject.mandatory,
        "time": change.time,
        "value": change.value,
        "limit": change.limit,
        "predicted_at": change.predicted_at,
        "backfilled": change.backfilled,
        "suppressed": change.suppressed,
        "ack_deadline": now + d.acknowledge,
        "feedback_deadline": now + d.feedback,
        "detail": json.dumps(change.detail),
        "is_raise": change.action == "raise",
        "low": change.alarm_type == "LOW",
        "rank": lifecycle.rank(change.level),
    }
    cur = await conn.execute(_UPSERT_SQL, params)
    row = await cur.fetchone()
    assert row is not None
    alarm_id, inserted, level, state, previous_level, was_active, was_suppressed = row
    body = _event_body(alarm_id, subject, change, level, state)
    if inserted:
        await _history(conn, alarm_id, "raised", SYSTEM, None, "ACTIVE", _change_detail(change))
        quiet = change.backfilled or change.suppressed  # stored, not pushed as new
        return [] if quiet else [_event("alarm.raised", subject, body)]
    events: list[Event] = []
    if was_suppressed and not change.suppressed:
        # raised during maintenance and still present after the window: announce it now
        await _history(conn, alarm_id, "unsuppressed", SYSTEM, state, state, _change_detail(change))
        events.append(_event("alarm.raised", subject, {**body, "after_maintenance": True}))
    if change.action == "raise" and not was_active:
        await _history(conn, alarm_id, "reactivated", SYSTEM, state, state, _change_detail(change))
        events.append(_event("alarm.raised", subject, {**body, "repeat": True}))
    if level != previous_level:
        await _history(
            conn, alarm_id, "escalated", SYSTEM, state, state, {"from": previous_level, "to": level}
        )
        events.append(_event("alarm.escalated", subject, {**body, "from_level": previous_level}))
    return [] if change.backfilled or change.suppressed else events


async def _clear(conn: AsyncConnection[Any], subject: Subject, change: Change) -> list[Event]:
    cur = await conn.execute(
        "UPDATE alarms SET condition_active = false, cleared_at = %s"
        " WHERE thing_id = %s AND alarm_type = %s AND state <> 'CLOSED' AND condition_active"
        " RETURNING id, state, level",
        (change.time, subject.thing_id, change.alarm_type),
    )
    row = await cur.fetchone()
    if row is None:
        return []
    alarm_id, state, level = row
    await _history(conn, alarm_id, "cleared", SYSTEM, state, state, _change_detail(change))
    events = [
        _event("alarm.cleared", subject, _event_body(alarm_id, subject, change, level, state))
    ]
    if state == "FED_BACK" and lifecycle.closes_by_itself(level, condition_active=False):
        await conn.execute(
            "UPDATE alarms SET state = 'CLOSED', closed_at = %s, closed_by = %s WHERE id = %s",
            (change.time, SYSTEM, alarm_id),
        )
        await _history(conn, alarm_id, "closed", SYSTEM, state, "CLOSED", {"automatic": True})
        events.append(
            _event("alarm.closed", subject, {"alarm_id": alarm_id, "level": level, "auto": True})
        )
    return events


def _change_detail(change: Change) -> dict[str, Any]:
    return {
        "level": change.level,
        "value": change.value,
        "limit": change.limit,
        "time": change.time.isoformat(),
        "backfilled": change.backfilled,
        **({"predicted_at": change.predicted_at.isoformat()} if change.predicted_at else {}),
    }


def _event_body(
    alarm_id: int, subject: Subject, change: Change, level: str, state: str
) -> dict[str, Any]:
    return {
        "alarm_id": alarm_id,
        "alarm_type": change.alarm_type,
        "level": level,
        "state": state,
        "indicator": subject.indicator,
        "value": change.value,
        "limit": change.limit,
        "time": change.time.isoformat(),
        **({"predicted_at": change.predicted_at.isoformat()} if change.predicted_at else {}),
    }


def _event(kind: str, subject: Subject, data: dict[str, Any]) -> Event:
    return Event(kind, subject.thing_id, subject.credit_code, subject.adcode, data)


async def _history(
    conn: AsyncConnection[Any],
    alarm_id: int,
    action: str,
    actor: str,
    from_state: str | None,
    to_state: str | None,
    detail: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO alarm_history (alarm_id, action, actor, from_state, to_state, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (alarm_id, action, actor, from_state, to_state, json.dumps(detail, default=str)),
    )


async def refresh_alarm_features(conn: AsyncConnection[Any], thing_ids: Iterable[str]) -> None:
    """Set each twin's ``alarm`` feature from its open alarms (one statement for all)."""
    ranks = " ".join(f"WHEN '{level}' THEN {r}" for level, r in lifecycle.LEVEL_RANK.items())
    await conn.execute(
        f"""
        WITH open AS (
            SELECT thing_id, count(*) AS n,
                   count(*) FILTER (WHERE condition_active) AS active,
                   min(raised_at) AS since,
                   (array_agg(level ORDER BY CASE level {ranks} ELSE 0 END DESC))[1] AS level
            FROM alarms WHERE thing_id = ANY(%(ids)s) AND state <> 'CLOSED' GROUP BY thing_id
        ), wanted AS (
            SELECT t.thing_id, jsonb_build_object(
                'state', CASE WHEN o.active > 0 THEN 'alarm'
                              WHEN o.n > 0 THEN 'handling' ELSE 'normal' END,
                'level', o.level, 'since', o.since, 'open', coalesce(o.n, 0)) AS props
            FROM unnest(%(ids)s::text[]) AS t(thing_id) LEFT JOIN open o USING (thing_id)
        )
        UPDATE things t
        SET features = jsonb_set(t.features, '{{alarm}}',
                                 jsonb_build_object('properties', w.props)),
            revision = t.revision + 1, modified_at = now()
        FROM wanted w
        WHERE t.thing_id = w.thing_id
          AND t.features #> '{{alarm,properties}}' IS DISTINCT FROM w.props
        """,
        {"ids": sorted(set(thing_ids))},
    )


async def mark_pending(
    conn: AsyncConnection[Any], credit_codes: Iterable[str], now: datetime
) -> None:
    """Ask for a re-evaluation of these enterprises' risk (debounced: one row each)."""
    codes = sorted(set(credit_codes))
    if codes:
        await conn.execute(
            "INSERT INTO risk_pending (credit_code, since) SELECT unnest(%s::text[]), %s"
            " ON CONFLICT DO NOTHING",
            (codes, now),
        )


# ---------------------------------------------------------------- the closed loop (API side)


ALARM_COLUMNS: Final = (
    "id, thing_id, point_id, credit_code, adcode, system_code, indicator, alarm_type, level,"
    " mandatory, state, condition_active, raised_at, recorded_at, last_seen_at, cleared_at,"
    " count, first_value, peak_value, last_value, limit_value, predicted_at, backfilled,"
    " suppressed, ack_deadline, feedback_deadline, acknowledged_at, acknowledged_by,"
    " verification, fed_back_at, fed_back_by, feedback, closed_at, closed_by"
)


@dataclass(frozen=True)
class AlarmFilter:
    """What a list of alarms is narrowed to."""

    credit_code: str | None = None
    system_code: str | None = None  # one dust-removal system of the enterprise
    adcode: str | None = None  # a region: every alarm under it
    states: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    indicator: str | None = None
    alarm_type: str | None = None
    open_only: bool = False
    overdue_only: bool = False
    since: datetime | None = None
    until: datetime | None = None


def with_overdue(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An alarm row with its overdue flags (computed at read time, so always current)."""
    state = row["state"]
    return {
        **row,
        "ack_overdue": state == "ACTIVE" and now > row["ack_deadline"],
        "feedback_overdue": state in ("ACTIVE", "HANDLING", "REJECTED")
        and now > row["feedback_deadline"],
        "state_name": lifecycle.STATE_NAMES[state],
    }


def _where(scope: Scope, f: AlarmFilter, now: datetime) -> tuple[str, list[Any]]:
    clauses, params = scoped_where(
        scope,
        equals=(
            ("credit_code", f.credit_code),
            ("system_code", f.system_code),
            ("indicator", f.indicator),
            ("alarm_type", f.alarm_type),
        ),
        adcode=f.adcode,
        any_of=(("state", f.states), ("level", f.levels)),
    )
    if f.open_only:
        clauses.append("state <> 'CLOSED'")
    if f.overdue_only:
        clauses.append(
            "((state = 'ACTIVE' AND ack_deadline < %s) OR"
            " (state IN ('ACTIVE', 'HANDLING', 'REJECTED') AND feedback_deadline < %s))"
        )
        params += [now, now]
    if f.since:
        clauses.append("raised_at >= %s")
        params.append(f.since)
    if f.until:
        clauses.append("raised_at < %s")
        params.append(f.until)
    return " AND ".join(clauses) or "true", params


async def list_alarms(
    conn: AsyncConnection[Any],
    scope: Scope,
    f: AlarmFilter,
    now: datetime,
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """The alarms the scope sees that match the filter, newest first, and how many there are."""
    where, params = _where(scope, f, now)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM alarms WHERE {where}", params)
        total_row = await cur.fetchone()
        await cur.execute(
            f"SELECT {ALARM_COLUMNS} FROM alarms WHERE {where}"
            " ORDER BY raised_at DESC, id DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        rows = await cur.fetchall()
    total = int(total_row["n"]) if total_row else 0
    return total, [with_overdue(r, now) for r in rows]


async def get_alarm(
    conn: AsyncConnection[Any], scope: Scope, alarm_id: int, now: datetime, *, lock: bool = False
) -> dict[str, Any]:
    """One alarm the scope sees, with its history."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {ALARM_COLUMNS} FROM alarms WHERE id = %s{' FOR UPDATE' if lock else ''}",
            (alarm_id,),
        )
        row = await cur.fetchone()
        if row is None or not scope.sees("point", row["adcode"], row["credit_code"]):
            raise AlarmNotFoundError(f"no alarm {alarm_id} / 报警不存在")
        await cur.execute(
            "SELECT at, action, actor, from_state, to_state, detail FROM alarm_history"
            " WHERE alarm_id = %s ORDER BY at, id",
            (alarm_id,),
        )
        history = await cur.fetchall()
    return {**with_overdue(row, now), "history": history}


async def act(
    conn: AsyncConnection[Any],
    scope: Scope,
    alarm_id: int,
    action: Action,
    now: datetime,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """Take one lifecycle action on an alarm, as the caller; returns the alarm afterwards."""
    async with conn.transaction():
        alarm = await get_alarm(conn, scope, alarm_id, now, lock=True)
        role: Role = scope.role
        step = lifecycle.take(
            action,
            alarm["state"],
            role,
            level=alarm["level"],
            condition_active=alarm["condition_active"],
        )
        to_state = "FED_BACK" if step.auto_closed else step.to_state
        sets, params = _action_columns(action, scope.username, now, detail)
        await conn.execute(
            f"UPDATE alarms SET state = %s, {sets} WHERE id = %s", [to_state, *params, alarm_id]
        )
        await _history(
            conn, alarm_id, _PAST[action], scope.username, alarm["state"], to_state, detail
        )
        subject = Subject(alarm["thing_id"], alarm["credit_code"], alarm["adcode"])
        body = {
            "alarm_id": alarm_id,
            "level": alarm["level"],
            "state": step.to_state,
            "by": scope.username,
        }
        events = [_event(f"alarm.{_PAST[action]}", subject, body)]
        if step.auto_closed:
            await conn.execute(
                "UPDATE alarms SET state = 'CLOSED', closed_at = %s, closed_by = %s WHERE id = %s",
                (now, SYSTEM, alarm_id),
            )
            await _history(
                conn, alarm_id, "closed", SYSTEM, "FED_BACK", "CLOSED", {"automatic": True}
            )
            events.append(_event("alarm.closed", subject, {**body, "auto": True}))
        await refresh_alarm_features(conn, [alarm["thing_id"]])
        await mark_pending(conn, [alarm["credit_code"]], now)
        await emit(conn, events)
    return await get_alarm(conn, scope, alarm_id, now)


_PAST: Final[dict[Action, str]] = {
    "acknowledge": "acknowledged",
    "feedback": "fed_back",
    "close": "closed",
    "reject": "rejected",
}


def _action_columns(
    action: Action, username: str, now: datetime, detail: dict[str, Any]
) -> tuple[str, list[Any]]:
    if action == "acknowledge":
        return "acknowledged_at = %s, acknowledged_by = %s, verification = %s", [
            now,
            username,
            detail["verification"],
        ]
    if action == "feedback":
        return "fed_back_at = %s, fed_back_by = %s, feedback = %s", [
            now,
            username,
            json.dumps(detail),
        ]
    if action == "close":
        return "closed_at = %s, closed_by = %s", [now, username]
    return "feedback = coalesce(feedback, '{}'::jsonb) || %s", [
        json.dumps({"rejected_reason": detail.get("reason"), "rejected_by": username})
    ]


# ---------------------------------------------------------------- periodic checks (RQ jobs)


async def sync_offline_alarms(
    conn: AsyncConnection[Any], now: datetime, deadlines: Deadlines
) -> tuple[int, int]:
    """Raise OFFLINE alarms for twins gone offline and clear those back online.

    One alarm for a silent gateway rather than one per point behind it; a point raises its own
    only while its gateway is online. Returns (raised, cleared).
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """
            WITH live AS (
                SELECT t.thing_id, t.id, t.kind, t.credit_code, t.adcode,
                       t.attributes ->> 'system_code' AS system_code,
                       t.attributes ->> 'indicator' AS indicator,
                       (t.features #>> '{connectivity,properties,online}')::boolean AS online,
                       (t.features #>> '{connectivity,properties,changed_at}')::timestamptz
                           AS changed_at,
                       t.features #>> '{connectivity,properties,last_seen}' AS last_seen,
                       coalesce((g.features #>> '{connectivity,properties,online}')::boolean,
                                true) AS gateway_online
                FROM things t
                LEFT JOIN things g ON t.kind = 'point' AND g.kind = 'gateway'
                     AND g.deleted_at IS NULL AND g.credit_code = t.credit_code
                     AND g.attributes ->> 'gateway_id' = t.attributes ->> 'gateway_id'
                WHERE t.kind IN ('gateway', 'point') AND t.deleted_at IS NULL
                  AND t.credit_code IS NOT NULL
            )
            SELECT l.*, a.id AS alarm_id, a.condition_active
            FROM live l
            LEFT JOIN alarms a ON a.thing_id = l.thing_id AND a.alarm_type = 'OFFLINE'
                 AND a.state <> 'CLOSED'
            WHERE (NOT l.online AND l.last_seen IS NOT NULL AND l.gateway_online
                   AND (a.id IS NULL OR NOT a.condition_active))
               OR (l.online AND a.condition_active)
            """
        )
        rows = await cur.fetchall()
    changes: list[tuple[Subject, Change]] = []
    for r in rows:
        subject = Subject(
            r["thing_id"],
            r["credit_code"],
            r["adcode"],
            point_id=r["id"] if r["kind"] == "point" else None,
            system_code=r["system_code"],
            indicator=r["indicator"],
        )
        action = "clear" if r["online"] else "raise"
        changes.append((subject, Change(action, "OFFLINE", "OFFLINE", r["changed_at"] or now)))
    await apply_changes(conn, changes, now, deadlines)
    raised = sum(1 for _, c in changes if c.action == "raise")
    return raised, len(changes) - raised


async def mark_overdue(conn: AsyncConnection[Any], now: datetime) -> int:
    """Record, once each, the alarms that passed a deadline; their enterprises' risk is redone."""
    cur = await conn.execute(
        """
        WITH due AS (
            SELECT a.id, a.credit_code, a.state,
                   CASE WHEN a.state = 'ACTIVE' AND a.ack_deadline < %(now)s
                             AND NOT EXISTS (SELECT 1 FROM alarm_history h
                                 WHERE h.alarm_id = a.id AND h.action = 'overdue'
                                   AND h.detail ->> 'deadline' = 'acknowledge')
                        THEN 'acknowledge'
                        WHEN a.state IN ('ACTIVE', 'HANDLING', 'REJECTED')
                             AND a.feedback_deadline < %(now)s
                             AND NOT EXISTS (SELECT 1 FROM alarm_history h WHERE h.alarm_id = a.id
                                 AND h.action = 'overdue' AND h.detail ->> 'deadline' = 'feedback')
                        THEN 'feedback' END AS deadline
            FROM alarms a
            WHERE a.state IN ('ACTIVE', 'HANDLING', 'REJECTED')
              AND (a.ack_deadline < %(now)s OR a.feedback_deadline < %(now)s)
        ), recorded AS (
            INSERT INTO alarm_history (alarm_id, at, action, actor, from_state, to_state, detail)
            SELECT id, %(now)s, 'overdue', 'system', state, state,
                   jsonb_build_object('deadline', deadline)
            FROM due WHERE deadline IS NOT NULL
            RETURNING alarm_id
        )
        SELECT DISTINCT d.credit_code FROM due d JOIN recorded r ON r.alarm_id = d.id
        """,
        {"now": now},
    )
    codes = [str(c) for (c,) in await cur.fetchall()]
    await mark_pending(conn, codes, now)
    return len(codes)
