"""RQ jobs of the video connector: a thin function that probes the cameras' links."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import psycopg

from connectors.video import probe_cameras
from dusttwin import worker_context

log = logging.getLogger(__name__)


def probe_cameras_job() -> dict[str, int]:
    """Probe every camera's live links — the scheduler enqueues this every 60 s [DEFAULT]."""

    async def run() -> dict[str, int]:
        dsn = worker_context.settings().database_url.get_secret_value()
        # autocommit: no transaction stays open while the probes wait on the network
        async with await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=5
        ) as conn:
            return (await probe_cameras(conn, datetime.now(UTC))).as_dict()

    report = asyncio.run(run())
    if report["went_online"] or report["went_offline"]:
        log.info("video probes: %s", report)
    return report
