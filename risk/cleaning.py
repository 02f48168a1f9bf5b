"""Dust cleaning (粉尘清扫打卡, domain.md §5): plans, tasks, check-ins, overdue tasks and KPIs.

Pure parts (plan checks, the windows a plan's frequency makes, overdue alarms, KPI roll-ups)
sit at the top and are tested without services; SQL follows, each function in the caller's
transaction unless it says otherwise. Rules [DEFAULT where marked, docs/workflows.md]:

- Shifts are 00–08, 08–16, 16–24 China time [DEFAULT]; a per-shift plan's window is the shift.
  Daily, weekly and monthly plans have a window start (China time) and a length [DEFAULT 08:00,
  8 h; weekly on Monday, monthly on the 1st]. Maintenance plans (检修前后) make tasks only when
  a maintenance is filed: ``maintenance_tasks`` (a window before its start, one after its end
  [DEFAULT 4 h each]).
- A check-in takes the server's time. Before the window opens it is refused; after the window
  ends it is accepted and marked late (``LATE``).
- A task whose window ended unchecked is overdue: ``overdue_tasks`` marks it once and returns
  it; ``overdue_alarm_changes`` turns those into a management alarm ``CLEANING_OVERDUE`` per plan
  [DEFAULT level HA in zone 20/21, LA in zone 22], cleared by the plan's next check-in.
- ``management_facts`` feeds R_management (today's completion, overdue tasks of 24 h).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, Literal

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from risk.alarms import Change, Deadlines, Subject, apply_changes
from risk.errors import ActionNotPermittedError, RiskError
from risk.model import CleaningFact
from risk.statistics import CHINA
from twins.photos import (
    DEFAULT_MAX_BYTES,
    CheckedPhoto,
    PhotoStore,
    StoredPhoto,
    check_photo,
    photo_key,
    photos_of,
    record_photo,
)
from twins.scope import Scope

Frequency = Literal["per_shift", "daily", "weekly", "monthly", "maintenance"]
Side = Literal["before", "after"]

FREQUENCIES: Final[tuple[str, ...]] = ("per_shift", "daily", "weekly", "monthly", "maintenance")
ZONES: Final = (20, 21, 22)
METHODS: Final[dict[str, str]] = {
    "explosion_proof_vacuum": "防爆吸尘器吸尘 / explosion-proof vacuum",
    "wet": "湿式清扫 / wet cleaning",
}
AREA_KINDS: Final = ("workshop", "station", "equipment", "collector", "duct", "beams", "other")
# [DEFAULT] three 8-hour shifts a day, China time (hour the shift starts)
SHIFT_START_HOURS: Final = (0, 8, 16)
SHIFT_LENGTH: Final = timedelta(hours=8)
DEFAULT_WINDOW_START: Final = time(8)
DEFAULT_WINDOW_MINUTES: Final[dict[str, int]] = {
    "daily": 480,
    "weekly": 480,
    "monthly": 480,
    "maintenance": 240,
}
MAX_WINDOW_MINUTES: Final[dict[str, int]] = {
    "daily": 24 * 60,
    "weekly": 7 * 24 * 60,
    "monthly": 28 * 24 * 60,
    "maintenance": 24 * 60,
}
GENERATE_HORIZON: Final = timedelta(days=2)  # [DEFAULT] tasks exist two days ahead
MAX_PHOTOS_PER_SIDE: Final = 9  # [DEFAULT] as many as an alarm's feedback takes
OVERDUE_ALARM: Final = "CLEANING_OVERDUE"
OVERDUE_WINDOW: Final = timedelta(hours=24)  # R_management counts overdue tasks of a day
# Compressed-air blowing raises dust clouds: never a cleaning method (domain.md §5, GB 15577).
_COMPRESSED_AIR = re.compile(r"compress|air[\s_-]*blow|blow|压缩空气|吹扫|吹灰", re.IGNORECASE)


class CleaningError(RiskError):
    """Base of the cleaning errors."""


class CleaningPlanInvalidError(CleaningError):
    """A cleaning plan that breaks the rules (zone, frequency, window, method)."""


class CleaningNotFoundError(CleaningError):
    """No such enterprise, plan or task, or not within the caller's jurisdiction."""


class CheckInRefusedError(CleaningError):
    """A check-in the task's state does not allow (window not open, checked in already)."""


class CheckInInvalidError(CleaningError):
    """A check-in missing what its plan requires (before/after photos) or with too many."""


# ---------------------------------------------------------------- pure: plans and windows


@dataclass(frozen=True)
class PlanSpec:
    """A cleaning plan (清扫计划) as written: area, zone, frequency, window, method, person."""

    area: str
    zone: int
    frequency: str
    method: str
    responsible: str
    area_kind: str = "other"
    system_code: str | None = None
    window_start: time | None = None  # China time
    window_minutes: int | None = None
    weekday: int | None = None  # weekly: ISO weekday, 1 = Monday
    month_day: int | None = None  # monthly: 1–28, so every month has it
    photos_required: bool = True
    responsible_phone: str | None = None


@dataclass(frozen=True)
class Window:
    """One cleaning window, in aware datetimes."""

    start: datetime
    end: datetime


