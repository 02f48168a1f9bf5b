"""Gateways' data end to end: MQTT and HTTP into readings, twins, dead letters and replies.

Real broker, real database (the seeded demo region), a connector and the pipeline in-process.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import httpx
import pytest_asyncio
from psycopg_pool import AsyncConnectionPool

from connectors.directory import PointDirectory
from connectors.mqtt import BrokerAccount, forget_session, run
from connectors.pipeline import IngestPipeline
from device_catalog import load_catalog
from dusttwin.settings import Settings
from tests.api.demo_data import OWN

CC = OWN.record.credit_code
GW = "GW21"
POINTS = {
    "DC90-HOPPER_TEMP-1": "HOPPER_TEMP",
    "DC90-FAN_RUN-1": "FAN_RUN",
    "DC90-DP_IN_OUT-1": "DP_IN_OUT",
}
UNITS = {"HOPPER_TEMP": "°C", "FAN_RUN": "0/1", "DP_IN_OUT": "Pa"}


@pytest_asyncio.fixture(scope="module")
async def gateway(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]) -> tuple[str, str]:
    """A gateway of the demo's first enterprise with a system of three points of its own."""
    h = tokens["admin"]
    registered = await api.post(
        f"/api/v1/enterprises/{CC}/gateways", json={"gateway_id": GW}, headers=h
    )
    assert registered.status_code == 201, registered.text
    system = {
        "system_code": "DC90",
        "name": "90#除尘器",
        "collector": "dry",
        "collector_type": "bag",
    }
    assert (
        await api.post(f"/api/v1/enterprises/{CC}/systems", json=system, headers=h)
    ).status_code == 201
    for code, indicator in POINTS.items():
        body = {
            "point_code": code,
            "system_code": "DC90",
            "indicator": indicator,
            "unit": UNITS[indicator],
            "gateway_id": GW,
        }
        assert (
            await api.post(f"/api/v1/enterprises/{CC}/points", json=body, headers=h)
        ).status_code == 201
    return registered.json()["mqtt_username"], registered.json()["password"]


@pytest_asyncio.fixture(scope="module")
async def connector(
    settings: Settings, seeded: dict[str, str]
) -> AsyncIterator[AsyncConnectionPool]:
    """A connector and its pipeline on the seeded database, in a share group of the test's own."""
    pool = AsyncConnectionPool(seeded["DUSTTWIN_DATABASE_URL"], min_size=1, max_size=4, open=False)
    await pool.open()
    pipeline = IngestPipeline(pool, PointDirectory(pool, load_catalog()), timedelta(days=180))
    account = BrokerAccount(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_username,
        settings.mqtt_password.get_secret_value(),
        client_id=f"dusttwin-test-connector-{os.getpid()}",
        share_group=f"dusttwin-test-{os.getpid()}",
    )
    stop = asyncio.Event()
    writer = asyncio.create_task(pipeline.run(stop))
    receiver = asyncio.create_task(run(account, pipeline, stop))
    await asyncio.sleep(0.5)
    yield pool
    stop.set()
    await receiver
    await writer
    await forget_session(account)
    await pool.close()


async def _eventually(check: Callable[[], Any], within_s: float = 10) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.1)


async def _query(pool: AsyncConnectionPool, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cur = await conn.execute(sql, params)
        return list(await cur.fetchall())


def _point_id_sql(code: str) -> str:
    return f"(SELECT id FROM things WHERE thing_id = 'dusttwin:point-{CC}-{code}')"


async def _publish(settings: Settings, creds: tuple[str, str], kind: str, body: Any) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body)
    async with aiomqtt.Client(
        settings.mqtt_host, settings.mqtt_port, username=creds[0], password=creds[1]
    ) as c:
        await c.publish(f"dust/v1/{CC}/{GW}/{kind}", payload, qos=1)


