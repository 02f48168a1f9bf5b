"""Warnings (预警) in PostgreSQL, read and taken through acknowledge → feedback → clearance (消警).

Warnings are raised, upgraded, escalated (督办) and cleared automatically by ``risk.assessment``;
this module serves the people: the enterprise acknowledges and feeds back, a regulator clears a
warning once its cause has gone and feedback exists (``risk.warnings_policy.may_clear``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from risk.assessment import _open_warning
from risk.errors import ActionNotPermittedError, LifecycleError, WarningNotFoundError
from risk.events import Event, emit
from risk.model import LEVEL_NAMES
from risk.queryfilters import scoped_where
from risk.warnings_policy import may_clear
from twins.scope import Scope

WarningAction = Literal["acknowledge", "feedback", "clear"]

# action -> (states it may start from, state it leads to, roles that may take it)
_RULES: Final[dict[str, tuple[frozenset[str], str, frozenset[str]]]] = {
    "acknowledge": (frozenset({"OPEN"}), "ACKNOWLEDGED", frozenset({"enterprise", "admin"})),
    "feedback": (frozenset({"ACKNOWLEDGED"}), "FED_BACK", frozenset({"enterprise", "admin"})),
    "clear": (
        frozenset({"OPEN", "ACKNOWLEDGED", "FED_BACK"}),
        "CLEARED",
        frozenset({"regulator", "admin"}),
    ),
}
_PAST: Final = {"acknowledge": "acknowledged", "feedback": "fed_back", "clear": "cleared"}


def may_take(action: WarningAction, state: str, role: str) -> bool:
    """Whether ``role`` may take ``action`` on a warning in ``state`` (as ``act`` checks it)."""
    starts, _, roles = _RULES[action]
    return state in starts and role in roles


@dataclass(frozen=True)
class WarningFilter:
    """What a list of warnings is narrowed to."""

    credit_code: str | None = None
    states: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    trigger: str | None = None
    tier: str | None = None
    open_only: bool = False


def _with_flags(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    state = row["state"]
    zh, en = LEVEL_NAMES[row["level"]]
    return {
        **row,
        "level_zh": zh,
        "level_en": en,
        "ack_overdue": state == "OPEN" and now > row["ack_deadline"],
        "feedback_overdue": state in ("OPEN", "ACKNOWLEDGED") and now > row["feedback_deadline"],
    }


async def list_warnings(
    conn: AsyncConnection[Any],
    scope: Scope,
    f: WarningFilter,
    now: datetime,
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Warnings the scope sees, newest first, and how many match."""
    clauses, params = scoped_where(
        scope,
        equals=(("credit_code", f.credit_code), ("trigger", f.trigger), ("tier", f.tier)),
        any_of=(("state", f.states), ("level", f.levels)),
    )
    if f.open_only:
        clauses.append("state <> 'CLEARED'")
    where = " AND ".join(clauses) or "true"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM warnings WHERE {where}", params)
        total = await cur.fetchone()
        await cur.execute(
            f"SELECT * FROM warnings WHERE {where} ORDER BY raised_at DESC, id DESC"
            " LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        rows = await cur.fetchall()
    return (int(total["n"]) if total else 0), [_with_flags(r, now) for r in rows]


async def get_warning(
    conn: AsyncConnection[Any], scope: Scope, warning_id: int, now: datetime, *, lock: bool = False
) -> dict[str, Any]:
    """One warning the scope sees, with its history (escalations included)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT * FROM warnings WHERE id = %s{' FOR UPDATE' if lock else ''}", (warning_id,)
        )
        row = await cur.fetchone()
        if row is None or not scope.sees("enterprise", row["adcode"], row["credit_code"]):
            raise WarningNotFoundError(f"no warning {warning_id} / 预警不存在")
        await cur.execute(
            "SELECT at, action, actor, detail FROM warning_history WHERE warning_id = %s"
            " ORDER BY at, id",
            (warning_id,),
        )
        history = await cur.fetchall()
    return {**_with_flags(row, now), "history": history}


async def act(
    conn: AsyncConnection[Any],
    scope: Scope,
    warning_id: int,
    action: WarningAction,
    now: datetime,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """Take one action on a warning as the caller; returns the warning afterwards."""
    starts, to_state, roles = _RULES[action]
    async with conn.transaction():
        w = await get_warning(conn, scope, warning_id, now, lock=True)
        if scope.role not in roles:
            raise ActionNotPermittedError(
                f"a user with role {scope.role} may not {action} a warning / 当前角色无权执行此操作"
            )
        if w["state"] not in starts:
            raise LifecycleError(
                f"cannot {action} a warning that is {w['state']}; allowed from "
                f"{', '.join(sorted(starts))} / 预警当前状态不允许此操作"
            )
        if action == "clear":
            await _check_clearable(conn, w)
        columns = {
            "acknowledge": "acknowledged_at = %s, acknowledged_by = %s",
            "feedback": "fed_back_at = %s, fed_back_by = %s, feedback = %s",
            "clear": "cleared_at = %s, cleared_by = %s",
        }[action]
        params: list[Any] = [now, scope.username]
        if action == "feedback":
            params.append(json.dumps(detail, ensure_ascii=False))
        await conn.execute(
            f"UPDATE warnings SET state = %s, {columns} WHERE id = %s",
            [to_state, *params, warning_id],
        )
        await conn.execute(
            "INSERT INTO warning_history (warning_id, at, action, actor, detail)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                warning_id,
                now,
                _PAST[action],
                scope.username,
                json.dumps(detail, ensure_ascii=False),
            ),
        )
        await emit(
            conn,
            [
                Event(
                    f"warning.{_PAST[action]}",
                    f"dusttwin:enterprise-{w['credit_code']}",
                    w["credit_code"],
                    w["adcode"],
                    {
                        "warning_id": warning_id,
                        "trigger": w["trigger"],
                        "level": w["level"],
                        "by": scope.username,
                    },
                )
            ],
        )
    return await get_warning(conn, scope, warning_id, now)


async def _check_clearable(conn: AsyncConnection[Any], w: dict[str, Any]) -> None:
    cur = await conn.execute(
        "SELECT features #>> '{risk,properties,level}',"
        " (features #>> '{connectivity,properties,online}')::boolean"
        " FROM things WHERE kind = 'enterprise' AND credit_code = %s",
        (w["credit_code"],),
    )
    row = await cur.fetchone()
    level, online = row or (None, None)
    overdue_cur = await conn.execute(
        "SELECT id::text FROM alarms WHERE credit_code = %s AND state IN"
        " ('ACTIVE', 'HANDLING', 'REJECTED') AND (feedback_deadline < now()"
        " OR (state = 'ACTIVE' AND ack_deadline < now()))",
        (w["credit_code"],),
    )
    overdue = [str(i) for (i,) in await overdue_cur.fetchall()]
    clearance = may_clear(
        _open_warning({**w, "escalations": []}),
        current_level=level or "blue",
        overdue_alarm_ids=overdue,
        offline=online is False,
    )
    if not clearance.allowed:
        raise LifecycleError(f"{clearance.reason_en} / {clearance.reason_zh}")
