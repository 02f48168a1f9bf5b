"""The periodic checks: offline alarms, overdue deadlines and the daily statistics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest_asyncio

from risk.alarms import Deadlines, mark_overdue, sync_offline_alarms
from risk.statistics import compute_day, day_bounds
from tests.api.demo_data import FENGXIAN, JIADING


@pytest_asyncio.fixture
async def conn(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection to the seeded database."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as c:
        yield c


async def _set_online(
    conn: psycopg.AsyncConnection[Any], thing_id: str, online: bool, at: datetime
) -> None:
    props = {"online": online, "changed_at": at.isoformat(), "last_seen": at.isoformat()}
    await conn.execute(
        "UPDATE things SET features = jsonb_set(features, '{connectivity}',"
        " jsonb_build_object('properties', %s::jsonb)) WHERE thing_id = %s",
        (json.dumps(props), thing_id),
    )


async def _offline_alarms(
    conn: psycopg.AsyncConnection[Any], credit_code: str
) -> list[tuple[Any, ...]]:
    cur = await conn.execute(
        "SELECT thing_id, condition_active FROM alarms WHERE alarm_type = 'OFFLINE'"
        " AND credit_code = %s ORDER BY id",
        (credit_code,),
    )
    return await cur.fetchall()


async def test_a_silent_gateway_is_one_offline_alarm_not_one_per_point(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    enterprise = JIADING[5]
    cc = enterprise.record.credit_code
    gateway = f"dusttwin:gateway-{cc}-{enterprise.points[0].gateway_id}"
    now = datetime.now(UTC)
    # the gateway and every point behind it went quiet 20 minutes ago
    await _set_online(conn, gateway, False, now - timedelta(minutes=20))
    cur = await conn.execute(
        "SELECT thing_id FROM things WHERE kind = 'point' AND credit_code = %s", (cc,)
    )
    points = [str(p) for (p,) in await cur.fetchall()]
    for point in points:
        await _set_online(conn, point, False, now - timedelta(minutes=20))
    async with conn.transaction():
        raised, _ = await sync_offline_alarms(conn, now, Deadlines())
    async with conn.transaction():
        again, _ = await sync_offline_alarms(conn, now, Deadlines())
    assert await _offline_alarms(conn, cc) == [(gateway, True)]
    assert raised >= 1
    assert again == 0
    # back online, and its points with it: the condition clears, the alarm stays for its loop
    for thing in (gateway, *points):
        await _set_online(conn, thing, True, now)
    async with conn.transaction():
        _, cleared = await sync_offline_alarms(conn, now, Deadlines())
    assert cleared >= 1
    assert await _offline_alarms(conn, cc) == [(gateway, False)]


async def test_an_alarm_past_its_deadline_is_recorded_overdue_once(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    cc = JIADING[6].record.credit_code
    late = datetime.now(UTC) - timedelta(hours=1)
    cur = await conn.execute(
        "INSERT INTO alarms (thing_id, credit_code, adcode, alarm_type, level, raised_at,"
        " last_seen_at, ack_deadline, feedback_deadline) VALUES (%s, %s, '310114', 'HIGH',"
        " 'HA', %s, %s, %s, %s) RETURNING id",
        (
            f"dusttwin:point-{cc}-LATE",
            cc,
            late,
            late,
            late + timedelta(minutes=30),
            late + timedelta(hours=24),
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    now = datetime.now(UTC)
    async with conn.transaction():
        first = await mark_overdue(conn, now)
    async with conn.transaction():
        second = await mark_overdue(conn, now + timedelta(minutes=1))
    cur = await conn.execute(
        "SELECT action, detail ->> 'deadline' FROM alarm_history WHERE alarm_id = %s", (row[0],)
    )
    assert await cur.fetchall() == [("overdue", "acknowledge")]
    assert first >= 1
    assert second == 0
    listed = await conn.execute("SELECT 1 FROM risk_pending WHERE credit_code = %s", (cc,))
    assert await listed.fetchone() is not None


async def test_the_online_rate_of_a_day_is_exact_from_the_recorded_transitions(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    enterprise = FENGXIAN[7]
    cc = enterprise.record.credit_code
    day = date(2026, 1, 15)
    start, end = day_bounds(day, datetime.now(UTC))
    # online at midnight, offline 06:00–12:00, online again: 18 of 24 hours
    for hours, online in ((0, True), (6, False), (12, True)):
        await conn.execute(
            "INSERT INTO connectivity_events (thing_id, at, online) VALUES (%s, %s, %s)",
            (f"dusttwin:enterprise-{cc}", start + timedelta(hours=hours), online),
        )
    async with conn.transaction():
        await compute_day(conn, day, datetime.now(UTC))
    cur = await conn.execute(
        "SELECT online_rate FROM daily_stats WHERE day = %s AND scope_kind = 'enterprise'"
        " AND scope_key = %s",
        (day, cc),
    )
    assert await cur.fetchone() == (0.75,)
    cur = await conn.execute(
        "SELECT enterprises FROM daily_stats WHERE day = %s AND scope_kind = 'region'"
        " AND scope_key = '310120'",
        (day,),
    )
    row = await cur.fetchone()
    assert row is not None
    assert row[0] >= len(FENGXIAN)  # other tests may add enterprises there
    assert end == start + timedelta(days=1)