def validate_plan(spec: PlanSpec) -> PlanSpec:
    """The plan with its defaults filled in, or ``CleaningPlanInvalidError`` naming all problems."""
    problems: list[str] = []
    area = spec.area.strip()
    if not area:
        problems.append("area: name the area to clean / 清扫部位不能为空")
    if spec.zone not in ZONES:
        problems.append(f"zone: {spec.zone!r} is not a dust zone 20, 21 or 22 / 粉尘爆炸危险区域")
    if spec.frequency not in FREQUENCIES:
        problems.append(f"frequency: {spec.frequency!r} is not one of {', '.join(FREQUENCIES)}")
    if _COMPRESSED_AIR.search(spec.method):
        problems.append(
            "method: compressed-air blowing is forbidden, it raises a dust cloud; clean with an"
            " explosion-proof vacuum or wet / 严禁使用压缩空气吹扫"
        )
    elif spec.method not in METHODS:
        problems.append(f"method: {spec.method!r} is not one of {', '.join(METHODS)}")
    if spec.area_kind not in AREA_KINDS:
        problems.append(f"area_kind: {spec.area_kind!r} is not one of {', '.join(AREA_KINDS)}")
    if not spec.responsible.strip():
        problems.append("responsible: name the responsible person / 责任人不能为空")
    filled = _with_schedule(
        replace(spec, area=area, responsible=spec.responsible.strip()), problems
    )
    if problems:
        raise CleaningPlanInvalidError("; ".join(problems))
    return filled


def _with_schedule(spec: PlanSpec, problems: list[str]) -> PlanSpec:
    """The window, weekday and day of month checked against the frequency, defaults filled."""
    filled = spec
    if spec.frequency == "per_shift":
        # the shift is the window; a window of its own would contradict it
        if spec.window_start is not None or spec.window_minutes is not None:
            problems.append("window: a per-shift plan's window is its shift; give none")
    elif spec.frequency in MAX_WINDOW_MINUTES:
        minutes = spec.window_minutes or DEFAULT_WINDOW_MINUTES[spec.frequency]
        if not 0 < minutes <= MAX_WINDOW_MINUTES[spec.frequency]:
            problems.append(
                f"window_minutes: {minutes} is not between 1 and "
                f"{MAX_WINDOW_MINUTES[spec.frequency]} for a {spec.frequency} plan"
            )
        start = None if spec.frequency == "maintenance" else spec.window_start
        filled = replace(
            filled,
            window_start=start
            or (None if spec.frequency == "maintenance" else DEFAULT_WINDOW_START),
            window_minutes=minutes,
        )
    weekly, monthly = spec.frequency == "weekly", spec.frequency == "monthly"
    weekday = spec.weekday if spec.weekday is not None else (1 if weekly else None)
    month_day = spec.month_day if spec.month_day is not None else (1 if monthly else None)
    if weekday is not None and (not weekly or not 1 <= weekday <= 7):
        problems.append(f"weekday: {weekday} is not a weekly plan's day 1 (Monday) to 7 (Sunday)")
    if month_day is not None and (not monthly or not 1 <= month_day <= 28):
        problems.append(
            f"month_day: {month_day} is not a monthly plan's day 1 to 28 (every month has those)"
        )
    return replace(filled, weekday=weekday, month_day=month_day)


def _at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, CHINA).astimezone(UTC)


def _windows_on(plan: PlanSpec, day: date) -> list[Window]:
    """The windows of a plan that start on this China day."""
    if plan.frequency == "per_shift":
        return [Window(s, s + SHIFT_LENGTH) for s in (_at(day, time(h)) for h in SHIFT_START_HOURS)]
    if plan.frequency == "weekly" and day.isoweekday() != plan.weekday:
        return []
    if plan.frequency == "monthly" and day.day != plan.month_day:
        return []
    if plan.frequency not in ("daily", "weekly", "monthly"):
        return []
    start = _at(day, plan.window_start or DEFAULT_WINDOW_START)
    return [Window(start, start + timedelta(minutes=plan.window_minutes or 0))]


def windows(plan: PlanSpec, since: datetime, until: datetime) -> list[Window]:
    """The windows of a (validated) plan that overlap ``[since, until)``, in order.

    Maintenance plans have none: their tasks come from ``maintenance_windows``.
    """
    # a window that began before ``since`` may still be running: look back by its length only
    length = (
        SHIFT_LENGTH
        if plan.frequency == "per_shift"
        else timedelta(minutes=plan.window_minutes or 0)
    )
    day = (since - length).astimezone(CHINA).date()
    last = until.astimezone(CHINA).date()
    found: list[Window] = []
    while day <= last:
        found += [w for w in _windows_on(plan, day) if w.end > since and w.start < until]
        day += timedelta(days=1)
    return found


def maintenance_windows(plan: PlanSpec, start: datetime, end: datetime) -> tuple[Window, Window]:
    """The windows before a maintenance starts and after it ends (检修前后清扫)."""
    length = timedelta(minutes=plan.window_minutes or DEFAULT_WINDOW_MINUTES["maintenance"])
    return Window(start - length, start), Window(end, end + length)


# ---------------------------------------------------------------- pure: overdue and KPIs


