"""RQ jobs of the risk room: thin module-level functions, idempotent, each in one transaction.

- ``evaluate_pending``: enterprises whose alarms changed (``risk_pending``, written in the
  ingest transaction) — a burst of alarm changes is one row, so one evaluation. Every 5 s.
- ``evaluate_all``: every enterprise (every 5 minutes by default).
- ``check_deadlines``: alarms past their deadlines recorded once each; offline alarms raised
  and cleared; enterprises with open warnings re-evaluated (escalation, clearing). Every 30 s.
- ``daily_statistics``: online rate, completeness, alarm counts for today and yesterday.
- ``prune_events``: the live event log keeps a day.
- ``deliver_webhooks``: new events to the regulators' webhook subscriptions (every 5 s).

Nothing the connector does depends on Redis: when Redis is down, alarms are still recorded and
``risk_pending`` fills; when it is back, the next ``evaluate_pending`` catches up.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from dusttwin import worker_context
from risk.alarms import Deadlines, mark_overdue, sync_offline_alarms
from risk.assessment import assess, take_pending
from risk.events import prune
from risk.model_holder import ModelHolder
from risk.statistics import china_day, compute_day
from risk.webhooks import deliver

log = logging.getLogger(__name__)
_holder: ModelHolder | None = None


def _model_holder() -> ModelHolder:
    global _holder  # noqa: PLW0603 — one model per worker process, reloaded when its file changes
    settings = worker_context.settings()
    if _holder is None or _holder.path != settings.risk_model_file:
        _holder = ModelHolder(settings.risk_model_file)
    return _holder


async def _connect() -> psycopg.AsyncConnection[Any]:
    dsn = worker_context.settings().database_url.get_secret_value()
    return await psycopg.AsyncConnection.connect(dsn, connect_timeout=5)


def evaluate_pending() -> dict[str, Any]:
    """Re-evaluate the enterprises whose alarms changed since the last pass."""

    async def run() -> dict[str, Any]:
        model = _model_holder().current()
        async with await _connect() as conn, conn.transaction():
            codes = await take_pending(conn)
            if not codes:
                return {"evaluated": 0}
            outcome = await assess(conn, model, datetime.now(UTC), codes)
        return asdict(outcome)

    result = asyncio.run(run())
    if result.get("evaluated"):
        log.info("risk (pending): %s", result)
    return result


def evaluate_all() -> dict[str, Any]:
    """Evaluate every enterprise (the periodic pass)."""

    async def run() -> dict[str, Any]:
        model = _model_holder().current()
        async with await _connect() as conn, conn.transaction():
            return asdict(await assess(conn, model, datetime.now(UTC)))

    result = asyncio.run(run())
    log.info("risk (all): %s", result)
    return result


def check_deadlines() -> dict[str, Any]:
    """Overdue alarms, offline alarms, and the warnings' escalations and clearing."""

    async def run() -> dict[str, Any]:
        model = _model_holder().current()
        deadlines = Deadlines(model.alarm_deadlines.acknowledge, model.alarm_deadlines.feedback)
        now = datetime.now(UTC)
        async with await _connect() as conn, conn.transaction():
            raised, cleared = await sync_offline_alarms(conn, now, deadlines)
            overdue = await mark_overdue(conn, now)
            cur = await conn.execute(
                "SELECT DISTINCT credit_code FROM warnings WHERE state <> 'CLEARED'"
            )
            with_warnings = [str(c) for (c,) in await cur.fetchall()]
            outcome = await assess(conn, model, now, with_warnings) if with_warnings else None
        return {
            "offline_raised": raised,
            "offline_cleared": cleared,
            "enterprises_with_new_overdue": overdue,
            "warnings": asdict(outcome) if outcome else None,
        }

    return asyncio.run(run())


def daily_statistics() -> dict[str, Any]:
    """Today's (partial) and yesterday's statistics, recomputed."""

    async def run() -> dict[str, Any]:
        now = datetime.now(UTC)
        today = china_day(now)
        async with await _connect() as conn, conn.transaction():
            rows = 0
            for day in (today - timedelta(days=1), today):
                rows += await compute_day(conn, day, now)
        return {"enterprise_rows": rows}

    return asyncio.run(run())


def prune_events() -> dict[str, int]:
    """Drop live events older than a day."""

    async def run() -> int:
        async with await _connect() as conn, conn.transaction():
            return await prune(conn, datetime.now(UTC))

    return {"pruned": asyncio.run(run())}


def deliver_webhooks() -> dict[str, int]:
    """Push new events to the regulators' webhook subscriptions."""

    async def run() -> int:
        async with await _connect() as conn, httpx.AsyncClient(timeout=10) as client:
            return await deliver(conn, client, datetime.now(UTC))

    return {"delivered": asyncio.run(run())}
