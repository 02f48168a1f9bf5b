"""Dust cleaning: windows from plans, tasks made once, check-ins on time or late, overdue alarms.

Pure rules first (no services); then the storage on the seeded database, driven with explicit
times far from today so that nothing else in the database falls on the same days.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from PIL import Image

from risk.alarms import Deadlines, apply_changes
from risk.cleaning import (
    CheckInInvalidError,
    CheckInRefusedError,
    CleaningPlanInvalidError,
    OverdueTask,
    PhotoUpload,
    PlanSpec,
    check_in,
    create_plan,
    daily_kpis,
    enterprise_kpis_by_day,
    generate_tasks,
    kpi_rollup,
    list_tasks,
    maintenance_tasks,
    maintenance_windows,
    management_facts,
    overdue_alarm_changes,
    overdue_tasks,
    validate_plan,
    windows,
)
from tests.api.demo_data import JIADING
from twins.photos import LocalPhotoStore
from twins.scope import Scope

CST = timezone(timedelta(hours=8))


def plan(frequency: str = "daily", **changes: Any) -> PlanSpec:
    base: dict[str, Any] = {
        "area": "1#打磨车间 梁架",
        "zone": 21,
        "frequency": frequency,
        "method": "explosion_proof_vacuum",
        "responsible": "张工",
    }
    return validate_plan(PlanSpec(**{**base, **changes}))


# ---------------------------------------------------------------- pure rules


def test_a_per_shift_plan_has_the_three_shifts_of_a_china_day() -> None:
    day_start = datetime(2031, 3, 3, tzinfo=CST)
    found = windows(plan("per_shift"), day_start, day_start + timedelta(days=1))
    assert [(w.start.astimezone(CST).hour, w.end - w.start) for w in found] == [
        (0, timedelta(hours=8)),
        (8, timedelta(hours=8)),
        (16, timedelta(hours=8)),
    ]
    assert found[-1].end == datetime(2031, 3, 4, tzinfo=CST)


def test_a_daily_plan_defaults_to_eight_to_sixteen_china_time() -> None:
    daily = plan("daily")
    assert (daily.window_start, daily.window_minutes) == (time(8), 480)
    found = windows(daily, datetime(2031, 3, 3, tzinfo=CST), datetime(2031, 3, 5, tzinfo=CST))
    assert [w.start for w in found] == [
        datetime(2031, 3, 3, 8, tzinfo=CST),
        datetime(2031, 3, 4, 8, tzinfo=CST),
    ]


def test_a_window_already_running_is_included_one_that_ended_is_not() -> None:
    daily = plan("daily", window_start=time(9), window_minutes=60)
    found = windows(
        daily, datetime(2031, 3, 3, 9, 30, tzinfo=CST), datetime(2031, 3, 3, 23, tzinfo=CST)
    )
    assert [w.start for w in found] == [datetime(2031, 3, 3, 9, tzinfo=CST)]
    assert (
        windows(daily, datetime(2031, 3, 3, 10, tzinfo=CST), datetime(2031, 3, 3, 23, tzinfo=CST))
        == []
    )


def test_weekly_and_monthly_plans_fall_on_their_day() -> None:
    weekly = plan("weekly", weekday=5)  # Friday
    monthly = plan("monthly", month_day=15, window_start=time(20), window_minutes=720)
    month = (datetime(2031, 3, 1, tzinfo=CST), datetime(2031, 4, 1, tzinfo=CST))
    assert [w.start.day for w in windows(weekly, *month)] == [7, 14, 21, 28]
    [only] = windows(monthly, *month)
    assert (only.start, only.end) == (
        datetime(2031, 3, 15, 20, tzinfo=CST),
        datetime(2031, 3, 16, 8, tzinfo=CST),
    )


def test_maintenance_plans_make_windows_only_around_a_maintenance() -> None:
    around = plan("maintenance")
    assert windows(around, datetime(2031, 3, 1, tzinfo=UTC), datetime(2031, 4, 1, tzinfo=UTC)) == []
    start, end = datetime(2031, 3, 5, 8, tzinfo=CST), datetime(2031, 3, 5, 18, tzinfo=CST)
    before, after = maintenance_windows(around, start, end)
    assert (before.start, before.end) == (start - timedelta(hours=4), start)
    assert (after.start, after.end) == (end, end + timedelta(hours=4))


def test_compressed_air_is_never_a_cleaning_method() -> None:
    for method in ("compressed_air", "Compressed air blowing", "压缩空气吹扫"):
        with pytest.raises(CleaningPlanInvalidError, match="compressed-air blowing is forbidden"):
            plan(method=method)


def test_a_plan_names_every_problem_at_once() -> None:
    with pytest.raises(CleaningPlanInvalidError) as refused:
        plan("per_shift", zone=23, window_minutes=60, responsible=" ")
    message = str(refused.value)
    assert "zone: 23" in message
    assert "per-shift plan's window is its shift" in message
    assert "responsible" in message


def test_window_lengths_and_days_are_bounded() -> None:
    with pytest.raises(CleaningPlanInvalidError, match="window_minutes: 1500"):
        plan("daily", window_minutes=1500)
    with pytest.raises(CleaningPlanInvalidError, match="month_day: 31"):
        plan("monthly", month_day=31)
    with pytest.raises(CleaningPlanInvalidError, match="weekday"):
        plan("daily", weekday=3)


def _overdue(task_id: int, plan_id: int, zone: int, end: datetime) -> OverdueTask:
    return OverdueTask(
        task_id,
        plan_id,
        "CC",
        "310113",
        f"area {plan_id}",
        zone,
        None,
        end - timedelta(hours=8),
        end,
    )


def test_overdue_tasks_raise_one_alarm_per_plan_high_in_zones_20_and_21() -> None:
    t = datetime(2031, 3, 3, 8, tzinfo=CST)
    changes = overdue_alarm_changes(
        [
            _overdue(1, 10, 21, t),
            _overdue(2, 10, 21, t + timedelta(hours=8)),
            _overdue(3, 11, 22, t),
        ]
    )
    assert [(s.thing_id, c.alarm_type, c.level, c.time) for s, c in changes] == [
        ("dusttwin:cleaning-CC-10", "CLEANING_OVERDUE", "HA", t + timedelta(hours=8)),
        ("dusttwin:cleaning-CC-11", "CLEANING_OVERDUE", "LA", t),
    ]
    assert changes[0][1].detail["task_ids"] == [1, 2]


def test_region_kpis_come_from_summed_counts() -> None:
    rows = [
        {"credit_code": "A", "adcode": "310113", "due": 9, "done": 9, "on_time": 8},
        {"credit_code": "B", "adcode": "310114", "due": 1, "done": 0, "on_time": 0},
    ]
    by_key = {(k.scope_kind, k.key): k for k in kpi_rollup(rows)}
    shanghai = by_key[("region", "310000")]
    assert (shanghai.enterprises, shanghai.due, shanghai.done, shanghai.missed) == (2, 10, 9, 1)
    assert shanghai.completion_rate == pytest.approx(0.9)  # not the mean of 1.0 and 0.0
    assert by_key[("enterprise", "A")].late == 1
    assert by_key[("region", "310113")].overdue == 1


# ---------------------------------------------------------------- storage


@pytest_asyncio.fixture
async def conn(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection to the seeded database (autocommit)."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as c:
        yield c


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 120, 120)).save(out, "JPEG")
    return out.getvalue()


def _stored(root: Path) -> int:
    return len(list(root.rglob("*.jpg")))


def photos() -> list[PhotoUpload]:
    return [PhotoUpload("before", jpeg(), "image/jpeg"), PhotoUpload("after", jpeg(), "image/jpeg")]


async def _tasks(
    conn: psycopg.AsyncConnection[Any], cc: str, day: date, now: datetime
) -> list[dict[str, Any]]:
    start = datetime.combine(day, time(0), CST)
    _, items = await list_tasks(conn, Scope.admin(), cc, start, start + timedelta(days=1), now)
    return items


async def test_generating_tasks_again_makes_no_second_task(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    cc = JIADING[5].record.credit_code
    now = datetime(2031, 3, 3, 7, tzinfo=CST)
    await create_plan(conn, Scope.admin(), cc, plan("per_shift"), now)
    # the plan made its tasks at once: the night shift under way and every shift of two days
    first = await _tasks(conn, cc, date(2031, 3, 3), now)
    assert [t["window_start"].astimezone(CST).hour for t in first] == [0, 8, 16]
    # (other tests' plans may get tasks from these runs: count this enterprise's only)
    await generate_tasks(conn, now)
    await generate_tasks(conn, now + timedelta(hours=1))
    assert await _tasks(conn, cc, date(2031, 3, 3), now) == first


async def test_a_check_in_is_refused_early_accepted_in_the_window_and_late_after_it(
    conn: psycopg.AsyncConnection[Any], tmp_path: Path
) -> None:
    cc = JIADING[6].record.credit_code
    store = LocalPhotoStore(tmp_path)
    now = datetime(2031, 3, 10, 6, tzinfo=CST)
    await create_plan(
        conn, Scope.admin(), cc, plan("daily", window_start=time(8), window_minutes=120), now
    )
    monday, tuesday = (
        await _tasks(conn, cc, date(2031, 3, 10), now),
        await _tasks(conn, cc, date(2031, 3, 11), now),
    )
    who = Scope.enterprise("qiye-test", cc)
    with pytest.raises(CheckInRefusedError, match="opens at 2031-03-10 08:00"):
        await check_in(conn, who, monday[0]["id"], photos=photos(), store=store, now=now)
    with pytest.raises(CheckInInvalidError, match="before and after"):
        await check_in(
            conn,
            who,
            monday[0]["id"],
            photos=photos()[1:],
            store=store,
            now=datetime(2031, 3, 10, 9, tzinfo=CST),
        )
    on_time = await check_in(
        conn,
        who,
        monday[0]["id"],
        photos=photos(),
        store=store,
        now=datetime(2031, 3, 10, 9, tzinfo=CST),
        operator="李四",
        remarks="梁架积尘已清",
    )
    assert (on_time["state"], on_time["checkin"]["operator"], on_time["checkin"]["late"]) == (
        "DONE",
        "李四",
        False,
    )
    assert sorted(p["side"] for p in on_time["photos"]) == ["after", "before"]
    assert _stored(tmp_path) == 2
    late = await check_in(
        conn,
        who,
        tuesday[0]["id"],
        photos=photos(),
        store=store,
        now=datetime(2031, 3, 11, 10, 30, tzinfo=CST),
    )
    assert (late["state"], late["checkin"]["late"], late["checkin"]["operator"]) == (
        "LATE",
        True,
        "qiye-test",
    )
    with pytest.raises(CheckInRefusedError, match="checked in already"):
        await check_in(
            conn,
            who,
            tuesday[0]["id"],
            photos=photos(),
            store=store,
            now=datetime(2031, 3, 11, 11, tzinfo=CST),
        )
    assert _stored(tmp_path) == 4  # a refused check-in leaves no photo behind


async def test_overdue_tasks_are_marked_once_alarm_and_feed_the_management_risk(
    conn: psycopg.AsyncConnection[Any], tmp_path: Path
) -> None:
    cc = JIADING[7].record.credit_code
    created = datetime(2031, 3, 17, 1, tzinfo=CST)
    await create_plan(conn, Scope.admin(), cc, plan("per_shift", zone=20), created)
    after_day_shift = datetime(2031, 3, 17, 16, 30, tzinfo=CST)
    marked = await overdue_tasks(conn, after_day_shift)
    mine = [t for t in marked if t.credit_code == cc]
    assert [t.window_end.astimezone(CST).hour for t in mine] == [8, 16]
    assert [t for t in await overdue_tasks(conn, after_day_shift) if t.credit_code == cc] == []
    async with conn.transaction():
        await apply_changes(conn, overdue_alarm_changes(mine), after_day_shift, Deadlines())
    cur = await conn.execute(
        "SELECT level, condition_active FROM alarms WHERE credit_code = %s"
        " AND alarm_type = 'CLEANING_OVERDUE'",
        (cc,),
    )
    assert await cur.fetchall() == [("HA", True)]

    facts = (await management_facts(conn, [cc], after_day_shift))[cc]
    assert facts.completion == 0.0  # two shifts due today, none cleaned
    assert [(f.zone, f.item) for f in facts.overdue] == [("20", "1#打磨车间 梁架")] * 2

    # the day shift is checked in late: the area is clean again, the alarm's condition clears
    day_shift = mine[1].task_id
    await check_in(
        conn,
        Scope.enterprise("qiye-test", cc),
        day_shift,
        photos=photos(),
        store=LocalPhotoStore(tmp_path),
        now=after_day_shift + timedelta(minutes=10),
    )
    later = after_day_shift + timedelta(minutes=20)
    facts = (await management_facts(conn, [cc], later))[cc]
    assert facts.completion == 0.5
    assert [f.task_id for f in facts.overdue] == [str(mine[0].task_id)]
    cur = await conn.execute(
        "SELECT condition_active FROM alarms WHERE credit_code = %s"
        " AND alarm_type = 'CLEANING_OVERDUE'",
        (cc,),
    )
    assert await cur.fetchall() == [(False,)]
    kpis = {(k.scope_kind, k.key): k for k in await daily_kpis(conn, date(2031, 3, 17), now=later)}
    mine_kpi = kpis[("enterprise", cc)]
    assert (mine_kpi.due, mine_kpi.done, mine_kpi.on_time, mine_kpi.late, mine_kpi.missed) == (
        2,
        1,
        0,
        1,
        1,
    )
    assert kpis[("region", JIADING[7].record.adcode)].due >= 2
    # the enterprise's days in one query count as daily_kpis does, the evening shift (ending at
    # midnight sharp) on the day it ends in
    after_midnight = datetime(2031, 3, 18, 0, 30, tzinfo=CST)
    by_day = await enterprise_kpis_by_day(
        conn, Scope.admin(), cc, date(2031, 3, 16), 3, after_midnight
    )
    assert [(k.due, k.done, k.on_time) for k in by_day] == [(0, 0, 0), (3, 1, 0), (0, 0, 0)]
    one_by_one = [
        {(k.scope_kind, k.key): k for k in await daily_kpis(conn, day, now=after_midnight)}
        for day in (date(2031, 3, 17), date(2031, 3, 18))
    ]
    assert one_by_one[0][("enterprise", cc)] == by_day[1]
    assert ("enterprise", cc) not in one_by_one[1]


async def test_nothing_due_yet_is_no_completion_rate(conn: psycopg.AsyncConnection[Any]) -> None:
    cc = JIADING[8].record.credit_code
    facts = await management_facts(conn, [cc], datetime(2031, 3, 24, 9, tzinfo=CST))
    assert (facts[cc].completion, facts[cc].overdue) == (None, ())


async def test_maintenance_plans_make_their_tasks_when_a_maintenance_is_filed(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    cc = JIADING[9].record.credit_code
    now = datetime(2031, 3, 30, 9, tzinfo=CST)
    await create_plan(conn, Scope.admin(), cc, plan("maintenance", system_code="DC01"), now)
    assert await _tasks(conn, cc, date(2031, 3, 31), now) == []
    start, end = datetime(2031, 3, 31, 8, tzinfo=CST), datetime(2031, 3, 31, 17, tzinfo=CST)
    assert await maintenance_tasks(conn, cc, start, end, system_code="DC01", ref="filing-7") == 2
    assert await maintenance_tasks(conn, cc, start, end, system_code="DC01", ref="filing-7") == 0
    assert await maintenance_tasks(conn, cc, start, end, system_code="DC02") == 0
    made = await _tasks(conn, cc, date(2031, 3, 31), now)
    assert [(t["kind"], t["ref"]) for t in made] == [
        ("before_maintenance", "filing-7"),
        ("after_maintenance", "filing-7"),
    ]