@dataclass(frozen=True)
class OverdueTask:
    """A task found overdue: its window ended and nobody checked in (清扫逾期)."""

    task_id: int
    plan_id: int
    credit_code: str
    adcode: str
    area: str
    zone: int
    system_code: str | None
    window_start: datetime
    window_end: datetime


def alarm_level(zone: int) -> str:
    """[DEFAULT] HA for an overdue cleaning in zone 20/21 (dust present often), LA in zone 22."""
    return "HA" if zone in (20, 21) else "LA"


def plan_subject(credit_code: str, adcode: str, plan_id: int, system_code: str | None) -> Subject:
    """The alarm subject of a plan: one open overdue alarm per cleaning plan (area)."""
    return Subject(
        f"dusttwin:cleaning-{credit_code}-{plan_id}", credit_code, adcode, system_code=system_code
    )


def overdue_alarm_changes(tasks: Iterable[OverdueTask]) -> list[tuple[Subject, Change]]:
    """One ``CLEANING_OVERDUE`` raise per plan with overdue tasks (newest window, all task ids)."""
    by_plan: dict[int, list[OverdueTask]] = defaultdict(list)
    for t in tasks:
        by_plan[t.plan_id].append(t)
    changes: list[tuple[Subject, Change]] = []
    for plan_id, group in sorted(by_plan.items()):
        last = max(group, key=lambda t: t.window_end)
        subject = plan_subject(last.credit_code, last.adcode, plan_id, last.system_code)
        detail = {
            "plan_id": plan_id,
            "task_ids": sorted(t.task_id for t in group),
            "area": last.area,
            "zone": last.zone,
            "window_start": last.window_start.isoformat(),
            "window_end": last.window_end.isoformat(),
        }
        change = Change(
            "raise", OVERDUE_ALARM, alarm_level(last.zone), last.window_end, detail=detail
        )
        changes.append((subject, change))
    return changes


@dataclass(frozen=True)
class CleaningFacts:
    """What R_management reads of one enterprise's cleaning (EnterpriseInputs' two fields)."""

    completion: float | None  # today's completion rate; None: nothing was due yet
    overdue: tuple[CleaningFact, ...]  # tasks whose window ended in the last 24 h unchecked


@dataclass(frozen=True)
class CleaningKpi:
    """A day's cleaning KPIs (清扫考核) of one enterprise or one region."""

    scope_kind: Literal["enterprise", "region"]
    key: str  # credit code or region adcode
    adcode: str
    enterprises: int
    due: int  # tasks whose window ended that day (or checked in already)
    done: int  # checked in, on time or late
    on_time: int  # checked in within the window
    late: int  # checked in after the window ended
    overdue: int  # not checked in by the end of the window (late ones included)
    missed: int  # still not checked in
    completion_rate: float | None
    on_time_rate: float | None


def _kpi(
    kind: Literal["enterprise", "region"], key: str, adcode: str, rows: list[Any]
) -> CleaningKpi:
    due = sum(r["due"] for r in rows)
    done = sum(r["done"] for r in rows)
    on_time = sum(r["on_time"] for r in rows)
    return CleaningKpi(
        scope_kind=kind,
        key=key,
        adcode=adcode,
        enterprises=len(rows),
        due=due,
        done=done,
        on_time=on_time,
        late=done - on_time,
        overdue=due - on_time,
        missed=due - done,
        completion_rate=done / due if due else None,
        on_time_rate=on_time / due if due else None,
    )


def region_keys(adcode: str) -> tuple[str, ...]:
    """The county, city, province and country an enterprise's adcode rolls up into."""
    return (adcode, adcode[:4] + "00", adcode[:2] + "0000", "000000")


def kpi_rollup(rows: Sequence[dict[str, Any]]) -> list[CleaningKpi]:
    """Per-enterprise counts (credit_code, adcode, due, done, on_time) → enterprise and region KPIs.

    Region rates come from the summed counts, not from averaging enterprises' rates.
    """
    out = [_kpi("enterprise", r["credit_code"], r["adcode"], [r]) for r in rows]
    regions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        for key in dict.fromkeys(region_keys(r["adcode"])):
            regions[key].append(r)
    out += [_kpi("region", key, key, group) for key, group in sorted(regions.items())]
    return out


# ---------------------------------------------------------------- SQL: plans


_PLAN_COLUMNS: Final = (
    "id, credit_code, adcode, area, area_kind, system_code, zone, frequency, window_start,"
    " window_minutes, weekday, month_day, method, responsible, responsible_phone,"
    " photos_required, active, created_at, created_by, updated_at, updated_by"
)


def _spec_of(row: dict[str, Any]) -> PlanSpec:
    return PlanSpec(
        area=row["area"],
        zone=row["zone"],
        frequency=row["frequency"],
        method=row["method"],
        responsible=row["responsible"],
        area_kind=row["area_kind"],
        system_code=row["system_code"],
        window_start=row["window_start"],
        window_minutes=row["window_minutes"],
        weekday=row["weekday"],
        month_day=row["month_day"],
        photos_required=row["photos_required"],
        responsible_phone=row["responsible_phone"],
    )


