"""Alarms in the database: state that survives a restart, one alarm when connectors race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio

from connectors.protocol import DeviceEvent, Reading
from device_catalog import load_catalog
from risk.alarms import Change, Deadlines, Subject, apply_changes
from risk.evaluator import LimitEvaluator
from tests.connectors.support import CC, gateway_with_points

SYSTEM = "DC96"


@pytest_asyncio.fixture(scope="module")
async def points(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> dict[str, int]:
    """Point ids by indicator of a system of the demo's first enterprise."""
    await gateway_with_points(
        api, tokens["admin"], "GW63", SYSTEM, ("HOPPER_TEMP", "FAN_RUN", "DP_IN_OUT")
    )
    async with await psycopg.AsyncConnection.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        cur = await conn.execute(
            "SELECT attributes ->> 'indicator', id FROM things WHERE kind = 'point'"
            " AND attributes ->> 'system_code' = %s",
            (SYSTEM,),
        )
        return {str(i): int(p) for i, p in await cur.fetchall()}


@pytest_asyncio.fixture
async def conn(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection to the seeded database (autocommit; tests open their transactions)."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as c:
        yield c


async def _alarms(
    conn: psycopg.AsyncConnection[Any], point_id: int, alarm_type: str
) -> list[tuple[Any, ...]]:
    cur = await conn.execute(
        "SELECT level, state, count, condition_active FROM alarms"
        " WHERE point_id = %s AND alarm_type = %s ORDER BY id",
        (point_id, alarm_type),
    )
    return await cur.fetchall()


async def test_a_persistence_timer_survives_a_restart_of_the_evaluating_process(
    conn: psycopg.AsyncConnection[Any], points: dict[str, int]
) -> None:
    dp, fan = points["DP_IN_OUT"], points["FAN_RUN"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

    def batch(at: datetime, value: float) -> list[Reading]:
        return [Reading(at, fan, 1.0, 0, False), Reading(at, dp, value, 0, False)]

    # above HA (1500 Pa): the 60 s persistence starts; nothing raised yet
    before_restart = LimitEvaluator(load_catalog())
    async with conn.transaction():
        await before_restart(conn, batch(t0, 1600), [])
        await before_restart(conn, batch(t0 + timedelta(seconds=30), 1610), [])
    assert await _alarms(conn, dp, "HIGH") == []
    # a new process (nothing in memory) carries on from the stored state: 70 s held → raised
    after_restart = LimitEvaluator(load_catalog())
    async with conn.transaction():
        await after_restart(conn, batch(t0 + timedelta(seconds=70), 1620), [])
    assert await _alarms(conn, dp, "HIGH") == [("HA", "ACTIVE", 1, True)]


async def test_an_explosion_device_event_raises_the_highest_level_at_once(
    conn: psycopg.AsyncConnection[Any], api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    await gateway_with_points(api, tokens["admin"], "GW64", "DC97", ("FAN_RUN",))
    body = {
        "point_code": "DC97-VENT_BURST-1",
        "system_code": "DC97",
        "indicator": "VENT_BURST",
        "unit": "0/1",
        "gateway_id": "GW64",
    }
    made = await api.post(f"/api/v1/enterprises/{CC}/points", json=body, headers=tokens["admin"])
    assert made.status_code == 201, made.text
    cur = await conn.execute(
        "SELECT id FROM things WHERE thing_id = %s", (f"dusttwin:point-{CC}-DC97-VENT_BURST-1",)
    )
    row = await cur.fetchone()
    assert row is not None
    vent = int(row[0])
    at = datetime.now(UTC) - timedelta(seconds=5)
    async with conn.transaction():
        await LimitEvaluator(load_catalog())(
            conn, [], [DeviceEvent(at, vent, "ACTIVE", 1.0, "泄爆片动作", False)]
        )
    assert await _alarms(conn, vent, "EXPLOSION") == [("EXPLOSION", "ACTIVE", 1, True)]
    cur = await conn.execute(
        "SELECT kind, data ->> 'level' FROM events WHERE thing_id = %s ORDER BY id",
        (f"dusttwin:point-{CC}-DC97-VENT_BURST-1",),
    )
    assert await cur.fetchall() == [("alarm.raised", "EXPLOSION")]


async def test_two_connectors_raising_one_alarm_at_the_same_moment_make_one_alarm(
    seeded: dict[str, str], points: dict[str, int], conn: psycopg.AsyncConnection[Any]
) -> None:
    temp = points["HOPPER_TEMP"]
    subject = Subject(
        f"dusttwin:point-{CC}-{SYSTEM}-HOPPER_TEMP-1",
        CC,
        "310113",
        point_id=temp,
        system_code=SYSTEM,
        indicator="HOPPER_TEMP",
        mandatory=True,
    )
    at = datetime.now(UTC) - timedelta(seconds=10)

    async def connector(value: float) -> None:
        dsn = seeded["DUSTTWIN_DATABASE_URL"]
        async with await psycopg.AsyncConnection.connect(dsn) as c, c.transaction():
            change = Change("raise", "HIGH", "HHA", at, value, 90.0)
            await apply_changes(c, [(subject, change)], datetime.now(UTC), Deadlines())
            await asyncio.sleep(0.2)  # both transactions open at once

    await asyncio.gather(connector(95.0), connector(96.0))
    rows = await _alarms(conn, temp, "HIGH")
    assert rows == [("HHA", "ACTIVE", 1, True)]
    cur = await conn.execute(
        "SELECT peak_value FROM alarms WHERE point_id = %s AND alarm_type = 'HIGH'", (temp,)
    )
    assert await cur.fetchone() == (96.0,)


async def test_a_batch_rolled_back_is_evaluated_again_in_full_when_retried(
    conn: psycopg.AsyncConnection[Any], api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    await gateway_with_points(api, tokens["admin"], "GW99", "DC99", ("HOPPER_TEMP",))
    cur = await conn.execute(
        "SELECT id FROM things WHERE thing_id = %s", (f"dusttwin:point-{CC}-DC99-HOPPER_TEMP-1",)
    )
    row = await cur.fetchone()
    assert row is not None
    temp = int(row[0])
    evaluator = LimitEvaluator(load_catalog())
    hot = [Reading(datetime.now(UTC) - timedelta(seconds=5), temp, 95.0, 0, False)]

    async def broken_batch() -> None:
        async with conn.transaction():
            await evaluator(conn, hot, [])
            raise RuntimeError("the database connection broke before the commit")

    with pytest.raises(RuntimeError):
        await broken_batch()
    # the pipeline writes the same batch again: the evaluator must not think it saw it already
    async with conn.transaction():
        await evaluator(conn, hot, [])
    evaluator.committed()
    assert await _alarms(conn, temp, "HIGH") == [("HHA", "ACTIVE", 1, True)]
