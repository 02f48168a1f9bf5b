"""Maintenance filings: which alarms a window silences, and the windows that are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio

from risk.cleaning import PlanSpec, create_plan, validate_plan
from risk.filings import (
    FilingOverlapError,
    FilingRules,
    InvalidFilingError,
    Window,
    active_windows,
    approve_filing,
    check_window,
    file_filing,
    reject_filing,
    suppressed,
    withdraw_filing,
)
from tests.helpers import made_up_credit_code
from twins.scope import Scope

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
RULES = FilingRules()
CC = made_up_credit_code("FLR", 1)


# ---------------------------------------------------------------- pure


def test_a_plant_window_silences_every_system_and_a_system_window_only_its_own() -> None:
    plant = [Window(None, T0, T0 + 4 * H)]
    dc01 = [Window("DC01", T0, T0 + 4 * H)]
    assert suppressed("DC01", T0 + H, plant)
    assert suppressed("DC02", T0 + H, plant)
    assert suppressed("DC01", T0 + H, dc01)
    assert not suppressed("DC02", T0 + H, dc01)


def test_alarms_outside_the_window_are_raised_the_end_being_exclusive() -> None:
    windows = [Window("DC01", T0, T0 + 4 * H)]
    assert suppressed("DC01", T0, windows)
    assert not suppressed("DC01", T0 - timedelta(seconds=1), windows)
    assert not suppressed("DC01", T0 + 4 * H, windows)
    assert not suppressed("DC01", T0 + H, [])


def test_an_explosion_device_firing_is_raised_even_during_maintenance() -> None:
    windows = [Window(None, T0, T0 + 4 * H)]
    assert suppressed("DC01", T0 + H, windows, level="HHA")
    assert not suppressed("DC01", T0 + H, windows, level="EXPLOSION")


@pytest.mark.parametrize(
    ("starts", "ends", "why"),
    [
        (T0 - 2 * H, T0 + H, "past"),
        (T0 - 3 * H, T0 - H, "past"),
        (T0 + 2 * H, T0 + H, "ends before"),
        (T0 + H, T0 + H, "ends before"),
        (T0 + H, T0 + H + timedelta(days=31), "at most 30 days"),
    ],
)
def test_a_window_in_the_past_reversed_or_too_long_is_refused(
    starts: datetime, ends: datetime, why: str
) -> None:
    with pytest.raises(InvalidFilingError, match=why):
        check_window(starts, ends, T0, RULES)


def test_a_window_starting_now_or_a_few_minutes_ago_is_accepted() -> None:
    check_window(T0, T0 + H, T0, RULES)
    check_window(T0 - timedelta(minutes=5), T0 + H, T0, RULES)
    check_window(T0 + H, T0 + H + timedelta(days=30), T0, RULES)


# ---------------------------------------------------------------- in the database


@pytest_asyncio.fixture(scope="module")
async def plant(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]) -> str:
    """A Baoshan enterprise of its own with two dry systems, DC01 and DC02."""
    admin = tokens["admin"]
    body = {
        "credit_code": CC,
        "name": "上海报备测试木业有限公司",
        "adcode": "310113",
        "dust_workers": 12,
        "dust_types": ["wood"],
        "location": {"lon": 121.45, "lat": 31.40},
    }
    made = await api.post("/api/v1/enterprises", json=body, headers=admin)
    assert made.status_code == 201, made.text
    for code in ("DC01", "DC02"):
        system = {
            "system_code": code,
            "name": f"{code}#",
            "collector": "dry",
            "collector_type": "bag",
        }
        made = await api.post(f"/api/v1/enterprises/{CC}/systems", json=system, headers=admin)
        assert made.status_code == 201, made.text
    return CC


@pytest_asyncio.fixture
async def conn(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection to the seeded database."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as c:
        yield c


OWNER = Scope.enterprise("qiye-flr", CC)


async def _file(
    conn: psycopg.AsyncConnection[Any],
    system_code: str | None,
    starts: datetime,
    ends: datetime,
    now: datetime,
) -> dict[str, Any]:
    return await file_filing(
        conn,
        OWNER,
        CC,
        system_code=system_code,
        kind="maintenance",
        starts_at=starts,
        ends_at=ends,
        reason="更换滤袋",
        now=now,
        rules=RULES,
    )


async def test_an_overlapping_window_of_the_same_system_is_refused_another_system_is_not(
    conn: psycopg.AsyncConnection[Any], plant: str
) -> None:
    now = datetime.now(UTC)
    first = await _file(conn, "DC01", now + 10 * H, now + 14 * H, now)
    with pytest.raises(FilingOverlapError, match=f"filing {first['id']}"):
        await _file(conn, "DC01", now + 13 * H, now + 16 * H, now)
    other_system = await _file(conn, "DC02", now + 13 * H, now + 16 * H, now)
    # a plant-wide window may overlap a system's: it covers that system anyway
    whole_plant = await _file(conn, None, now + 12 * H, now + 13 * H, now)
    assert first["state"] == other_system["state"] == whole_plant["state"] == "APPROVED"
    # once the first is withdrawn its time is free again
    await withdraw_filing(conn, OWNER, first["id"], now, "推迟")
    again = await _file(conn, "DC01", now + 13 * H, now + 16 * H, now)
    assert again["state"] == "APPROVED"
    for f in (other_system, whole_plant, again):
        await withdraw_filing(conn, OWNER, f["id"], now, None)


async def test_a_window_in_the_past_is_refused_and_nothing_is_stored(
    conn: psycopg.AsyncConnection[Any], plant: str
) -> None:
    now = datetime.now(UTC)
    count = "SELECT count(*) FROM maintenance_filings WHERE credit_code = %s"
    before = await (await conn.execute(count, (CC,))).fetchone()
    with pytest.raises(InvalidFilingError, match="past"):
        await _file(conn, "DC01", now - 5 * H, now - 2 * H, now)
    assert await (await conn.execute(count, (CC,))).fetchone() == before


async def test_a_window_for_an_unregistered_system_is_refused(
    conn: psycopg.AsyncConnection[Any], plant: str
) -> None:
    now = datetime.now(UTC)
    with pytest.raises(InvalidFilingError, match="DC99"):
        await _file(conn, "DC99", now + H, now + 2 * H, now)


async def test_active_windows_hold_only_approved_windows_in_force(
    conn: psycopg.AsyncConnection[Any], plant: str
) -> None:
    now = datetime.now(UTC)
    running = await _file(conn, "DC02", now - timedelta(minutes=1), now + 2 * H, now)
    later = await _file(conn, None, now + 5 * H, now + 6 * H, now)
    windows = await active_windows(conn, [CC, "91310113MA1XXXXXX0"], now)
    assert windows == {CC: [Window("DC02", running["starts_at"], running["ends_at"])]}
    assert suppressed("DC02", now, windows[CC])
    assert not suppressed("DC01", now, windows[CC])
    # a batch spanning the next 6 hours sees both
    spanning = await active_windows(conn, [CC], now, now + 6 * H)
    assert [w.system_code for w in spanning[CC]] == ["DC02", None]
    # rejected by the district: alarms are raised again at once
    await reject_filing(conn, Scope.regulator("baoshan", "310113"), running["id"], now, "未说明")
    assert await active_windows(conn, [CC], now) == {}
    await withdraw_filing(conn, OWNER, later["id"], now, None)


async def test_offline_time_inside_an_approved_plant_window_is_excused_in_sql(
    conn: psycopg.AsyncConnection[Any], plant: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    plant_wide = await _file(conn, None, now + 20 * H, now + 22 * H, now)
    system_only = await _file(conn, "DC01", now + 21 * H, now + 24 * H, now)
    day = (now + 19 * H, now + 43 * H)
    cur = await conn.execute(
        "SELECT dt_range_seconds(dt_filed_ranges(%s, NULL, %s, %s)),"
        " dt_range_seconds(dt_filed_ranges(%s, 'DC01', %s, %s))",
        (CC, *day, CC, *day),
    )
    # the plant: its own 2 h; DC01: the union of both windows, 20:00 to 24:00
    assert await cur.fetchone() == (2 * 3600.0, 4 * 3600.0)
    for f in (plant_wide, system_only):
        await withdraw_filing(conn, OWNER, f["id"], now, None)


async def test_an_approved_maintenance_calls_the_around_maintenance_cleaning_plan(
    conn: psycopg.AsyncConnection[Any], plant: str
) -> None:
    """检修前后清扫: a plan "around maintenance" gets a task before the window and one after it
    when the maintenance is approved — on filing (auto-approval) or by the district later."""
    now = datetime.now(UTC)
    spec = validate_plan(
        PlanSpec(
            area="DC01 灰斗检修口",
            zone=21,
            frequency="maintenance",
            method="explosion_proof_vacuum",
            responsible="王工",
            system_code="DC01",
        )
    )
    await create_plan(conn, Scope.admin(), CC, spec, now)
    tasks = "SELECT kind, ref FROM cleaning_tasks WHERE credit_code = %s ORDER BY window_start"
    auto = await _file(conn, "DC01", now + 30 * H, now + 32 * H, now)
    shutdown = await file_filing(
        conn,
        OWNER,
        CC,
        system_code="DC01",
        kind="shutdown",
        starts_at=now + 40 * H,
        ends_at=now + 42 * H,
        reason="停产",
        now=now,
        rules=RULES,
    )
    waiting = await file_filing(
        conn,
        OWNER,
        CC,
        system_code="DC01",
        kind="maintenance",
        starts_at=now + 50 * H,
        ends_at=now + 52 * H,
        reason="更换滤袋",
        now=now,
        rules=FilingRules(auto_approve=False),
    )
    before_approval = await (await conn.execute(tasks, (CC,))).fetchall()
    await approve_filing(conn, Scope.regulator("baoshan", "310113"), waiting["id"], now, None)
    after_approval = await (await conn.execute(tasks, (CC,))).fetchall()
    first = [
        ("before_maintenance", f"filing-{auto['id']}"),
        ("after_maintenance", f"filing-{auto['id']}"),
    ]
    assert before_approval == first  # a shutdown cleans nothing; a filing waiting neither
    assert after_approval == [
        *first,
        ("before_maintenance", f"filing-{waiting['id']}"),
        ("after_maintenance", f"filing-{waiting['id']}"),
    ]
    for f in (auto, shutdown, waiting):
        await withdraw_filing(conn, OWNER, f["id"], now, None)