async def _enterprise_adcode(conn: AsyncConnection[Any], scope: Scope, credit_code: str) -> str:
    cur = await conn.execute(
        "SELECT adcode FROM things WHERE kind = 'enterprise' AND credit_code = %s"
        " AND deleted_at IS NULL",
        (credit_code,),
    )
    row = await cur.fetchone()
    if row is None or not scope.sees("enterprise", row[0], credit_code):
        raise CleaningNotFoundError(f"no enterprise {credit_code} / 企业不存在")
    return str(row[0])


def _require_own(scope: Scope, credit_code: str, what: str) -> None:
    """Only the enterprise itself (and an administrator) acts on its cleaning."""
    if scope.role == "admin" or (scope.role == "enterprise" and credit_code in scope.credit_codes):
        return
    raise ActionNotPermittedError(
        f"only enterprise {credit_code} itself {what}; regulators see them"
        " / 仅企业本身可操作，监管部门可查看"
    )


async def create_plan(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, spec: PlanSpec, now: datetime
) -> dict[str, Any]:
    """Create a plan (enterprise or admin) and its tasks of the next two days at once."""
    adcode = await _enterprise_adcode(conn, scope, credit_code)
    _require_own(scope, credit_code, "writes its cleaning plans")
    plan = validate_plan(spec)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO cleaning_plans (credit_code, adcode, area, area_kind, system_code, zone,"
            " frequency, window_start, window_minutes, weekday, month_day, method, responsible,"
            " responsible_phone, photos_required, created_at, created_by, updated_at, updated_by)"
            " VALUES (%(cc)s, %(adcode)s, %(area)s, %(area_kind)s, %(system_code)s, %(zone)s,"
            " %(frequency)s, %(window_start)s, %(window_minutes)s, %(weekday)s, %(month_day)s,"
            " %(method)s, %(responsible)s, %(responsible_phone)s, %(photos_required)s, %(now)s,"
            f" %(user)s, %(now)s, %(user)s) RETURNING {_PLAN_COLUMNS}",
            {
                **asdict(plan),
                "cc": credit_code,
                "adcode": adcode,
                "now": now,
                "user": scope.username,
            },
        )
        row = await cur.fetchone()
        assert row is not None
        await generate_tasks(conn, now, plan_ids=[row["id"]])
    return row


async def update_plan(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    plan_id: int,
    spec: PlanSpec,
    now: datetime,
) -> dict[str, Any]:
    """Replace a plan; its tasks not yet begun are made again from the new schedule."""
    await get_plan(conn, scope, credit_code, plan_id)
    _require_own(scope, credit_code, "writes its cleaning plans")
    plan = validate_plan(spec)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE cleaning_plans SET area = %(area)s, area_kind = %(area_kind)s,"
            " system_code = %(system_code)s, zone = %(zone)s, frequency = %(frequency)s,"
            " window_start = %(window_start)s, window_minutes = %(window_minutes)s,"
            " weekday = %(weekday)s, month_day = %(month_day)s, method = %(method)s,"
            " responsible = %(responsible)s, responsible_phone = %(responsible_phone)s,"
            " photos_required = %(photos_required)s, active = true, updated_at = %(now)s,"
            f" updated_by = %(user)s WHERE id = %(id)s RETURNING {_PLAN_COLUMNS}",
            {**asdict(plan), "id": plan_id, "now": now, "user": scope.username},
        )
        row = await cur.fetchone()
        assert row is not None
        # tasks already begun keep the schedule they were made with (history stays true)
        await cur.execute(
            "DELETE FROM cleaning_tasks WHERE plan_id = %s AND state = 'PENDING'"
            " AND window_start > %s",
            (plan_id, now),
        )
        await generate_tasks(conn, now, plan_ids=[plan_id])
    return row


async def deactivate_plan(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, plan_id: int, now: datetime
) -> None:
    """Withdraw a plan: no new tasks; its unfinished open and future tasks go; history stays."""
    await get_plan(conn, scope, credit_code, plan_id)
    _require_own(scope, credit_code, "writes its cleaning plans")
    async with conn.transaction():
        await conn.execute(
            "UPDATE cleaning_plans SET active = false, updated_at = %s, updated_by = %s"
            " WHERE id = %s",
            (now, scope.username, plan_id),
        )
        await conn.execute(
            "DELETE FROM cleaning_tasks WHERE plan_id = %s AND state = 'PENDING'"
            " AND window_end > %s",
            (plan_id, now),
        )


async def get_plan(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, plan_id: int
) -> dict[str, Any]:
    """One plan of an enterprise within the caller's jurisdiction."""
    await _enterprise_adcode(conn, scope, credit_code)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_PLAN_COLUMNS} FROM cleaning_plans WHERE id = %s AND credit_code = %s",
            (plan_id, credit_code),
        )
        row = await cur.fetchone()
    if row is None:
        raise CleaningNotFoundError(f"no cleaning plan {plan_id} of {credit_code} / 清扫计划不存在")
    return row


async def list_plans(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, *, include_inactive: bool = False
) -> list[dict[str, Any]]:
    """An enterprise's plans (active ones unless asked), in the order they were made."""
    await _enterprise_adcode(conn, scope, credit_code)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_PLAN_COLUMNS} FROM cleaning_plans WHERE credit_code = %s"
            " AND (active OR %s) ORDER BY id",
            (credit_code, include_inactive),
        )
        return await cur.fetchall()


