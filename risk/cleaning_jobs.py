"""RQ jobs of dust cleaning (粉尘清扫): thin module-level functions, each in one transaction.

- ``generate_cleaning_tasks``: tasks of every active plan for the next two days (idempotent;
  every 5 minutes, so a plan's first tasks never wait long and a shift is never missed).
- ``mark_cleaning_overdue``: tasks whose window ended unchecked are marked overdue once and
  raise the plan's ``CLEANING_OVERDUE`` management alarm; the enterprises' risk is marked for
  re-evaluation through the alarm (every minute).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import psycopg

from dusttwin import worker_context
from risk.alarms import Deadlines, apply_changes
from risk.cleaning import generate_tasks, overdue_alarm_changes, overdue_tasks
from risk.model_holder import ModelHolder

log = logging.getLogger(__name__)
_holder: ModelHolder | None = None


def _deadlines() -> Deadlines:
    """The alarm deadlines of the risk model in force (one holder per worker process)."""
    global _holder  # noqa: PLW0603 — one model per worker process, reloaded when its file changes
    path = worker_context.settings().risk_model_file
    if _holder is None or _holder.path != path:
        _holder = ModelHolder(path)
    model = _holder.current()
    return Deadlines(model.alarm_deadlines.acknowledge, model.alarm_deadlines.feedback)


async def _connect() -> psycopg.AsyncConnection[Any]:
    dsn = worker_context.settings().database_url.get_secret_value()
    return await psycopg.AsyncConnection.connect(dsn, connect_timeout=5)


def generate_cleaning_tasks() -> dict[str, int]:
    """Make the cleaning tasks of the next two days (those already made are kept)."""

    async def run() -> int:
        async with await _connect() as conn, conn.transaction():
            return await generate_tasks(conn, datetime.now(UTC))

    created = asyncio.run(run())
    if created:
        log.info("cleaning: %d new tasks", created)
    return {"created": created}


def mark_cleaning_overdue() -> dict[str, int]:
    """Mark the tasks whose window ended unchecked and raise their plans' overdue alarms."""
    deadlines = _deadlines()

    async def run() -> tuple[int, int]:
        now = datetime.now(UTC)
        async with await _connect() as conn, conn.transaction():
            tasks = await overdue_tasks(conn, now)
            changes = overdue_alarm_changes(tasks)
            await apply_changes(conn, changes, now, deadlines)
        return len(tasks), len(changes)

    tasks, plans = asyncio.run(run())
    if tasks:
        log.info("cleaning: %d tasks overdue in %d plans", tasks, plans)
    return {"overdue_tasks": tasks, "alarmed_plans": plans}
