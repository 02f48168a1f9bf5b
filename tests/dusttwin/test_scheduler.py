"""The scheduler enqueues each periodic job once per period; a worker runs it for real."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from redis import Redis
from rq import Queue, SimpleWorker

from dusttwin import worker_context
from dusttwin.errors import ConfigurationError
from dusttwin.scheduler import PERIODIC_JOBS, QUEUE_NAME, PeriodicJob, tick
from dusttwin.settings import Settings
from tests.helpers import override

NOW = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
def redis_db(settings: Settings) -> Iterator[Redis]:
    """A Redis database of the tests' own (db 15), emptied before and after."""
    client = Redis.from_url(settings.redis_url.get_secret_value(), db=15)
    client.flushdb()
    yield client
    client.flushdb()


def test_two_schedulers_enqueue_a_period_once(redis_db: Redis) -> None:
    jobs = (PeriodicJob("probe", "connectors.jobs.maintain_timeseries", every_s=60),)
    first = tick(redis_db, NOW, jobs)
    second = tick(redis_db, NOW, jobs)
    assert first == [f"periodic-probe-{int(NOW.timestamp()) // 60}"]
    assert second == []
    assert len(Queue(QUEUE_NAME, connection=redis_db)) == 1
    later = tick(redis_db, NOW.replace(minute=1), jobs)
    assert len(later) == 1


def test_worker_runs_time_series_upkeep(
    redis_db: Redis, settings: Settings, migrated_dsns: dict[str, str]
) -> None:
    worker_context.install(override(settings, database_url=migrated_dsns["plain"]))
    queue = Queue(QUEUE_NAME, connection=redis_db)
    ids = tick(redis_db, datetime.now(UTC), PERIODIC_JOBS)
    SimpleWorker([queue], connection=redis_db).work(burst=True)
    job = queue.fetch_job(ids[0])
    assert job is not None
    assert job.is_finished, job.latest_result()
    with psycopg.connect(migrated_dsns["plain"]) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'readings'::regclass"
        ).fetchone()
    assert row is not None
    assert int(row[0]) >= 8  # default partition + a day back + a week ahead


def test_job_outside_a_worker_says_how_to_run_it() -> None:
    from connectors.jobs import maintain_timeseries

    worker_context._settings = None
    with pytest.raises(ConfigurationError, match="dusttwin serve worker"):
        maintain_timeseries()
