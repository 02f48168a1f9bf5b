"""The risk jobs on a real Redis: a burst is one evaluation, and Redis going down loses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from redis import Redis
from rq import Queue, SimpleWorker

from dusttwin import worker_context
from dusttwin.scheduler import PERIODIC_JOBS, QUEUE_NAME, tick
from dusttwin.settings import Settings
from risk.alarms import Change, Deadlines, Subject, apply_changes
from tests.api.demo_data import JIADING
from tests.helpers import PrivateRedis, override

ENTERPRISE = JIADING[3].record.credit_code
RISK_JOBS = tuple(j for j in PERIODIC_JOBS if j.func.startswith("risk."))


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def _burst(dsn: str, first: int, n: int) -> None:
    """``n`` alarms raised at one enterprise, each in its own transaction (as ingest does)."""
    import asyncio

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            for i in range(first, first + n):
                subject = Subject(f"dusttwin:point-{ENTERPRISE}-BURST-{i}", ENTERPRISE, "310114")
                change = Change("raise", "HIGH", "HA", datetime.now(UTC), 80.0, 70.0)
                async with conn.transaction():
                    await apply_changes(conn, [(subject, change)], datetime.now(UTC), Deadlines())

    asyncio.run(run())


def _count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, (ENTERPRISE,)).fetchone()
    assert row is not None
    return int(row[0])


def test_alarms_keep_coming_while_redis_is_down_and_risk_catches_up_after(
    redis_server: PrivateRedis, settings: Settings, seeded: dict[str, str]
) -> None:
    dsn = seeded["DUSTTWIN_DATABASE_URL"]
    worker_context.install(override(settings, database_url=dsn, redis_url=redis_server.url))
    _burst(dsn, 0, 50)
    redis_server.stop()  # Redis restarts in the middle of the burst
    _burst(dsn, 50, 50)
    assert _count(dsn, "SELECT count(*) FROM alarms WHERE credit_code = %s") == 100
    assert _count(dsn, "SELECT count(*) FROM risk_pending WHERE credit_code = %s") == 1

    redis_server.start()
    redis = Redis.from_url(redis_server.url)
    enqueued = tick(redis, datetime.now(UTC), RISK_JOBS)
    SimpleWorker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work(burst=True)
    queue = Queue(QUEUE_NAME, connection=redis)
    jobs = [queue.fetch_job(job_id) for job_id in enqueued]
    assert all(job is not None and job.is_finished for job in jobs), [
        (j.id, j.latest_result()) for j in jobs if j is not None and not j.is_finished
    ]
    # the hundred alarm changes were one pending row: one evaluation, stored once
    assert _count(dsn, "SELECT count(*) FROM risk_pending WHERE credit_code = %s") == 0
    assert _count(dsn, "SELECT count(*) FROM risk_evaluations WHERE credit_code = %s") == 1
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT features #>> '{risk,properties,level}' FROM things"
            " WHERE kind = 'enterprise' AND credit_code = %s",
            (ENTERPRISE,),
        ).fetchone()
    assert row is not None
    assert row[0] in ("red", "orange", "yellow", "blue")
