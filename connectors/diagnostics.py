"""Why a gateway's data is (not) arriving, as an integrator needs to see: counts and refusals."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass
class GatewayDiagnostics:
    """Recent traffic of one gateway."""

    last_message_at: datetime | None
    messages_1h: int
    accepted_1h: int
    rejected_1h: int
    messages_24h: int
    accepted_24h: int
    rejected_24h: int
    last_error: dict[str, Any] | None
    recent_rejections: list[dict[str, Any]] = field(default_factory=list)


async def gateway_diagnostics(
    conn: AsyncConnection[Any], gateway: str, now: datetime, recent: int = 20
) -> GatewayDiagnostics:
    """Counts over the last hour and day, and the latest refusals with their reasons."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        """
        SELECT max(last_message_at) AS last_message_at,
               coalesce(sum(messages) FILTER (WHERE minute >= %(h)s), 0) AS messages_1h,
               coalesce(sum(accepted) FILTER (WHERE minute >= %(h)s), 0) AS accepted_1h,
               coalesce(sum(rejected) FILTER (WHERE minute >= %(h)s), 0) AS rejected_1h,
               coalesce(sum(messages), 0) AS messages_24h,
               coalesce(sum(accepted), 0) AS accepted_24h,
               coalesce(sum(rejected), 0) AS rejected_24h
        FROM ingest_stats WHERE gateway = %(g)s AND minute >= %(d)s
        """,
        {
            "g": gateway,
            "h": now.replace(second=0, microsecond=0) - _HOUR,
            "d": now.replace(second=0, microsecond=0) - _DAY,
        },
    )
    counts = await cur.fetchone()
    assert counts is not None
    await cur.execute(
        "SELECT received_at, transport, kind, msg_id, whole, rejected, raw FROM ingest_rejections"
        " WHERE gateway = %s ORDER BY received_at DESC, id DESC LIMIT %s",
        (gateway, recent),
    )
    rejections = [_rejection(r) for r in await cur.fetchall()]
    return GatewayDiagnostics(
        last_message_at=counts["last_message_at"],
        messages_1h=int(counts["messages_1h"]),
        accepted_1h=int(counts["accepted_1h"]),
        rejected_1h=int(counts["rejected_1h"]),
        messages_24h=int(counts["messages_24h"]),
        accepted_24h=int(counts["accepted_24h"]),
        rejected_24h=int(counts["rejected_24h"]),
        last_error=rejections[0] if rejections else None,
        recent_rejections=rejections,
    )


def _rejection(row: dict[str, Any]) -> dict[str, Any]:
    raw: bytes = row["raw"]
    try:
        shown: str = raw[:2000].decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        shown, encoding = base64.b64encode(raw[:2000]).decode("ascii"), "base64"
    return {
        "received_at": row["received_at"].isoformat(),
        "transport": row["transport"],
        "kind": row["kind"],
        "msg_id": row["msg_id"],
        "whole_message": row["whole"],
        "rejected": row["rejected"],
        "raw": shown,
        "raw_encoding": encoding,
        "raw_truncated": len(raw) > 2000,
    }
