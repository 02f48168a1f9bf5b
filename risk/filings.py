"""Maintenance and shutdown filings (检修/停产报备) and the enterprise's audit trail.

An enterprise files a window for one dust-removal system or its whole plant. While an APPROVED
window lasts, the affected points' alarms are stored but not raised (``suppressed``) and offline
time does not count against the online rate (``dt_filed_ranges`` in SQL).

Filings are approved at once when filed (``FilingRules.auto_approve``, [DEFAULT] on). Maintenance
is often decided the same morning; a filing that waited for a county officer would leave the
plant's alarm list flooded with the expected alarms of a stopped fan or a drained tank, burying
the real ones, and its offline time counted as a failure. The guard is visibility, not a gate:
a filing is at once in the regulators' list and the audit trail, a regulator may reject it before
or during the window (or afterwards: the offline time then counts again), and the rules below
refuse what could hide a real danger: windows in the past (no retroactive excuse), longer than
``max_duration`` [DEFAULT 30 days], or overlapping another live window of the same target. With
``auto_approve`` off, filings wait in FILED until a regulator approves them.

Exceptions (base ``risk.errors.RiskError``): ``InvalidFilingError`` (the window or the target is
not acceptable), ``FilingOverlapError`` (another live window of the same target),
``FilingNotFoundError``, ``FilingStateError`` (an action the filing's state does not allow),
``FilingNotPermittedError`` (the caller's role may not take this action).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, NamedTuple

from psycopg import AsyncConnection, errors
from psycopg.rows import dict_row

from dusttwin.settings import Settings
from risk.errors import RiskError
from risk.queryfilters import scoped_where
from twins.errors import ThingNotFoundError
from twins.links import redact_camera_attributes
from twins.registry import thing_id
from twins.scope import Scope
from twins.store import reads_raw_links

__all__ = [
    "FILING_KINDS",
    "FILING_STATES",
    "NEVER_SUPPRESSED",
    "FilingFilter",
    "FilingNotFoundError",
    "FilingNotPermittedError",
    "FilingOverlapError",
    "FilingRules",
    "FilingStateError",
    "InvalidFilingError",
    "Window",
    "active_windows",
    "approve_filing",
    "audit_trail",
    "check_window",
    "file_filing",
    "get_filing",
    "list_filings",
    "reject_filing",
    "suppressed",
    "withdraw_filing",
]

FilingKind = Literal["maintenance", "shutdown"]
FILING_KINDS: Final = ("maintenance", "shutdown")
FILING_STATES: Final = ("FILED", "APPROVED", "REJECTED", "WITHDRAWN")
LIVE: Final = ("FILED", "APPROVED")
# An explosion device firing (泄爆/隔爆/抑爆) is never "expected maintenance noise": it is raised
# whatever filing is in force.
NEVER_SUPPRESSED: Final = frozenset({"EXPLOSION"})


class InvalidFilingError(RiskError):
    """A window or target that cannot be filed (past, reversed, too long, unknown system)."""


class FilingOverlapError(RiskError):
    """Another live filing of the same system (or the whole plant) overlaps the window."""


class FilingNotFoundError(RiskError):
    """No such filing, or the caller may not see it."""


class FilingStateError(RiskError):
    """An action the filing's present state does not allow (e.g. rejecting a withdrawn one)."""


class FilingNotPermittedError(RiskError):
    """The caller's role may not take this action on a filing."""


@dataclass(frozen=True)
class FilingRules:
    """Bounds on a filing [DEFAULT]; configuration, not law."""

    max_duration: timedelta = timedelta(days=30)
    # a window may start a little before the request arrives (clocks, a form filled slowly)
    start_grace: timedelta = timedelta(minutes=10)
    auto_approve: bool = True

    @classmethod
    def of(cls, settings: Settings) -> FilingRules:
        """The rules in force (DUSTTWIN_FILING_MAX_DAYS, _START_GRACE_MINUTES, _AUTO_APPROVE)."""
        return cls(
            max_duration=timedelta(days=settings.filing_max_days),
            start_grace=timedelta(minutes=settings.filing_start_grace_minutes),
            auto_approve=settings.filing_auto_approve,
        )


class Window(NamedTuple):
    """An approved window: the system it covers (None: the whole plant), its start and end."""

    system_code: str | None
    starts: datetime
    ends: datetime


