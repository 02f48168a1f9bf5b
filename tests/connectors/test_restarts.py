"""Restarts during ingest: the database or the broker goes away and comes back; nothing is lost.

The services restarted are private ones (tests/connectors/private_services.py), so the shared
services other test sessions use are never disturbed. ``dusttwin serve connector`` runs as a child
process while a gateway publishes QoS-1 messages steadily; the service is stopped and started
again; then every reading is stored exactly once, the connector still runs, and it logged the
outage once and the recovery once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from connectors.directory import PointDirectory
from connectors.pipeline import IngestPipeline, RawMessage
from device_catalog import load_catalog
from dusttwin.migrate import migrate
from tests.api.demo_data import OWN
from tests.connectors.private_services import PrivateMosquitto, PrivatePostgres, free_port
from twins.gateways import register_gateway
from twins.records import create_record
from twins.registry import ENTERPRISE, KINDS, RegistryValidator
from twins.schemas import GatewayCreate, PointCreate, SystemCreate
from twins.scope import Scope
from twins.store import PostgresTwinStore

CC = OWN.record.credit_code
GW = "GW41"
SYSTEM = "DC41"
VALUES: dict[str, float] = {"HOPPER_TEMP": 55.5, "FAN_RUN": 1, "DP_IN_OUT": 800.0}
UNITS = {"HOPPER_TEMP": "°C", "FAN_RUN": "0/1", "DP_IN_OUT": "Pa"}
MESSAGES = 300
STOP_AFTER = 100  # messages acknowledged by the broker before the service is stopped
DOWN_S = 3.0  # how long the service stays down while the gateway keeps publishing
PACE_S = 0.02  # between two publishes: steady traffic before, during and after the outage

DB_LOST = "ingest: database unreachable"
DB_BACK = "ingest: database reachable again"
BROKER_LOST = "connector: broker connection lost or refused"
BROKER_BACK = "connector: broker reachable again"
SUBSCRIBED = "subscribed to"


class NoBrokerAccounts:
    """Gateway credentials nobody needs: the private broker has one account for everyone."""

    async def issue(self, username: str, password: str, topic_prefix: str) -> None:
        """Nothing to issue."""

    async def revoke(self, username: str) -> None:
        """Nothing to revoke."""

    async def accepts(self, username: str, password: str) -> bool:
        """Nothing is checked."""
        return True


async def register_plant(dsn: str) -> dict[str, int]:
    """Migrate the database and register the gateway with its points; returns their ids."""
    await asyncio.to_thread(migrate, dsn, "off")
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        store = PostgresTwinStore(pool, RegistryValidator(load_catalog()))
        admin = Scope.admin()
        await create_record(store, admin, ENTERPRISE, OWN.record)
        system = SystemCreate(
            system_code=SYSTEM, name=f"{SYSTEM}#除尘器", collector="dry", collector_type="bag"
        )
        await create_record(store, admin, KINDS["system"], system, credit_code=CC)
        gateway = GatewayCreate(gateway_id=GW, name="数采网关", upload_period_s=10)
        await register_gateway(store, admin, CC, gateway, NoBrokerAccounts())
        for indicator in VALUES:
            point = PointCreate(
                point_code=f"{SYSTEM}-{indicator}-1",
                system_code=SYSTEM,
                indicator=indicator,
                unit=UNITS[indicator],
                gateway_id=GW,
            )
            await create_record(store, admin, KINDS["point"], point, credit_code=CC)
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT attributes ->> 'point_code', id FROM things WHERE kind = 'point'"
            )
            return {str(code): int(point_id) for code, point_id in await cur.fetchall()}


def messages(
    points: dict[str, int], count: int = MESSAGES
) -> tuple[list[bytes], set[tuple[int, datetime]]]:
    """The gateway's rts messages, and the (point, time) of every reading they carry."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=8)
    payloads: list[bytes] = []
    expected: set[tuple[int, datetime]] = set()
    for i in range(count):
        ts = start + timedelta(seconds=i)
        body = {
            "msg_id": f"restart-{i}",
            "ts": ts.isoformat(),
            "points": [
                {"code": f"{SYSTEM}-{indicator}-1", "value": value}
                for indicator, value in VALUES.items()
            ],
        }
        payloads.append(json.dumps(body).encode())
        expected |= {(points[f"{SYSTEM}-{indicator}-1"], ts) for indicator in VALUES}
    return payloads, expected


