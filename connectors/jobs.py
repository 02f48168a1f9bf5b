"""RQ jobs of the ingest room: thin functions that run the time-series upkeep."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.timeseries import Retention, detect_offline, maintain
from dusttwin import worker_context
from dusttwin.db import connect

log = logging.getLogger(__name__)


def maintain_timeseries() -> dict[str, Any]:
    """Partitions ahead, rollups, retention — the scheduler enqueues this every minute."""
    settings = worker_context.settings()
    retention = Retention(
        raw=timedelta(days=settings.retention_raw_days),
        minute=timedelta(days=settings.retention_1m_days),
        hour=timedelta(days=settings.retention_1h_days),
    )
    with connect(settings.database_url.get_secret_value(), autocommit=True) as conn:
        report = maintain(conn, datetime.now(UTC), retention)
    log.info("time-series upkeep: %s", report)
    return asdict(report)


def detect_offline_job() -> dict[str, int]:
    """Online and offline from data activity — the scheduler enqueues this every 30 s."""
    settings = worker_context.settings()
    with connect(settings.database_url.get_secret_value(), autocommit=True) as conn:
        changes = detect_offline(conn, datetime.now(UTC))
    went_offline = sum(1 for _, online in changes if not online)
    if changes:
        log.info("connectivity: %d online, %d offline", len(changes) - went_offline, went_offline)
    return {"online": len(changes) - went_offline, "offline": went_offline}