@dataclass(frozen=True)
class FilingFilter:
    """What a list of filings is narrowed to."""

    credit_code: str | None = None
    system_code: str | None = None
    adcode: str | None = None
    states: tuple[str, ...] = ()
    kind: str | None = None
    active_at: datetime | None = None  # windows in force at this time
    since: datetime | None = None  # windows ending after
    until: datetime | None = None  # windows starting before


# ---------------------------------------------------------------- pure rules


def check_window(starts: datetime, ends: datetime, now: datetime, rules: FilingRules) -> None:
    """Raise InvalidFilingError when a window may not be filed at ``now``."""
    if starts.tzinfo is None or ends.tzinfo is None:
        raise InvalidFilingError("starts_at and ends_at need a time zone / 起止时间须带时区")
    if ends <= starts:
        raise InvalidFilingError("the window ends before it starts / 结束时间须晚于开始时间")
    if starts < now - rules.start_grace:
        raise InvalidFilingError(
            "a window cannot start in the past: filings are made before the work, not to excuse "
            "what already happened / 报备不能追溯，开始时间不能早于当前时间"
        )
    if ends - starts > rules.max_duration:
        days = rules.max_duration / timedelta(days=1)
        raise InvalidFilingError(
            f"a window lasts at most {days:g} days; file again for a longer stop / "
            f"单次报备不超过 {days:g} 天"
        )


def suppressed(
    system_code: str | None, at: datetime, windows: Sequence[Window], *, level: str | None = None
) -> bool:
    """Whether an alarm of ``system_code`` at ``at`` is in an approved window (stored, not raised).

    A plant-wide window covers every system; a system's window only that system. Alarms of
    ``NEVER_SUPPRESSED`` levels are always raised.
    """
    if level in NEVER_SUPPRESSED:
        return False
    return any(
        w.starts <= at < w.ends and (w.system_code is None or w.system_code == system_code)
        for w in windows
    )


# ---------------------------------------------------------------- storage

_COLUMNS: Final = (
    "id, credit_code, adcode, system_code, kind, starts_at, ends_at, reason, state, filed_by,"
    " filed_at, decided_by, decided_at, decision_remark"
)


async def _enterprise_adcode(conn: AsyncConnection[Any], scope: Scope, credit_code: str) -> str:
    """The adcode of an enterprise the caller sees (ThingNotFoundError for any other)."""
    cur = await conn.execute(
        "SELECT adcode FROM things WHERE thing_id = %s AND deleted_at IS NULL",
        (thing_id("enterprise", credit_code),),
    )
    row = await cur.fetchone()
    if row is None or not scope.sees("enterprise", row[0], credit_code):
        raise ThingNotFoundError(f"no enterprise {credit_code} / 企业不存在")
    return str(row[0])


async def _system_exists(conn: AsyncConnection[Any], credit_code: str, system_code: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM things WHERE thing_id = %s AND deleted_at IS NULL",
        (thing_id("system", credit_code, system_code),),
    )
    return await cur.fetchone() is not None