async def test_readings_land_once_and_the_twins_follow(
    settings: Settings, gateway: tuple[str, str], connector: AsyncConnectionPool
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    message = {
        "msg_id": "t1-000001",
        "ts": now.isoformat(),
        "points": [
            {"code": "DC90-HOPPER_TEMP-1", "value": 41.5},
            {"code": "DC90-FAN_RUN-1", "value": True},
            {"code": "DC90-DP_IN_OUT-1", "value": 812},
        ],
    }
    await _publish(settings, gateway, "rts", message)
    stored = await _eventually(
        lambda: _query(
            connector,
            f"SELECT value FROM readings WHERE point_id = {_point_id_sql('DC90-HOPPER_TEMP-1')}",
        )
    )
    await _publish(settings, gateway, "rts", message)  # delivered again: stored once
    await _publish(
        settings, gateway, "rts", {**message, "msg_id": "t1-000002"}
    )  # same (point, time)
    counted = await _eventually(
        lambda: _query(
            connector,
            "SELECT sum(messages) FROM ingest_stats WHERE gateway = %s HAVING sum(messages) >= 3",
            gateway[0],
        )
    )
    rows = await _query(
        connector,
        f"SELECT count(*) FROM readings WHERE point_id IN ("
        f"{_point_id_sql('DC90-HOPPER_TEMP-1')}, {_point_id_sql('DC90-FAN_RUN-1')},"
        f" {_point_id_sql('DC90-DP_IN_OUT-1')})",
    )
    await _query(connector, "SELECT * FROM dt_detect_offline(now())")  # what the 30-s job does
    twin = await _query(
        connector,
        "SELECT features FROM things WHERE thing_id = %s",
        f"dusttwin:point-{CC}-DC90-HOPPER_TEMP-1",
    )
    gw = await _query(
        connector, "SELECT features FROM things WHERE thing_id = %s", f"dusttwin:gateway-{CC}-{GW}"
    )
    ent = await _query(
        connector, "SELECT features FROM things WHERE thing_id = %s", f"dusttwin:enterprise-{CC}"
    )
    assert stored == [(41.5,)]
    assert counted
    assert rows == [(3,)]
    assert twin[0][0]["measurement"]["properties"]["value"] == 41.5
    assert twin[0][0]["measurement"]["properties"]["quality"] == "GOOD"
    assert twin[0][0]["connectivity"]["properties"]["online"] is True
    assert gw[0][0]["connectivity"]["properties"]["online"] is True
    assert ent[0][0]["connectivity"]["properties"]["online"] is True


async def test_refusals_go_back_to_the_gateway_and_into_dead_letters(
    settings: Settings, gateway: tuple[str, str], connector: AsyncConnectionPool
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    replies: list[dict[str, Any]] = []
    async with aiomqtt.Client(
        settings.mqtt_host, settings.mqtt_port, username=gateway[0], password=gateway[1]
    ) as client:
        await client.subscribe(f"dust/v1/{CC}/{GW}/errors", qos=1)
        await client.publish(
            f"dust/v1/{CC}/{GW}/rts",
            json.dumps(
                {
                    "msg_id": "t2-1",
                    "ts": now.isoformat(),
                    "points": [
                        {"code": "DC90-HOPPER_TEMP-1", "value": 43.0},
                        {"code": "DC90-XYZ", "value": 1},
                    ],
                }
            ),
            qos=1,
        )
        await client.publish(f"dust/v1/{CC}/{GW}/rts", b"{broken", qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                replies.append(json.loads(message.payload))
                if len(replies) == 2:
                    break
    letters = await _query(
        connector,
        "SELECT whole, rejected, raw FROM ingest_rejections"
        " WHERE gateway = %s ORDER BY id DESC LIMIT 2",
        gateway[0],
    )
    kept = await _query(
        connector,
        f"SELECT value FROM readings WHERE time = %s AND point_id = "
        f"{_point_id_sql('DC90-HOPPER_TEMP-1')}",
        now,
    )
    assert replies[0]["msg_id"] == "t2-1"
    assert replies[0]["rejected"] == [{"index": 1, "code": "DC90-XYZ", "reason": "unknown point"}]
    assert replies[1]["rejected"][0]["reason"].startswith("not UTF-8 JSON")
    assert letters[0][0] is True
    assert bytes(letters[0][2]) == b"{broken"
    assert letters[1][1] == [{"index": 1, "code": "DC90-XYZ", "reason": "unknown point"}]
    assert kept == [(43.0,)]


async def test_backfill_out_of_order_is_stored_and_the_twin_keeps_the_newest(
    settings: Settings, gateway: tuple[str, str], connector: AsyncConnectionPool
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)  # a second of its own
    code = "DC90-DP_IN_OUT-1"
    await _publish(
        settings, gateway, "rts", {"ts": now.isoformat(), "points": [{"code": code, "value": 900}]}
    )
    for minutes, value in ((60, 700), (120, 600)):  # buffered data arriving newest first
        ts = (now - timedelta(minutes=minutes)).isoformat()
        await _publish(
            settings, gateway, "rts", {"ts": ts, "points": [{"code": code, "value": value}]}
        )
    rows = await _eventually(lambda: _rows_at_least(connector, code, now, 3))
    twin = await _query(
        connector,
        "SELECT features #>> '{measurement,properties,value}' FROM things WHERE thing_id = %s",
        f"dusttwin:point-{CC}-{code}",
    )
    pending = await _query(
        connector,
        "SELECT count(*) FROM rollup_pending WHERE hour <= %s",
        now - timedelta(minutes=60),
    )
    assert [r[0] for r in rows] == [600, 700, 900]
    assert twin == [("900",)]
    assert pending[0][0] >= 1  # the late hours' rollups are recomputed


async def _rows_at_least(
    pool: AsyncConnectionPool, code: str, now: datetime, n: int
) -> list[tuple[Any, ...]]:
    times = [now - timedelta(minutes=m) for m in (0, 60, 120)]
    rows = await _query(
        pool,
        f"SELECT value FROM readings WHERE point_id = {_point_id_sql(code)}"
        " AND time = ANY(%s) ORDER BY time",
        times,
    )
    return rows if len(rows) >= n else []


async def test_http_ingest_answers_like_the_protocol_says(
    api: httpx.AsyncClient, gateway: tuple[str, str], tokens: dict[str, dict[str, str]]
) -> None:
    url = f"/api/v1/ingest/{CC}/{GW}/rts"
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    body = {
        "msg_id": "h-1",
        "ts": now.isoformat(),
        "points": [
            {"code": "DC90-HOPPER_TEMP-1", "value": 55},
            {"code": "DC90-FAN_RUN-1", "value": "on"},
        ],
    }
    ok = await api.post(url, json=body, auth=gateway)
    wrong_password = await api.post(url, json=body, auth=(gateway[0], "nope-nope"))
    no_auth = await api.post(url, json=body)
    other_path = await api.post(f"/api/v1/ingest/{CC}/GW01/rts", json=body, auth=gateway)
    malformed = await api.post(url, content=b"{nope", auth=gateway)
    oversized = await api.post(url, content=b"x" * (256 * 1024 + 1), auth=gateway)
    diagnostics = await api.get(
        f"/api/v1/gateways/{CC}/{GW}/diagnostics", headers=tokens["integrator"]
    )
    outsider = await api.get(f"/api/v1/gateways/{CC}/{GW}/diagnostics", headers=tokens["jiading"])
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "accepted": 1,
        "rejected": [
            {
                "index": 1,
                "code": "DC90-FAN_RUN-1",
                "reason": "value of type str; expected a number or boolean",
            }
        ],
    }
    assert wrong_password.status_code == 401
    assert no_auth.status_code == 401
    assert other_path.status_code == 403
    assert malformed.status_code == 400
    assert oversized.status_code == 413
    d = diagnostics.json()
    assert diagnostics.status_code == 200
    assert d["accepted_1h"] >= 1
    assert d["rejected_1h"] >= 2
    assert d["last_error"]["kind"] == "rts"
    assert d["last_error"]["rejected"][0]["reason"]
    assert outsider.status_code == 404


async def test_a_revoked_gateway_is_refused_over_http(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["admin"]
    creds = (
        await api.post(f"/api/v1/enterprises/{CC}/gateways", json={"gateway_id": "GW22"}, headers=h)
    ).json()
    await api.delete(f"/api/v1/enterprises/{CC}/gateways/GW22", headers=h)
    response = await api.post(
        f"/api/v1/ingest/{CC}/GW22/heartbeat",
        json={},
        auth=(creds["mqtt_username"], creds["password"]),
    )
    assert response.status_code == 401