class Gateway:
    """Publishes QoS 1 in order, steadily; what the broker did not acknowledge is sent again."""

    def __init__(
        self, broker: PrivateMosquitto, may_connect: Callable[[], bool] = lambda: True
    ) -> None:
        self.broker = broker
        self.may_connect = may_connect
        self.acknowledged = 0
        self.sessions = 0  # connections that were established

    async def publish(self, payloads: list[bytes]) -> None:
        """Publish every payload; returns once the broker acknowledged the last one."""
        topic = f"dust/v1/{CC}/{GW}/rts"
        while self.acknowledged < len(payloads):
            await until(self.may_connect, 60, lambda: "the gateway was never let in again")
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.broker.port,
                    username=self.broker.username,
                    password=self.broker.password,
                    identifier=f"restarts-gateway-{os.getpid()}",
                    protocol=aiomqtt.ProtocolVersion.V311,
                    clean_session=False,
                    timeout=5,
                ) as client:
                    self.sessions += 1
                    while self.acknowledged < len(payloads):
                        # a message whose PUBACK never came is sent again (same msg_id): the
                        # platform stores it once
                        await client.publish(topic, payloads[self.acknowledged], qos=1, timeout=5)
                        self.acknowledged += 1
                        await asyncio.sleep(PACE_S)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)


class Connector:
    """``dusttwin serve connector`` in a child process, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it has subscribed."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dusttwin.cli", "serve", "connector"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while SUBSCRIBED not in self.log_text():
            assert self.proc.poll() is None, f"the connector exited:\n{self.log_text()}"
            assert time.monotonic() < deadline, (
                f"the connector never subscribed:\n{self.log_text()}"
            )
            time.sleep(0.1)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM (it finishes writing what it received), SIGKILL if it does not exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_text(self) -> str:
        """What it logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def lines_with(self, text: str) -> list[str]:
        """The lines of its log that contain ``text``."""
        return [line for line in self.log_text().splitlines() if text in line]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    """A running private Mosquitto, stopped at the end whatever happened."""
    instance = PrivateMosquitto(
        tmp_path / "mosquitto", free_port(), "restarts-admin", secrets.token_urlsafe(12)
    )
    instance.configure()
    try:
        instance.start()
        yield instance
    finally:
        instance.stop(signal.SIGKILL)


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL cluster, removed at the end whatever happened."""
    instance = PrivatePostgres(free_port())
    try:
        instance.init()
        instance.start()
        yield instance
    finally:
        instance.destroy(keep_log_in=tmp_path)


@pytest.fixture
def connector_for(tmp_path: Path) -> Iterator[Callable[[PrivateMosquitto, str], Connector]]:
    """Makes connectors on a private broker and a database; each is stopped at the end."""
    made: list[Connector] = []

    def make(broker: PrivateMosquitto, dsn: str) -> Connector:
        name = f"restarts-{os.getpid()}-{len(made)}"
        env = {
            **os.environ,
            "DUSTTWIN_DATABASE_URL": dsn,
            "DUSTTWIN_MQTT_HOST": "127.0.0.1",
            "DUSTTWIN_MQTT_PORT": str(broker.port),
            "DUSTTWIN_MQTT_USERNAME": broker.username,
            "DUSTTWIN_MQTT_PASSWORD": broker.password,
            "DUSTTWIN_MQTT_TLS": "false",
            "DUSTTWIN_CONNECTOR_ID": name,
            "DUSTTWIN_MQTT_SHARE_GROUP": name,
            "DUSTTWIN_LOG_LEVEL": "INFO",
        }
        connector = Connector(env, tmp_path / f"{name}.log")
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.stop()


async def until(
    condition: Callable[[], bool | Awaitable[bool]], within_s: float, failure: Callable[[], str]
) -> None:
    """Poll ``condition`` until it holds; fail with ``failure()`` after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        held = condition()
        if held if isinstance(held, bool) else await held:
            return
        if time.monotonic() > deadline:
            pytest.fail(failure())
        await asyncio.sleep(0.2)