async def _history(
    conn: AsyncConnection[Any],
    filing_id: int,
    action: str,
    actor: str,
    from_state: str | None,
    to_state: str,
    detail: dict[str, Any],
    at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO filing_history (filing_id, at, actor, action, from_state, to_state, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (filing_id, at, actor, action, from_state, to_state, json.dumps(detail)),
    )


async def _overlapping(
    conn: AsyncConnection[Any],
    credit_code: str,
    system_code: str | None,
    starts: datetime,
    ends: datetime,
) -> int | None:
    cur = await conn.execute(
        "SELECT id FROM maintenance_filings WHERE credit_code = %s"
        " AND coalesce(system_code, '') = coalesce(%s, '') AND state IN ('FILED', 'APPROVED')"
        " AND tstzrange(starts_at, ends_at) && tstzrange(%s, %s) ORDER BY starts_at LIMIT 1",
        (credit_code, system_code, starts, ends),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else None


def _overlap_error(other: int | None) -> FilingOverlapError:
    which = f"filing {other}" if other is not None else "another filing"
    return FilingOverlapError(
        f"the window overlaps {which} of the same system or plant; withdraw or change it first "
        f"/ 与已有报备时间重叠"
    )


async def file_filing(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    *,
    system_code: str | None,
    kind: FilingKind,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    now: datetime,
    rules: FilingRules,
) -> dict[str, Any]:
    """File a window for the enterprise (its own user or an admin); returns the stored filing."""
    async with conn.transaction():
        adcode = await _enterprise_adcode(conn, scope, credit_code)
        if scope.role not in ("enterprise", "admin"):
            raise FilingNotPermittedError(
                "only the enterprise files maintenance windows / 检修报备由企业填报"
            )
        if kind not in FILING_KINDS:
            raise InvalidFilingError(f"kind must be one of {FILING_KINDS}")
        check_window(starts_at, ends_at, now, rules)
        if system_code is not None and not await _system_exists(conn, credit_code, system_code):
            raise InvalidFilingError(
                f"system {system_code} is not registered for {credit_code} / 除尘系统不存在"
            )
        other = await _overlapping(conn, credit_code, system_code, starts_at, ends_at)
        if other is not None:
            raise _overlap_error(other)
        state = "APPROVED" if rules.auto_approve else "FILED"
        try:
            # a savepoint: a racing filing that slipped past the check above trips the
            # exclusion constraint here, and the outer transaction stays usable
            async with conn.transaction():
                cur = await conn.execute(
                    "INSERT INTO maintenance_filings (credit_code, adcode, system_code, kind,"
                    " starts_at, ends_at, reason, state, filed_by, filed_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (
                        credit_code,
                        adcode,
                        system_code,
                        kind,
                        starts_at,
                        ends_at,
                        reason,
                        state,
                        scope.username,
                        now,
                    ),
                )
        except errors.ExclusionViolation as err:
            raise _overlap_error(None) from err
        row = await cur.fetchone()
        assert row is not None
        filing_id = int(row[0])
        detail = {"auto_approved": rules.auto_approve}
        await _history(conn, filing_id, "filed", scope.username, None, state, detail, now)
        if state == "APPROVED":
            await _cleaning_around(
                conn, filing_id, credit_code, system_code, kind, starts_at, ends_at
            )
    return await get_filing(conn, scope, filing_id)


async def _cleaning_around(
    conn: AsyncConnection[Any],
    filing_id: int,
    credit_code: str,
    system_code: str | None,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
) -> None:
    """An approved maintenance calls the enterprise's "around maintenance" cleaning plans: a
    task before its start and one after its end (检修前后清扫), once per filing."""
    # risk.cleaning raises its overdue alarms through risk.alarms, which asks this module for
    # the windows in force: imported here, the cycle closes only at run time
    from risk.cleaning import maintenance_tasks

    if kind == "maintenance":
        await maintenance_tasks(
            conn,
            credit_code,
            starts_at,
            ends_at,
            system_code=system_code,
            ref=f"filing-{filing_id}",
        )


async def _locked(conn: AsyncConnection[Any], scope: Scope, filing_id: int) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM maintenance_filings WHERE id = %s FOR UPDATE", (filing_id,)
        )
        row = await cur.fetchone()
    if row is None or not scope.sees("enterprise", row["adcode"], row["credit_code"]):
        raise FilingNotFoundError(f"no filing {filing_id} / 报备不存在")
    return row


async def _decide(
    conn: AsyncConnection[Any],
    scope: Scope,
    filing_id: int,
    now: datetime,
    remark: str | None,
    *,
    to_state: Literal["APPROVED", "REJECTED"],
    allowed_from: tuple[str, ...],
) -> dict[str, Any]:
    async with conn.transaction():
        filing = await _locked(conn, scope, filing_id)
        if scope.role not in ("regulator", "admin"):
            raise FilingNotPermittedError("only a regulator decides on filings / 由监管部门审核")
        if filing["state"] not in allowed_from:
            raise FilingStateError(
                f"filing {filing_id} is {filing['state']}, cannot become {to_state} / 状态不允许"
            )
        await conn.execute(
            "UPDATE maintenance_filings SET state = %s, decided_by = %s, decided_at = %s,"
            " decision_remark = %s WHERE id = %s",
            (to_state, scope.username, now, remark, filing_id),
        )
        action = "approved" if to_state == "APPROVED" else "rejected"
        detail = {"remark": remark} if remark else {}
        await _history(
            conn, filing_id, action, scope.username, filing["state"], to_state, detail, now
        )
        if to_state == "APPROVED":
            await _cleaning_around(
                conn,
                filing_id,
                filing["credit_code"],
                filing["system_code"],
                filing["kind"],
                filing["starts_at"],
                filing["ends_at"],
            )
    return await get_filing(conn, scope, filing_id)