# ---------------------------------------------------------------- SQL: tasks


_INSERT_TASKS: Final = """
INSERT INTO cleaning_tasks (plan_id, credit_code, adcode, area, zone, system_code, kind, ref,
                            window_start, window_end)
SELECT p.id, p.credit_code, p.adcode, p.area, p.zone, p.system_code, w.kind, w.ref, w.s, w.e
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])
     AS w(plan_id, kind, ref, s, e)
JOIN cleaning_plans p ON p.id = w.plan_id
ON CONFLICT (plan_id, window_start) DO NOTHING
"""


async def _insert_tasks(
    conn: AsyncConnection[Any], rows: Sequence[tuple[int, str, str | None, Window]]
) -> int:
    if not rows:
        return 0
    cur = await conn.execute(
        _INSERT_TASKS,
        (
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3].start for r in rows],
            [r[3].end for r in rows],
        ),
    )
    return cur.rowcount


async def generate_tasks(
    conn: AsyncConnection[Any],
    now: datetime,
    horizon: timedelta = GENERATE_HORIZON,
    *,
    plan_ids: Sequence[int] | None = None,
) -> int:
    """Make the tasks of active plans whose windows end after ``now`` and begin within the horizon.

    Idempotent (unique per plan and window start): run it as often as you like; returns how
    many tasks were new. Windows that ended before ``now`` are not made afterwards.
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        # only windows after the plan's last task are offered again: a pass inserts what is new
        await cur.execute(
            f"SELECT {_PLAN_COLUMNS}, (SELECT max(t.window_start) FROM cleaning_tasks t"
            "  WHERE t.plan_id = p.id AND t.kind = 'scheduled') AS last_start"
            " FROM cleaning_plans p WHERE active AND frequency <> 'maintenance'"
            " AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))",
            {"ids": list(plan_ids) if plan_ids is not None else None},
        )
        plans = await cur.fetchall()
    rows = [
        (p["id"], "scheduled", None, w)
        for p in plans
        for w in windows(_spec_of(p), now, now + horizon)
        if p["last_start"] is None or w.start > p["last_start"]
    ]
    return await _insert_tasks(conn, rows)


async def maintenance_tasks(
    conn: AsyncConnection[Any],
    credit_code: str,
    start: datetime,
    end: datetime,
    *,
    system_code: str | None = None,
    ref: str | None = None,
) -> int:
    """Tasks of the enterprise's maintenance plans around a filed maintenance (检修前后清扫).

    A plant-wide maintenance (``system_code`` None) calls every maintenance plan; one of a
    system calls its plans and the plans tied to no system. For the maintenance filing to call;
    idempotent; returns how many tasks were new.
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_PLAN_COLUMNS} FROM cleaning_plans WHERE active AND credit_code = %s"
            " AND frequency = 'maintenance'"
            " AND (%s::text IS NULL OR system_code IS NULL OR system_code = %s)",
            (credit_code, system_code, system_code),
        )
        plans = await cur.fetchall()
    rows: list[tuple[int, str, str | None, Window]] = []
    for p in plans:
        before, after = maintenance_windows(_spec_of(p), start, end)
        rows += [(p["id"], "before_maintenance", ref, before)]
        rows += [(p["id"], "after_maintenance", ref, after)]
    return await _insert_tasks(conn, rows)


_TASK_COLUMNS: Final = (
    "t.id, t.plan_id, t.credit_code, t.adcode, t.area, t.zone, t.system_code, t.kind, t.ref,"
    " t.window_start, t.window_end, t.state, t.checked_in_at, t.overdue_at,"
    " p.method, p.responsible, p.photos_required, p.frequency,"
    " c.operator, c.checked_in_by, c.remarks, c.late"
)
_TASK_FROM: Final = (
    " FROM cleaning_tasks t JOIN cleaning_plans p ON p.id = t.plan_id"
    " LEFT JOIN cleaning_checkins c ON c.task_id = t.id"
)


def _shown(row: dict[str, Any], photos: list[StoredPhoto], now: datetime) -> dict[str, Any]:
    """A task as people see it: a pending task past its window is overdue already."""
    state = row["state"]
    if state == "PENDING" and row["window_end"] <= now:
        state = "OVERDUE"
    checkin = (
        {
            "operator": row["operator"],
            "checked_in_by": row["checked_in_by"],
            "checked_in_at": row["checked_in_at"],
            "late": row["late"],
            "remarks": row["remarks"],
        }
        if row["operator"] is not None
        else None
    )
    task = {
        k: row[k]
        for k in (
            "id",
            "plan_id",
            "credit_code",
            "area",
            "zone",
            "system_code",
            "kind",
            "ref",
            "window_start",
            "window_end",
            "method",
            "responsible",
            "photos_required",
            "frequency",
        )
    }
    return {
        **task,
        "state": state,
        "overdue_at": row["overdue_at"],
        "checkin": checkin,
        "photos": [
            {
                "id": p.id,
                "side": p.kind.removeprefix("cleaning_"),
                "content_type": p.content_type,
                "size": p.size,
                "exif_time": p.exif_time,
                "url": f"/api/v1/photos/{p.id}",
            }
            for p in photos
        ],
    }