async def stored(dsn: str) -> list[tuple[int, datetime]]:
    """Every (point, time) in the readings table, duplicates included."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT point_id, time FROM readings")
        return [(int(p), t) for p, t in await cur.fetchall()]


async def dead_letters(dsn: str) -> list[tuple[Any, ...]]:
    """The refusals kept as dead letters (none expected)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT * FROM ingest_rejections")
        return list(await cur.fetchall())


async def ingest_across(
    restart: Callable[[], Awaitable[None]],
    gateway: Gateway,
    payloads: list[bytes],
    expected: set[tuple[int, datetime]],
    dsn: str,
    connector: Connector,
) -> None:
    """Publish everything, restarting a service in the middle; wait until all of it is stored."""
    publishing = asyncio.create_task(gateway.publish(payloads))
    try:
        await until(
            lambda: gateway.acknowledged >= STOP_AFTER or publishing.done(),
            30,
            lambda: f"the broker acknowledged only {gateway.acknowledged} messages",
        )
        await restart()
        await until(
            publishing.done,
            60,
            lambda: (
                f"the broker acknowledged {gateway.acknowledged} of {len(payloads)} messages; "
                f"connector log:\n{connector.log_text()[-3000:]}"
            ),
        )
        publishing.result()
    finally:
        publishing.cancel()
    await stored_once(dsn, expected, connector)


async def stored_once(dsn: str, expected: set[tuple[int, datetime]], connector: Connector) -> None:
    """Wait until every expected reading is stored; then check each is there exactly once."""
    rows: list[tuple[int, datetime]] = []

    async def all_stored() -> bool:
        nonlocal rows
        try:
            rows = await stored(dsn)
        except psycopg.OperationalError:
            return False
        return set(rows) >= expected

    await until(
        all_stored,
        45,
        lambda: (
            f"{len(expected - set(rows))} of {len(expected)} readings missing; "
            f"connector log:\n{connector.log_text()[-3000:]}"
        ),
    )
    assert len(rows) == len(expected), "a reading was stored twice"
    assert set(rows) == expected
    assert await dead_letters(dsn) == []


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_database_restart_during_ingest_loses_nothing(
    mode: str,
    postgres: PrivatePostgres,
    broker: PrivateMosquitto,
    connector_for: Callable[[PrivateMosquitto, str], Connector],
) -> None:
    """``pg_ctl stop`` (fast: sessions terminated; immediate: a crash) and start mid-stream."""
    points = await register_plant(postgres.dsn)
    payloads, expected = messages(points)
    connector = connector_for(broker, postgres.dsn)
    await asyncio.to_thread(connector.start)

    async def restart() -> None:
        await asyncio.to_thread(postgres.stop, mode)
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(postgres.start)

    await ingest_across(restart, Gateway(broker), payloads, expected, postgres.dsn, connector)
    assert connector.alive(), connector.log_text()
    assert len(connector.lines_with(DB_LOST)) == 1, connector.log_text()
    assert len(connector.lines_with(DB_BACK)) == 1, connector.log_text()


async def test_a_connector_started_without_its_database_waits_for_it(
    postgres: PrivatePostgres,
    broker: PrivateMosquitto,
    connector_for: Callable[[PrivateMosquitto, str], Connector],
) -> None:
    """Started while the database is down, the connector receives, waits, and then stores."""
    points = await register_plant(postgres.dsn)
    payloads, expected = messages(points, count=20)
    await asyncio.to_thread(postgres.stop, "fast")
    connector = connector_for(broker, postgres.dsn)
    await asyncio.to_thread(connector.start)  # it subscribes without the database
    await asyncio.wait_for(Gateway(broker).publish(payloads), 30)
    await asyncio.sleep(DOWN_S)
    assert connector.alive(), connector.log_text()
    await asyncio.to_thread(postgres.start)
    await stored_once(postgres.dsn, expected, connector)
    assert connector.alive(), connector.log_text()