async def reject_filing(
    conn: AsyncConnection[Any], scope: Scope, filing_id: int, now: datetime, reason: str
) -> dict[str, Any]:
    """A regulator rejects a filing (before, during or after its window): alarms are raised again
    from now on, and its offline time counts against the online rate."""
    return await _decide(
        conn,
        scope,
        filing_id,
        now,
        reason,
        to_state="REJECTED",
        allowed_from=("FILED", "APPROVED"),
    )


async def approve_filing(
    conn: AsyncConnection[Any], scope: Scope, filing_id: int, now: datetime, remark: str | None
) -> dict[str, Any]:
    """A regulator approves a filing waiting in FILED (only when auto-approval is off)."""
    return await _decide(
        conn, scope, filing_id, now, remark, to_state="APPROVED", allowed_from=("FILED",)
    )


async def withdraw_filing(
    conn: AsyncConnection[Any], scope: Scope, filing_id: int, now: datetime, remark: str | None
) -> dict[str, Any]:
    """The enterprise withdraws a filing: before its window it is WITHDRAWN; during it, the window
    ends now (the work finished early) and the time already covered stays excused."""
    async with conn.transaction():
        filing = await _locked(conn, scope, filing_id)
        if scope.role not in ("enterprise", "admin"):
            raise FilingNotPermittedError("only the enterprise withdraws its filing / 由企业撤回")
        if filing["state"] not in LIVE or filing["ends_at"] <= now:
            raise FilingStateError(
                f"filing {filing_id} is {filing['state']}"
                f"{' and over' if filing['ends_at'] <= now else ''}; nothing to withdraw / 无法撤回"
            )
        detail = {"remark": remark} if remark else {}
        if filing["starts_at"] >= now:
            await conn.execute(
                "UPDATE maintenance_filings SET state = 'WITHDRAWN' WHERE id = %s", (filing_id,)
            )
            await _history(
                conn,
                filing_id,
                "withdrawn",
                scope.username,
                filing["state"],
                "WITHDRAWN",
                detail,
                now,
            )
        else:
            await conn.execute(
                "UPDATE maintenance_filings SET ends_at = %s WHERE id = %s", (now, filing_id)
            )
            detail["planned_end"] = filing["ends_at"].isoformat()
            await _history(
                conn,
                filing_id,
                "ended_early",
                scope.username,
                filing["state"],
                filing["state"],
                detail,
                now,
            )
    return await get_filing(conn, scope, filing_id)


