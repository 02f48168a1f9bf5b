"""``/api/v1/jobs``: the background jobs' failures, for the platform's administrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result

from api.deps import ScopeDep, SettingsDep
from api.errors import ApiError
from dusttwin.scheduler import QUEUE_NAME

router = APIRouter(tags=["jobs / 后台任务"])


@router.get("/api/v1/jobs/failed", summary="Failed background jobs / 失败的后台任务")
def failed_jobs(scope: ScopeDep, settings: SettingsDep) -> dict[str, Any]:
    """Jobs that failed after their retries: which, when, and the last line of the error."""
    if scope.role != "admin":
        raise ApiError(403, "only administrators see the jobs / 仅管理员可查看")
    try:
        redis = Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=5)
        queue = Queue(QUEUE_NAME, connection=redis)
        registry = FailedJobRegistry(queue=queue)
        ids = registry.get_job_ids()
        jobs = [j for j in Job.fetch_many(ids, connection=redis) if j is not None]
        queued = queue.count
    except RedisError as err:
        raise ApiError(503, f"the job queue (Redis) is unreachable: {err}") from err
    items = []
    for job in jobs:
        result = job.latest_result()
        failure = result.exc_string if result and result.type == Result.Type.FAILED else None
        error = (failure or "").strip().splitlines()
        items.append(
            {
                "id": job.id,
                "function": job.func_name,
                "enqueued_at": job.enqueued_at,
                "ended_at": job.ended_at,
                "retries_left": job.retries_left,
                "error": error[-1] if error else None,
            }
        )
    return {"queued": queued, "failed": len(items), "items": items}