async def test_a_broker_restart_during_ingest_loses_nothing_of_qos_1(
    fresh_database: Callable[[str], str],
    broker: PrivateMosquitto,
    connector_for: Callable[[PrivateMosquitto, str], Connector],
) -> None:
    """The broker stopped with SIGTERM and started again mid-stream, with messages in flight."""
    dsn = fresh_database("dusttwin_test_restarts")
    points = await register_plant(dsn)
    payloads, expected = messages(points)
    connector = connector_for(broker, dsn)
    await asyncio.to_thread(connector.start)
    # The gateway comes back only once the connector has subscribed again: Mosquitto 2.0.11
    # (Debian 12) restores the connector's session but not its shared subscriptions, so what is
    # published before then has no subscriber and the broker drops it (connectors/mqtt.py keeps
    # that window short; only a fixed broker closes it).
    gateway = Gateway(broker, lambda: len(connector.lines_with(SUBSCRIBED)) > gateway.sessions)

    async def restart() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as blocker:
            # hold the writer: what arrives now is received but neither committed nor
            # acknowledged when the broker stops, so the broker must keep it and send it again
            await blocker.execute("LOCK TABLE ingest_messages IN ACCESS EXCLUSIVE MODE")
            await asyncio.sleep(0.5)
            # SIGTERM: Mosquitto saves its sessions, their queued and unacknowledged messages, as
            # it exits. After SIGKILL only its last autosave survives, and what it acknowledged
            # since then is lost by the broker itself, whatever the platform does.
            await asyncio.to_thread(broker.stop, signal.SIGTERM)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(broker.start)
            await blocker.rollback()

    await ingest_across(restart, gateway, payloads, expected, dsn, connector)
    assert gateway.sessions >= 2  # the gateway did see the broker go
    resent = [line for line in broker.log_text().splitlines() if "(d1, q1" in line]
    assert resent, "nothing was in flight to the connector when the broker stopped"
    assert connector.alive(), connector.log_text()
    assert len(connector.lines_with(BROKER_LOST)) == 1, connector.log_text()
    assert len(connector.lines_with(BROKER_BACK)) == 1, connector.log_text()


async def test_a_database_outage_met_by_a_directory_lookup_is_waited_out(
    postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """The outage is met by the gateway lookup, not by a write: the writer holds on, not dies."""
    points = await register_plant(postgres.dsn)
    payloads, _ = messages(points)
    pool = AsyncConnectionPool(postgres.dsn, min_size=1, max_size=4, open=False)
    await pool.open(wait=True)
    # no caching: every batch looks its gateway up first, so that lookup meets the outage
    pipeline = IngestPipeline(
        pool, PointDirectory(pool, load_catalog(), ttl_s=0), timedelta(days=180)
    )
    stop = asyncio.Event()
    writer = asyncio.create_task(pipeline.run(stop))
    try:
        before = await pipeline.submit(RawMessage(CC, GW, "rts", payloads[0], "mqtt"))
        assert (await asyncio.wait_for(before, 15)).accepted == len(VALUES)
        await asyncio.to_thread(postgres.stop, "fast")
        during = await pipeline.submit(RawMessage(CC, GW, "rts", payloads[1], "mqtt"))
        await until(
            lambda: DB_LOST in caplog.text or writer.done(),
            15,
            lambda: f"no outage logged:\n{caplog.text}",
        )
        assert not writer.done(), f"the writer died: {writer.exception()!r}"
        await asyncio.to_thread(postgres.start)
        assert (await asyncio.wait_for(during, 30)).accepted == len(VALUES)
        assert caplog.text.count(DB_LOST) == 1
        assert caplog.text.count(DB_BACK) == 1
    finally:
        stop.set()
        await asyncio.gather(asyncio.wait_for(writer, 30), return_exceptions=True)
        await pool.close()