async def get_filing(conn: AsyncConnection[Any], scope: Scope, filing_id: int) -> dict[str, Any]:
    """One filing the caller sees, with its history."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM maintenance_filings WHERE id = %s", (filing_id,))
        row = await cur.fetchone()
        if row is None or not scope.sees("enterprise", row["adcode"], row["credit_code"]):
            raise FilingNotFoundError(f"no filing {filing_id} / 报备不存在")
        await cur.execute(
            "SELECT at, actor, action, from_state, to_state, detail FROM filing_history"
            " WHERE filing_id = %s ORDER BY at, id",
            (filing_id,),
        )
        history = await cur.fetchall()
    return {**row, "history": history}


def _where(scope: Scope, f: FilingFilter) -> tuple[str, list[Any]]:
    clauses, params = scoped_where(
        scope,
        equals=(("credit_code", f.credit_code), ("system_code", f.system_code), ("kind", f.kind)),
        adcode=f.adcode,
        any_of=(("state", f.states),),
    )
    if f.active_at:
        clauses.append("state = 'APPROVED' AND starts_at <= %s AND ends_at > %s")
        params += [f.active_at, f.active_at]
    if f.since:
        clauses.append("ends_at > %s")
        params.append(f.since)
    if f.until:
        clauses.append("starts_at < %s")
        params.append(f.until)
    return " AND ".join(clauses) or "true", params


async def list_filings(
    conn: AsyncConnection[Any],
    scope: Scope,
    f: FilingFilter,
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """The filings the caller sees that match, latest window first, and how many there are."""
    where, params = _where(scope, f)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM maintenance_filings WHERE {where}", params)
        total = await cur.fetchone()
        await cur.execute(
            f"SELECT {_COLUMNS} FROM maintenance_filings WHERE {where}"
            " ORDER BY starts_at DESC, id DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        rows = await cur.fetchall()
    return (int(total["n"]) if total else 0), rows


async def active_windows(
    conn: AsyncConnection[Any],
    credit_codes: Iterable[str],
    at: datetime,
    until: datetime | None = None,
) -> dict[str, list[Window]]:
    """Approved windows of these enterprises in force at ``at`` (or at any time up to ``until``).

    One query for a whole batch: pass the batch's earliest reading time as ``at`` and its latest
    as ``until``, then ask ``suppressed`` per reading.
    """
    codes = sorted(set(credit_codes))
    if not codes:
        return {}
    cur = await conn.execute(
        "SELECT credit_code, system_code, starts_at, ends_at FROM maintenance_filings"
        " WHERE credit_code = ANY(%s) AND state = 'APPROVED'"
        " AND tstzrange(starts_at, ends_at) && tstzrange(%s, %s, '[]')"
        " ORDER BY credit_code, starts_at",
        (codes, at, until or at),
    )
    out: dict[str, list[Window]] = {}
    for credit_code, system_code, starts, ends in await cur.fetchall():
        out.setdefault(credit_code, []).append(Window(system_code, starts, ends))
    return out


# ---------------------------------------------------------------- the audit trail


async def audit_trail(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    thing: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """An enterprise's audit trail, newest first: changes of its twins' registered data
    (``source`` "config"), and every step of its maintenance filings and major hidden dangers.

    ThingNotFoundError when the caller does not see the enterprise.
    """
    await _enterprise_adcode(conn, scope, credit_code)
    params: dict[str, Any] = {
        "cc": credit_code,
        "since": since,
        "until": until,
        "thing": thing,
        "limit": limit,
        "offset": offset,
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """
            SELECT * FROM (
                SELECT 'config' AS source, c.id, c.at, c.actor, c.op AS action, c.thing_id,
                       c.kind, NULL::bigint AS record_id, c.changes AS detail
                FROM thing_changes c
                WHERE c.credit_code = %(cc)s
                  AND (%(thing)s::text IS NULL OR c.thing_id = %(thing)s)
                UNION ALL
                SELECT 'filing', h.id, h.at, h.actor, h.action, NULL, 'filing', f.id,
                       h.detail || jsonb_build_object('from_state', h.from_state,
                                                      'to_state', h.to_state,
                                                      'system_code', f.system_code,
                                                      'starts_at', f.starts_at,
                                                      'ends_at', f.ends_at)
                FROM filing_history h JOIN maintenance_filings f ON f.id = h.filing_id
                WHERE f.credit_code = %(cc)s AND %(thing)s::text IS NULL
                UNION ALL
                SELECT 'hazard', h.id, h.at, h.actor, h.action, NULL, 'major_hazard', z.id,
                       h.detail || jsonb_build_object('from_status', h.from_status,
                                                      'to_status', h.to_status,
                                                      'item', z.item,
                                                      'system_code', z.system_code)
                FROM hazard_history h JOIN major_hazards z ON z.id = h.hazard_id
                WHERE z.credit_code = %(cc)s AND %(thing)s::text IS NULL
            ) trail
            WHERE (%(since)s::timestamptz IS NULL OR at >= %(since)s)
              AND (%(until)s::timestamptz IS NULL OR at < %(until)s)
            ORDER BY at DESC, source, id DESC
            LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        )
        rows = await cur.fetchall()
    if reads_raw_links(scope, credit_code):
        return rows
    # camera links may carry the video service's credentials: shown as the registry shows them
    return [_redacted(r) if r["kind"] == "camera" and r["source"] == "config" else r for r in rows]


def _redacted(row: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = row["detail"] or {}
    sides = {
        side: redact_camera_attributes(
            {k: v.get(side) for k, v in changes.items() if isinstance(v, dict)}
        )
        for side in ("old", "new")
    }
    detail = {
        k: {**v, "old": sides["old"].get(k), "new": sides["new"].get(k)}
        if isinstance(v, dict)
        else v
        for k, v in changes.items()
    }
    return {**row, "detail": detail}