async def _with_photos(
    conn: AsyncConnection[Any], rows: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    refs = [str(r["id"]) for r in rows]
    found = await photos_of(conn, ["cleaning_before", "cleaning_after"], refs) if refs else []
    by_task: dict[str, list[StoredPhoto]] = defaultdict(list)
    for p in found:
        by_task[p.ref or ""].append(p)
    return [_shown(r, by_task[str(r["id"])], now) for r in rows]


async def get_task(
    conn: AsyncConnection[Any], scope: Scope, task_id: int, now: datetime
) -> dict[str, Any]:
    """One task with its check-in and photos, within the caller's jurisdiction."""
    row = await _task_row(conn, scope, task_id)
    return (await _with_photos(conn, [row], now))[0]


async def _task_row(
    conn: AsyncConnection[Any], scope: Scope, task_id: int, *, lock: bool = False
) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_TASK_COLUMNS}{_TASK_FROM} WHERE t.id = %s"
            f"{' FOR UPDATE OF t' if lock else ''}",
            (task_id,),
        )
        row = await cur.fetchone()
    if row is None or not scope.sees("enterprise", row["adcode"], row["credit_code"]):
        raise CleaningNotFoundError(
            f"no cleaning task {task_id} in your jurisdiction (a task of another enterprise is"
            " not yours to check in) / 清扫任务不存在或不属于本企业"
        )
    return row


_STATE_SQL: Final[dict[str, str]] = {
    "PENDING": "(t.state = 'PENDING' AND t.window_end > %(now)s)",
    "OVERDUE": "(t.state = 'OVERDUE' OR (t.state = 'PENDING' AND t.window_end <= %(now)s))",
    "DONE": "t.state = 'DONE'",
    "LATE": "t.state = 'LATE'",
}


async def list_tasks(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    states: Sequence[str] = (),
    newest_first: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """An enterprise's tasks whose window overlaps ``[since, until)``; (total, page)."""
    await _enterprise_adcode(conn, scope, credit_code)
    unknown = set(states) - set(_STATE_SQL)
    if unknown:
        raise CleaningPlanInvalidError(f"state: {sorted(unknown)} not in {sorted(_STATE_SQL)}")
    where = (
        " WHERE t.credit_code = %(cc)s AND t.window_end > %(since)s AND t.window_start < %(until)s"
    )
    if states:
        where += " AND (" + " OR ".join(_STATE_SQL[s] for s in states) + ")"
    params = {"cc": credit_code, "since": since, "until": until, "now": now}
    order = "DESC" if newest_first else "ASC"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n{_TASK_FROM}{where}", params)
        total = await cur.fetchone()
        await cur.execute(
            f"SELECT {_TASK_COLUMNS}{_TASK_FROM}{where}"
            f" ORDER BY t.window_start {order}, t.id {order} LIMIT %(limit)s OFFSET %(offset)s",
            {**params, "limit": limit, "offset": offset},
        )
        rows = await cur.fetchall()
    assert total is not None
    return int(total["n"]), await _with_photos(conn, rows, now)


def day_range(day: date) -> tuple[datetime, datetime]:
    """A China day as [start, end) in UTC."""
    start = datetime.combine(day, time(0), CHINA).astimezone(UTC)
    return start, start + timedelta(days=1)


# ---------------------------------------------------------------- SQL: check-ins


@dataclass(frozen=True)
class PhotoUpload:
    """One uploaded photo of a check-in, as received (checked by ``check_in``)."""

    side: Side
    data: bytes
    declared_type: str | None


async def check_in(
    conn: AsyncConnection[Any],
    scope: Scope,
    task_id: int,
    *,
    photos: Sequence[PhotoUpload],
    store: PhotoStore,
    now: datetime,
    operator: str | None = None,
    remarks: str | None = None,
    max_photo_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, Any]:
    """Check a task in (打卡) at server time ``now``, with before/after photos and remarks.

    Refused before the window opens and when checked in already; after the window it is
    accepted and marked late. The photos are checked (type by content, size, EXIF time) before
    anything is stored; the plan's overdue alarm, if any, clears (the area has been cleaned).
    """
    task = await _task_row(conn, scope, task_id)
    _require_own(scope, task["credit_code"], "checks in its cleaning tasks")
    _refuse_unless_open(task, now)
    checked = _check_photos(task, photos, max_photo_bytes)
    stored: list[tuple[str, CheckedPhoto, Side]] = []
    try:
        for upload, photo in checked:
            key = photo_key(task["credit_code"], photo.content_type, now)
            await asyncio.to_thread(store.put, key, upload.data, photo.content_type)
            stored.append((key, photo, upload.side))
        async with conn.transaction():
            await _record_check_in(conn, scope, task_id, stored, now, operator, remarks)
    except BaseException:
        # nothing recorded: take the stored bytes back so no orphan photo stays behind
        for key, _, _ in stored:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.delete, key)
        raise
    return await get_task(conn, scope, task_id, now)


