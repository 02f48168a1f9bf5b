"""An approved maintenance filing: its alarms are stored, not raised; its time is not offline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest_asyncio

from risk.alarms import Change, Deadlines, Subject, apply_changes
from risk.filings import FilingRules, file_filing
from risk.statistics import compute_day, day_bounds
from tests.api.demo_data import FENGXIAN
from twins.scope import Scope

ENTERPRISE = FENGXIAN[10].record.credit_code


@pytest_asyncio.fixture
async def conn(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection to the seeded database."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as c:
        yield c


async def _file(
    conn: psycopg.AsyncConnection[Any], starts: datetime, ends: datetime, now: datetime
) -> None:
    await file_filing(
        conn,
        Scope.admin(),
        ENTERPRISE,
        system_code=None,
        kind="shutdown",
        starts_at=starts,
        ends_at=ends,
        reason="年度检修 / yearly overhaul",
        now=now,
        rules=FilingRules(max_duration=timedelta(days=30)),
    )


async def test_an_alarm_inside_a_filed_window_is_stored_but_not_announced(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    now = datetime.now(UTC)
    await _file(conn, now - timedelta(minutes=5), now + timedelta(hours=2), now)
    during = Subject(
        f"dusttwin:point-{ENTERPRISE}-DC01-HOPPER_TEMP-1", ENTERPRISE, "310120", system_code="DC01"
    )
    explosion = Subject(
        f"dusttwin:point-{ENTERPRISE}-DC01-VENT_BURST-1", ENTERPRISE, "310120", system_code="DC01"
    )
    async with conn.transaction():
        events = await apply_changes(
            conn,
            [
                (during, Change("raise", "HIGH", "HA", now, 75.0, 70.0)),
                (explosion, Change("raise", "EXPLOSION", "EXPLOSION", now, 1.0)),
            ],
            now,
            Deadlines(),
        )
    cur = await conn.execute(
        "SELECT alarm_type, suppressed FROM alarms WHERE credit_code = %s ORDER BY alarm_type",
        (ENTERPRISE,),
    )
    # an explosion device is never silenced by a filing
    assert await cur.fetchall() == [("EXPLOSION", False), ("HIGH", True)]
    assert [(e.kind, e.data["alarm_type"]) for e in events] == [("alarm.raised", "EXPLOSION")]


async def test_filed_time_counts_neither_online_nor_offline(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    day = date(2026, 2, 10)
    start, _ = day_bounds(day, datetime.now(UTC))
    # online 00:00–06:00, offline from 06:00; 12:00–24:00 filed as a shutdown
    for hours, online in ((0, True), (6, False)):
        await conn.execute(
            "INSERT INTO connectivity_events (thing_id, at, online) VALUES (%s, %s, %s)",
            (f"dusttwin:enterprise-{ENTERPRISE}", start + timedelta(hours=hours), online),
        )
    await _file(conn, start + timedelta(hours=12), start + timedelta(hours=24), start)
    async with conn.transaction():
        await compute_day(conn, day, datetime.now(UTC))
    cur = await conn.execute(
        "SELECT online_rate FROM daily_stats WHERE day = %s AND scope_kind = 'enterprise'"
        " AND scope_key = %s",
        (day, ENTERPRISE),
    )
    # 6 h online of the 12 h that were not filed (not 6 of 24)
    assert await cur.fetchone() == (0.5,)
