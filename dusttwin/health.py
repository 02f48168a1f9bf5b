"""Checks of every service the platform runs on, shared by ``dusttwin doctor`` and ``/healthz``.

A check never raises: an unreachable service is a state to report, with what to do about it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aiomqtt
import psycopg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dusttwin.db import TIMESCALEDB_VERSION_SQL, TIMESERIES_MODE_SQL
from dusttwin.migrate import load_migrations
from dusttwin.settings import Settings

SERVICES_FIX = "run `deploy/local/services.sh up` (as root it installs and starts what is missing)"
TIMEOUT_S = 3.0


@dataclass
class Check:
    """The state of one service as a user needs to see it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    latency_ms: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class HealthReport:
    """Every check, and whether the platform can work."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """True when every service is usable."""
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """JSON shape served by /healthz."""
        return {
            "status": "ok" if self.ok else "degraded",
            "checks": {
                c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in self.checks
            },
        }


async def check_database(dsn: str) -> Check:
    """PostgreSQL reachable, migrations applied, and the time-series mode in force."""
    started = time.perf_counter()
    try:
        async with await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=int(TIMEOUT_S)
        ) as conn:
            version = await (await conn.execute("SHOW server_version")).fetchone()
            has_modes = await (
                await conn.execute("SELECT to_regclass('timeseries_tables')")
            ).fetchone()
            mode_row = None
            if has_modes and has_modes[0] is not None:
                mode_row = await (await conn.execute(TIMESERIES_MODE_SQL)).fetchone()
            tsdb = await (await conn.execute(TIMESCALEDB_VERSION_SQL)).fetchone()
            available = await (
                await conn.execute(
                    "SELECT default_version FROM pg_available_extensions WHERE name='timescaledb'"
                )
            ).fetchone()
            has_table = await (
                await conn.execute("SELECT to_regclass('schema_migrations')")
            ).fetchone()
            applied: set[int] = set()
            if has_table and has_table[0] is not None:
                cur = await conn.execute("SELECT version FROM schema_migrations")
                applied = {int(r[0]) for r in await cur.fetchall()}
    except psycopg.Error as err:
        return Check(
            "database", False, f"cannot use PostgreSQL: {str(err).strip()}", fix=SERVICES_FIX
        )
    latency = round((time.perf_counter() - started) * 1000, 1)
    mode = str(mode_row[0]) if mode_row else "unmigrated"
    pending = [m.version for m in load_migrations() if m.version not in applied]
    info = {
        "server_version": str(version[0]) if version else "",
        "timeseries_mode": mode,
        "timescaledb_version": str(tsdb[0]) if tsdb else None,
        "timescaledb_available": str(available[0]) if available else None,
        "pending_migrations": pending,
    }
    if pending:
        return Check(
            "database",
            False,
            f"migrations not applied: {pending}",
            fix="run `dusttwin migrate`",
            latency_ms=latency,
            info=info,
        )
    where = (
        f"TimescaleDB {info['timescaledb_version']} hypertables"
        if mode == "timescaledb"
        else "plain PostgreSQL partitions"
    )
    detail = f"PostgreSQL {info['server_version']}, time series in {where}"
    fix = ""
    if mode == "plain" and available is None:
        fix = "optional: `deploy/local/services.sh up` as root builds TimescaleDB for new databases"
    return Check("database", True, detail, fix=fix, latency_ms=latency, info=info)


async def check_redis(url: str) -> Check:
    """Redis reachable (RQ jobs and the scheduler depend on it)."""
    started = time.perf_counter()
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
    )
    try:
        await client.ping()
        version = str((await client.info("server")).get("redis_version", "?"))
    except (RedisError, OSError) as err:
        return Check("redis", False, f"cannot reach Redis: {err}", fix=SERVICES_FIX)
    finally:
        await client.aclose()
    latency = round((time.perf_counter() - started) * 1000, 1)
    return Check("redis", True, f"Redis {version}", latency_ms=latency)


async def _mqtt_connects(settings: Settings, *, anonymous: bool) -> str | None:
    """None when a connection succeeds, else the broker's or the network's reason."""
    tls = aiomqtt.TLSParameters(
        ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None
    )
    try:
        async with asyncio.timeout(TIMEOUT_S):
            async with aiomqtt.Client(
                settings.mqtt_host,
                settings.mqtt_port,
                username=None if anonymous else settings.mqtt_username,
                password=None if anonymous else settings.mqtt_password.get_secret_value(),
                tls_params=tls if settings.mqtt_tls else None,
                timeout=TIMEOUT_S,
            ):
                return None
    except (aiomqtt.MqttError, TimeoutError, OSError) as err:
        return str(err) or type(err).__name__


async def check_broker(settings: Settings) -> Check:
    """The MQTT broker accepts the platform's account and refuses anonymous clients."""
    started = time.perf_counter()
    where = f"{settings.mqtt_host}:{settings.mqtt_port}"
    refused = await _mqtt_connects(settings, anonymous=False)
    if refused is not None:
        return Check(
            "broker",
            False,
            f"MQTT broker at {where} refused the platform account "
            f"'{settings.mqtt_username}': {refused}",
            fix=SERVICES_FIX + " — it configures Mosquitto and writes the account into .env",
        )
    latency = round((time.perf_counter() - started) * 1000, 1)
    if await _mqtt_connects(settings, anonymous=True) is None:
        return Check(
            "broker",
            False,
            f"MQTT broker at {where} lets anonymous clients in: anyone could publish readings",
            fix=SERVICES_FIX + " — it turns authentication on (dynamic security)",
            latency_ms=latency,
        )
    return Check(
        "broker",
        True,
        f"MQTT broker at {where}: platform account accepted, anonymous refused",
        latency_ms=latency,
    )


async def check_all(settings: Settings) -> HealthReport:
    """Run every check concurrently."""
    checks = await asyncio.gather(
        check_database(settings.database_url.get_secret_value()),
        check_redis(settings.redis_url.get_secret_value()),
        check_broker(settings),
    )
    return HealthReport(list(checks))