def _refuse_unless_open(task: dict[str, Any], now: datetime) -> None:
    if task["checked_in_at"] is not None:
        raise CheckInRefusedError(
            f"task {task['id']} was checked in already at {task['checked_in_at'].isoformat()}"
            " / 该任务已打卡"
        )
    if now < task["window_start"]:
        opens = task["window_start"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        raise CheckInRefusedError(
            f"the cleaning window of task {task['id']} opens at {opens} (China time); check in"
            " after cleaning in the window / 清扫时段未开始，不能提前打卡"
        )


def _check_photos(
    task: dict[str, Any], photos: Sequence[PhotoUpload], max_bytes: int
) -> list[tuple[PhotoUpload, CheckedPhoto]]:
    counts = {side: sum(1 for p in photos if p.side == side) for side in ("before", "after")}
    for side, n in counts.items():
        if n > MAX_PHOTOS_PER_SIDE:
            raise CheckInInvalidError(
                f"{n} {side} photos: at most {MAX_PHOTOS_PER_SIDE} / 照片过多"
            )
    if task["photos_required"] and not (counts["before"] and counts["after"]):
        raise CheckInInvalidError(
            "this cleaning plan requires photos before and after cleaning"
            f" (got {counts['before']} before, {counts['after']} after) / 需上传清扫前后照片"
        )
    return [(p, check_photo(p.data, p.declared_type, max_bytes)) for p in photos]


async def _record_check_in(
    conn: AsyncConnection[Any],
    scope: Scope,
    task_id: int,
    stored: Sequence[tuple[str, CheckedPhoto, Side]],
    now: datetime,
    operator: str | None,
    remarks: str | None,
) -> None:
    task = await _task_row(conn, scope, task_id, lock=True)
    _refuse_unless_open(task, now)  # again, under the lock: two phones, one task
    late = now > task["window_end"]
    try:
        await conn.execute(
            "INSERT INTO cleaning_checkins (task_id, credit_code, adcode, operator,"
            " checked_in_by, checked_in_at, late, remarks) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                task_id,
                task["credit_code"],
                task["adcode"],
                (operator or "").strip() or scope.username,
                scope.username,
                now,
                late,
                (remarks or "").strip() or None,
            ),
        )
    except psycopg.errors.UniqueViolation as err:
        raise CheckInRefusedError(f"task {task_id} was checked in already / 该任务已打卡") from err
    await conn.execute(
        "UPDATE cleaning_tasks SET state = %s, checked_in_at = %s WHERE id = %s",
        ("LATE" if late else "DONE", now, task_id),
    )
    for key, photo, side in stored:
        await record_photo(
            conn,
            key,
            photo,
            credit_code=task["credit_code"],
            adcode=task["adcode"],
            uploaded_by=scope.username,
            uploaded_at=now,
            kind=f"cleaning_{side}",
            ref=str(task_id),
        )
    # the area is clean again: the plan's overdue alarm clears (its loop goes on), and the
    # enterprise's risk is evaluated again (completion rate changed)
    subject = plan_subject(
        task["credit_code"], task["adcode"], task["plan_id"], task["system_code"]
    )
    clear = Change("clear", OVERDUE_ALARM, alarm_level(task["zone"]), now)
    await apply_changes(conn, [(subject, clear)], now, Deadlines())


# ---------------------------------------------------------------- SQL: overdue, facts, KPIs


