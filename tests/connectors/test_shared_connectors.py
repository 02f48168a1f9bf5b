"""Several connectors share the load through a shared subscription: none stored twice or lost."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

import aiomqtt
import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from connectors.directory import PointDirectory
from connectors.mqtt import BrokerAccount, forget_session, run
from connectors.pipeline import IngestPipeline
from device_catalog import load_catalog
from dusttwin.settings import Settings
from tests.connectors.support import CC, gateway_with_points

GW = "GW32"
MESSAGES = 300


async def test_two_connectors_split_the_messages_and_store_each_once(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    settings: Settings,
    seeded: dict[str, str],
) -> None:
    creds = await gateway_with_points(api, tokens["admin"], GW, "DC92", ("HOPPER_TEMP",))
    pool = AsyncConnectionPool(seeded["DUSTTWIN_DATABASE_URL"], min_size=1, max_size=4, open=False)
    await pool.open()
    group = f"shared-{os.getpid()}"
    stop = asyncio.Event()
    pipelines, tasks, accounts = [], [], []
    for n in (1, 2):
        pipeline = IngestPipeline(pool, PointDirectory(pool, load_catalog()), timedelta(days=180))
        account = BrokerAccount(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_username,
            settings.mqtt_password.get_secret_value(),
            client_id=f"{group}-{n}",
            share_group=group,
        )
        pipelines.append(pipeline)
        accounts.append(account)
        tasks += [
            asyncio.create_task(pipeline.run(stop)),
            asyncio.create_task(run(account, pipeline, stop)),
        ]
    await asyncio.sleep(0.5)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    async with aiomqtt.Client(
        settings.mqtt_host, settings.mqtt_port, username=creds[0], password=creds[1]
    ) as gw:
        for i in range(MESSAGES):
            body = {
                "msg_id": f"s-{i}",
                "ts": (start + timedelta(milliseconds=500 * i)).isoformat(),
                "points": [{"code": "DC92-HOPPER_TEMP-1", "value": float(i)}],
            }
            await gw.publish(f"dust/v1/{CC}/{GW}/rts", json.dumps(body), qos=1)
    point = f"(SELECT id FROM things WHERE thing_id = 'dusttwin:point-{CC}-DC92-HOPPER_TEMP-1')"
    stored: tuple[int, int] | None = None
    for _ in range(100):
        with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
            row = conn.execute(
                f"SELECT count(*), count(DISTINCT value) FROM readings WHERE point_id = {point}"
            ).fetchone()
        stored = (int(row[0]), int(row[1])) if row else None
        if stored == (MESSAGES, MESSAGES):
            break
        await asyncio.sleep(0.2)
    handled = [p.handled[creds[0]] for p in pipelines]
    stop.set()
    await asyncio.gather(*tasks)
    for account in accounts:
        await forget_session(account)
    await pool.close()
    assert stored == (MESSAGES, MESSAGES)
    assert sum(handled) == MESSAGES
    assert min(handled) > 0  # both took a share
