"""``dusttwin serve scheduler``: enqueues the platform's periodic RQ jobs on time, once each.

Several schedulers may run (for availability); a job is enqueued once per period all the same,
because each period's job has a fixed id claimed in Redis with SET NX.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

log = logging.getLogger(__name__)

QUEUE_NAME = "dusttwin"


@dataclass(frozen=True)
class PeriodicJob:
    """A job enqueued every ``every_s`` seconds, by its dotted function path."""

    name: str
    func: str
    every_s: int
    timeout_s: int = 300
    retries: tuple[int, ...] = (10, 30, 90)  # seconds before each retry of a failed run


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("timeseries-upkeep", "connectors.jobs.maintain_timeseries", every_s=60),
    PeriodicJob(
        "offline-detection", "connectors.jobs.detect_offline_job", every_s=30, timeout_s=60
    ),
    # a burst of alarm changes leaves one risk_pending row: one evaluation, within ~5 s
    PeriodicJob(
        "risk-pending", "risk.jobs.evaluate_pending", every_s=5, timeout_s=120, retries=(5, 15)
    ),
    PeriodicJob("risk-all", "risk.jobs.evaluate_all", every_s=300, timeout_s=600),
    PeriodicJob("deadlines", "risk.jobs.check_deadlines", every_s=30, timeout_s=120),
    PeriodicJob("daily-statistics", "risk.jobs.daily_statistics", every_s=600, timeout_s=600),
    PeriodicJob("prune-events", "risk.jobs.prune_events", every_s=3600, timeout_s=300),
    PeriodicJob("webhooks", "risk.jobs.deliver_webhooks", every_s=5, timeout_s=120, retries=()),
    PeriodicJob(
        "cleaning-tasks", "risk.cleaning_jobs.generate_cleaning_tasks", every_s=300, timeout_s=120
    ),
    PeriodicJob(
        "cleaning-overdue", "risk.cleaning_jobs.mark_cleaning_overdue", every_s=60, timeout_s=120
    ),
    # the next run probes again: no retries
    PeriodicJob(
        "camera-probes",
        "connectors.video_jobs.probe_cameras_job",
        every_s=60,
        timeout_s=300,
        retries=(),
    ),
)


def tick(redis: Redis, now: datetime, jobs: tuple[PeriodicJob, ...] = PERIODIC_JOBS) -> list[str]:
    """Enqueue every job whose period has begun and was not yet claimed; returns their ids."""
    queue = Queue(QUEUE_NAME, connection=redis)
    enqueued: list[str] = []
    for job in jobs:
        slot = int(now.timestamp()) // job.every_s
        job_id = f"periodic-{job.name}-{slot}"
        claimed = redis.set(f"dusttwin:scheduler:{job_id}", "1", nx=True, ex=job.every_s * 10)
        if not claimed:
            continue
        queue.enqueue(
            job.func,
            job_id=job_id,
            job_timeout=job.timeout_s,
            result_ttl=3600,
            failure_ttl=7 * 86400,  # failed runs stay visible in GET /api/v1/jobs/failed
            retry=Retry(max=len(job.retries), interval=list(job.retries)) if job.retries else None,
        )
        enqueued.append(job_id)
    return enqueued


def run(redis: Redis, *, interval_s: float = 5.0, stop: Callable[[], bool] = lambda: False) -> None:
    """Tick until ``stop()`` says so, logging once when Redis fails and once when it is back."""
    failing = False
    while not stop():
        try:
            for job_id in tick(redis, datetime.now(UTC)):
                log.debug("enqueued %s", job_id)
            if failing:
                log.warning("scheduler: Redis is reachable again")
                failing = False
        except RedisError as err:
            if not failing:
                log.error("scheduler: cannot reach Redis (%s); retrying", err)
                failing = True
        time.sleep(interval_s)