async def overdue_tasks(conn: AsyncConnection[Any], now: datetime) -> list[OverdueTask]:
    """Mark, exactly once, the tasks whose window ended unchecked; returns those just marked."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE cleaning_tasks SET state = 'OVERDUE', overdue_at = %(now)s"
            " WHERE state = 'PENDING' AND window_end <= %(now)s"
            " RETURNING id AS task_id, plan_id, credit_code, adcode, area, zone, system_code,"
            " window_start, window_end",
            {"now": now},
        )
        rows = await cur.fetchall()
    return sorted((OverdueTask(**r) for r in rows), key=lambda t: (t.window_end, t.task_id))


async def management_facts(
    conn: AsyncConnection[Any], credit_codes: Sequence[str] | None, now: datetime
) -> dict[str, CleaningFacts]:
    """Per enterprise: today's completion rate and the overdue tasks of the last 24 h.

    ``completion`` counts the tasks due today (window ended by ``now``, or checked in already)
    and how many of them were checked in (late ones too); None when none was due.
    ``overdue`` holds the tasks whose window ended in the last 24 h without a check-in. Every
    requested enterprise is in the answer; ``credit_codes`` None: every one with tasks.
    """
    start, day_end = day_range(now.astimezone(CHINA).date())
    cur = await conn.execute(
        """
        SELECT credit_code,
               count(*) FILTER (WHERE window_end > %(start)s AND window_end <= %(day_end)s
                                AND (window_end <= %(now)s OR checked_in_at <= %(now)s)) AS due,
               count(*) FILTER (WHERE window_end > %(start)s AND window_end <= %(day_end)s
                                AND checked_in_at <= %(now)s) AS done
        FROM cleaning_tasks
        WHERE (%(codes)s::text[] IS NULL OR credit_code = ANY(%(codes)s))
          AND window_end > %(start)s AND window_start <= %(now)s
        GROUP BY credit_code
        """,
        {"start": start, "day_end": day_end, "now": now, "codes": credit_codes},
    )
    counts = {str(cc): (int(due), int(done)) for cc, due, done in await cur.fetchall()}
    async with conn.cursor(row_factory=dict_row) as dcur:
        await dcur.execute(
            "SELECT id, credit_code, zone, area, window_end FROM cleaning_tasks"
            " WHERE (%(codes)s::text[] IS NULL OR credit_code = ANY(%(codes)s))"
            " AND window_end > %(since)s AND window_end <= %(now)s"
            " AND (checked_in_at IS NULL OR checked_in_at > %(now)s) ORDER BY window_end, id",
            {"codes": credit_codes, "since": now - OVERDUE_WINDOW, "now": now},
        )
        overdue_rows = await dcur.fetchall()
    overdue: dict[str, list[CleaningFact]] = defaultdict(list)
    for r in overdue_rows:
        overdue[r["credit_code"]].append(
            CleaningFact(
                task_id=str(r["id"]), zone=str(r["zone"]), item=r["area"], due_at=r["window_end"]
            )
        )
    codes = list(credit_codes) if credit_codes is not None else sorted(set(counts) | set(overdue))
    facts: dict[str, CleaningFacts] = {}
    for cc in codes:
        due, done = counts.get(cc, (0, 0))
        facts[cc] = CleaningFacts(done / due if due else None, tuple(overdue.get(cc, ())))
    return facts


async def daily_kpis(
    conn: AsyncConnection[Any],
    day: date,
    *,
    now: datetime | None = None,
    scope: Scope | None = None,
    credit_code: str | None = None,
) -> list[CleaningKpi]:
    """A China day's KPIs per enterprise and per region (county, city, province, country).

    A task belongs to the day its window ends in; while the day lasts, only tasks whose window
    ended (or that were checked in) count. With a ``scope``, only what it covers: its
    enterprises, and for regulators and admins the regions under their jurisdiction.
    """
    start, _ = day_range(day)
    until = now or datetime.now(UTC)
    cur = await conn.execute(
        """
        SELECT credit_code, adcode,
               count(*) AS due,
               count(*) FILTER (WHERE checked_in_at <= %(now)s) AS done,
               count(*) FILTER (WHERE checked_in_at <= least(window_end, %(now)s)) AS on_time
        FROM cleaning_tasks
        WHERE window_end > %(start)s AND window_end <= %(end)s
          AND (window_end <= %(now)s OR checked_in_at <= %(now)s)
          AND (%(cc)s::text IS NULL OR credit_code = %(cc)s)
        GROUP BY credit_code, adcode ORDER BY credit_code
        """,
        {"start": start, "end": start + timedelta(days=1), "now": until, "cc": credit_code},
    )
    rows = [
        {"credit_code": cc, "adcode": ad, "due": due, "done": done, "on_time": on_time}
        for cc, ad, due, done, on_time in await cur.fetchall()
    ]
    if scope is not None:
        rows = [r for r in rows if scope.sees("enterprise", r["adcode"], r["credit_code"])]
    kpis = kpi_rollup(rows)
    if scope is None:
        return kpis
    return [
        k
        for k in kpis
        if k.scope_kind == "enterprise"
        or (scope.role in ("admin", "regulator") and scope.sees("region", k.key, None))
    ]


async def enterprise_kpi(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, day: date, now: datetime
) -> CleaningKpi:
    """One enterprise's KPIs of a day (zero counts when nothing was due)."""
    (kpi,) = await enterprise_kpis_by_day(conn, scope, credit_code, day, 1, now)
    return kpi


async def enterprise_kpis_by_day(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    first: date,
    days: int,
    now: datetime,
) -> list[CleaningKpi]:
    """One enterprise's KPIs of each of ``days`` China days from ``first``, oldest first, in one
    query; the same counting as ``daily_kpis`` (a task belongs to the day its window ends in)."""
    adcode = await _enterprise_adcode(conn, scope, credit_code)
    start = day_range(first)[0]
    cur = await conn.execute(
        """
        SELECT ceil(extract(epoch FROM window_end - %(start)s) / 86400)::int - 1 AS day,
               count(*) AS due,
               count(*) FILTER (WHERE checked_in_at <= %(now)s) AS done,
               count(*) FILTER (WHERE checked_in_at <= least(window_end, %(now)s)) AS on_time
        FROM cleaning_tasks
        WHERE credit_code = %(cc)s AND window_end > %(start)s AND window_end <= %(end)s
          AND (window_end <= %(now)s OR checked_in_at <= %(now)s)
        GROUP BY 1
        """,
        {"start": start, "end": start + timedelta(days=days), "now": now, "cc": credit_code},
    )
    counts = {
        day: {"due": due, "done": done, "on_time": on_time}
        for day, due, done, on_time in await cur.fetchall()
    }
    none = {"due": 0, "done": 0, "on_time": 0}
    return [_kpi("enterprise", credit_code, adcode, [counts.get(i, none)]) for i in range(days)]


def summed_kpi(kpis: Sequence[CleaningKpi], credit_code: str, adcode: str) -> CleaningKpi:
    """Several days' KPIs of one enterprise as one: counts summed, rates from the summed counts
    (as a region's, never an average of daily rates)."""
    total = {
        "due": sum(k.due for k in kpis),
        "done": sum(k.done for k in kpis),
        "on_time": sum(k.on_time for k in kpis),
    }
    return _kpi("enterprise", credit_code, adcode, [total])
