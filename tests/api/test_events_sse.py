"""Live events over server-sent events, from a real API process: live, filtered, resumable."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from tests.connectors.support import CC, gateway_with_points
from tests.helpers import free_port


@pytest.fixture(scope="module")
def api_server(seeded: dict[str, str]) -> Iterator[str]:
    """``dusttwin serve api`` over the seeded database, on a port of its own."""
    port = free_port()
    env = {**os.environ, **seeded, "DUSTTWIN_API_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dusttwin.cli", "serve", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code in (200, 503):
                break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


async def _events(response: httpx.Response, wanted: int, thing: str) -> list[dict[str, Any]]:
    """Read SSE frames until ``wanted`` events about ``thing`` have come."""
    found: list[dict[str, Any]] = []
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            event = json.loads(line[len("data: ") :])
            if event["thingId"] == thing:
                found.append(event)
                if len(found) == wanted:
                    return found
    return found


async def test_an_alarm_reaches_a_listening_enterprise_and_a_reconnect_misses_nothing(
    api_server: str, api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    gateway = await gateway_with_points(api, tokens["admin"], "GW65", "DC98", ("HOPPER_TEMP",))
    thing = f"dusttwin:point-{CC}-DC98-HOPPER_TEMP-1"
    qiye = tokens["qiye-310113"]
    async with httpx.AsyncClient(base_url=api_server, timeout=30) as client:
        async with client.stream("GET", "/api/v1/events", headers=qiye) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            listening = asyncio.create_task(_events(stream, 1, thing))
            body = {
                "msg_id": "sse-1",
                "ts": (datetime.now(UTC) - timedelta(seconds=2)).isoformat(),
                "points": [{"code": "DC98-HOPPER_TEMP-1", "value": 99}],
            }
            posted = await api.post(f"/api/v1/ingest/{CC}/GW65/rts", json=body, auth=gateway)
            assert posted.json() == {"accepted": 1, "rejected": []}
            live = await asyncio.wait_for(listening, 20)
        assert [(e["kind"], e["data"]["level"]) for e in live] == [("alarm.raised", "HHA")]

        # the client was away: resuming after the event before it gives it again, in full
        resume = {**qiye, "Last-Event-ID": str(live[0]["id"] - 1)}
        async with client.stream("GET", "/api/v1/events", headers=resume) as stream:
            replayed = await asyncio.wait_for(_events(stream, 1, thing), 20)
        assert replayed == live

        # another district's regulator never sees it, even replaying the last minutes
        async with client.stream(
            "GET",
            "/api/v1/events",
            params={"replay_s": 600},
            headers={**tokens["jiading"], "Last-Event-ID": "0"},
        ) as stream:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(_events(stream, 1, thing), 3)


async def test_events_need_a_login(api_server: str) -> None:
    async with httpx.AsyncClient(base_url=api_server, timeout=10) as client:
        reply = await client.get("/api/v1/events")
    assert reply.status_code == 401


async def test_a_listening_client_holds_no_transaction_open(
    api_server: str, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> None:
    """A stream lasts hours: an open transaction under it would stop vacuum database-wide."""
    dsn = seeded["DUSTTWIN_DATABASE_URL"]
    async with (
        httpx.AsyncClient(base_url=api_server, timeout=30) as client,
        client.stream("GET", "/api/v1/events", headers=tokens["baoshan"]),
    ):
        await asyncio.sleep(3)
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%' AND now() - xact_start > '2 s'"
            )
            row = await cur.fetchone()
    assert row == (0,)
