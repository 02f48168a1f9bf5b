"""The connector as a process: killed with -9 between receipt and commit, it loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import aiomqtt
import httpx
import psycopg
import pytest

from connectors.mqtt import BrokerAccount, forget_session
from dusttwin.settings import Settings
from tests.connectors.support import CC, gateway_with_points

GW = "GW31"


class ConnectorProcess:
    """``dusttwin serve connector`` in a process of its own, with its own session and group."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dusttwin.cli", "serve", "connector"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        for line in self.proc.stderr:  # wait until it has subscribed
            if "subscribed to" in line or time.monotonic() > deadline:
                break

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def connector_env(settings: Settings, seeded: dict[str, str]) -> Iterator[dict[str, str]]:
    name = f"kill-{os.getpid()}"
    env = {**os.environ, **seeded, "DUSTTWIN_CONNECTOR_ID": name, "DUSTTWIN_MQTT_SHARE_GROUP": name}
    yield env
    account = BrokerAccount(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_username,
        settings.mqtt_password.get_secret_value(),
        client_id=f"dusttwin-connector-{name}",
    )
    _forget(account)


def _forget(account: BrokerAccount) -> None:
    import threading

    thread = threading.Thread(target=lambda: asyncio.run(forget_session(account)))
    thread.start()
    thread.join()


async def test_kill_9_between_receipt_and_commit_loses_nothing(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    settings: Settings,
    seeded: dict[str, str],
    connector_env: dict[str, str],
) -> None:
    creds = await gateway_with_points(api, tokens["admin"], GW, "DC91", ("HOPPER_TEMP",))
    connector = ConnectorProcess(connector_env)
    await asyncio.to_thread(connector.start)
    when = datetime.now(UTC).replace(microsecond=0)
    point = f"(SELECT id FROM things WHERE thing_id = 'dusttwin:point-{CC}-DC91-HOPPER_TEMP-1')"
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as blocker:
        # hold the writer at its first statement: the message is received, not committed
        blocker.execute("LOCK TABLE ingest_messages IN ACCESS EXCLUSIVE MODE")
        async with aiomqtt.Client(
            settings.mqtt_host, settings.mqtt_port, username=creds[0], password=creds[1]
        ) as gw:
            await gw.publish(
                f"dust/v1/{CC}/{GW}/rts",
                json.dumps(
                    {
                        "msg_id": "kill-1",
                        "ts": when.isoformat(),
                        "points": [{"code": "DC91-HOPPER_TEMP-1", "value": 66.6}],
                    }
                ),
                qos=1,
            )
        await asyncio.sleep(2)
        connector.kill9()
        blocker.rollback()
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        before = conn.execute(f"SELECT count(*) FROM readings WHERE point_id = {point}").fetchone()
    await asyncio.to_thread(connector.start)  # same session: the broker sends the message again
    stored = None
    for _ in range(100):
        with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
            stored = conn.execute(
                f"SELECT value, count(*) OVER () FROM readings WHERE point_id = {point}"
            ).fetchall()
        if stored:
            break
        await asyncio.sleep(0.2)
    connector.stop()
    assert before == (0,)
    assert stored == [(66.6, 1)]
