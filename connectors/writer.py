"""The time-series writer: one transaction per batch of messages, whatever their transport.

Readings go in with COPY into a session-local staging table and one INSERT … ON CONFLICT DO
NOTHING, so delivery may repeat but storage is exactly-once by (point, time); msg_ids already seen
are skipped; the twins' live features are updated with one statement per batch, not one per
reading; refused messages and entries become dead letters; per-gateway counts are kept; the limit
evaluation gets the batch's readings inside the same transaction (``ReadingSink``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from psycopg import AsyncConnection

from connectors.protocol import CheckedMessage, DeviceEvent, Reading, Rejection
from connectors.timeseries import MARK_ROLLUP_PENDING_SQL, ROLLUP_LOOKBACK

Transport = Literal["mqtt", "http", "adapter"]
QUALITY_NAMES = {0: "GOOD", 1: "FAULT", 2: "MAINT", 3: "OVER_RANGE"}


class ReadingSink(Protocol):
    """Where accepted readings and events go next (the alarm room's limit evaluation).

    Called inside the batch's transaction, after the readings are written: what it writes
    commits with them or not at all.
    """

    async def __call__(
        self, conn: AsyncConnection[Any], readings: list[Reading], events: list[DeviceEvent]
    ) -> None:
        """Evaluate a batch."""
        ...

    def committed(self) -> None:
        """The transaction of the last call committed (what it kept in memory now holds)."""
        ...


@dataclass
class Incoming:
    """One message as received, with its checks done (or the reason it was refused whole)."""

    gateway: str  # "{credit_code}.{gateway_id}"
    credit_code: str
    gateway_id: str
    transport: Transport
    kind: str
    raw: bytes
    checked: CheckedMessage | None
    refused: str | None = None  # the whole message was refused, and why
    ignored: bool = False  # nothing to store nor to answer (a retained state of a gone gateway)


@dataclass
class Outcome:
    """What became of a message."""

    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicate: bool = False
    refused: str | None = None


async def store_batch(
    conn: AsyncConnection[Any],
    batch: list[Incoming],
    now: datetime,
    sink: ReadingSink | None = None,
) -> list[Outcome]:
    """Write a batch in one transaction; returns each message's outcome, in order."""
    outcomes = [Outcome(refused=m.refused) for m in batch]
    async with conn.transaction():
        fresh = await _first_sightings(conn, batch)
        readings: list[Reading] = []
        events: list[DeviceEvent] = []
        for i, message in enumerate(batch):
            checked = message.checked
            if checked is None:
                continue
            outcomes[i].rejected = checked.rejected
            if checked.msg_id is not None and (message.gateway, checked.msg_id) not in fresh:
                outcomes[i].duplicate = True
                continue
            readings += checked.readings
            events += checked.events
            outcomes[i].accepted = len(checked.readings) + len(checked.events)
        await _write_readings(conn, readings, now)
        await _write_events(conn, events)
        await _update_points(conn, readings)
        await _update_gateways(conn, batch, outcomes, now)
        await _count(conn, batch, outcomes, now)
        await _dead_letters(conn, batch, outcomes)
        if sink is not None and (readings or events):
            await sink(conn, readings, events)
    if sink is not None and (readings or events):
        sink.committed()
    return outcomes


async def _first_sightings(
    conn: AsyncConnection[Any], batch: list[Incoming]
) -> set[tuple[str, str]]:
    keys = {
        (m.gateway, m.checked.msg_id)
        for m in batch
        if m.checked is not None and m.checked.msg_id is not None
    }
    if not keys:
        return set()
    gateways, msg_ids = zip(*sorted(keys), strict=True)
    cur = await conn.execute(
        "INSERT INTO ingest_messages (gateway, msg_id)"
        " SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING"
        " RETURNING gateway, msg_id",
        (list(gateways), list(msg_ids)),
    )
    return {(str(g), str(m)) for g, m in await cur.fetchall()}


async def _write_readings(
    conn: AsyncConnection[Any], readings: list[Reading], now: datetime
) -> None:
    if not readings:
        return
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS readings_in"
        " (time timestamptz, point_id bigint, value double precision, quality smallint)"
        " ON COMMIT DELETE ROWS"
    )
    async with conn.cursor() as cur:
        async with cur.copy("COPY readings_in (time, point_id, value, quality) FROM STDIN") as copy:
            for r in readings:
                await copy.write_row((r.time, r.point_id, r.value, r.quality))
        await cur.execute(
            "INSERT INTO readings (time, point_id, value, quality)"
            " SELECT time, point_id, value, quality FROM readings_in ON CONFLICT DO NOTHING"
        )
    late = sorted({r.time for r in readings if now - r.time > ROLLUP_LOOKBACK})
    if late:
        await conn.execute(MARK_ROLLUP_PENDING_SQL, (late,))


async def _write_events(conn: AsyncConnection[Any], events: list[DeviceEvent]) -> None:
    if not events:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO device_events (time, point_id, type, value, content, backfilled)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(e.time, e.point_id, e.type, e.value, e.content, e.backfilled) for e in events],
        )


async def _update_points(conn: AsyncConnection[Any], readings: list[Reading]) -> None:
    """Each point's newest reading here becomes its measurement, if newer than the twin's."""
    latest: dict[int, Reading] = {}
    for r in readings:
        if r.point_id not in latest or r.time > latest[r.point_id].time:
            latest[r.point_id] = r
    if not latest:
        return
    rows = sorted(latest.values(), key=lambda r: r.point_id)
    # lock in one order (by id) so that connectors writing at once never deadlock
    await conn.execute(
        "SELECT 1 FROM things WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
        ([r.point_id for r in rows],),
    )
    await conn.execute(
        """
        UPDATE things t SET
            features = t.features
                || jsonb_build_object('measurement', jsonb_build_object('properties',
                       jsonb_build_object('value', v.value, 'ts', v.time, 'quality', v.quality)))
                || CASE WHEN v.quality IN ('GOOD', 'MAINT') THEN
                       jsonb_build_object('connectivity',
                           coalesce(t.features -> 'connectivity', '{}'::jsonb)
                           || jsonb_build_object('properties',
                               coalesce(t.features #> '{connectivity,properties}', '{}'::jsonb)
                               || jsonb_build_object('last_seen', v.time)))
                   ELSE '{}'::jsonb END,
            revision = t.revision + 1, modified_at = now()
        FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::text[])
             AS v(id, time, value, quality)
        WHERE t.id = v.id
          AND coalesce((t.features #>> '{measurement,properties,ts}')::timestamptz, '-infinity')
              < v.time
        """,
        (
            [r.point_id for r in rows],
            [r.time for r in rows],
            [r.value for r in rows],
            [QUALITY_NAMES[r.quality] for r in rows],
        ),
    )


async def _update_gateways(
    conn: AsyncConnection[Any], batch: list[Incoming], outcomes: list[Outcome], now: datetime
) -> None:
    """Data messages make a gateway (and its enterprise) seen; heartbeats and state say alive.

    Whether a twin is online is decided by the upkeep from ``last_seen`` (dt_detect_offline), so
    that every transition is recorded with its time.
    """
    data: set[str] = set()
    beats: set[str] = set()
    states: dict[str, str] = {}
    for message, outcome in zip(batch, outcomes, strict=True):
        tid = f"dusttwin:gateway-{message.credit_code}-{message.gateway_id}"
        if message.checked is None or outcome.refused:
            continue
        if message.kind in ("rts", "event") and outcome.accepted:
            data.add(tid)
        elif message.kind == "heartbeat":
            beats.add(tid)
        elif message.kind == "state" and message.checked.state:
            states[tid] = message.checked.state
    if data:
        await conn.execute(
            """
            UPDATE things SET features = features || jsonb_build_object('connectivity',
                coalesce(features -> 'connectivity', '{}'::jsonb)
                || jsonb_build_object('properties',
                    coalesce(features #> '{connectivity,properties}', '{}'::jsonb)
                    || jsonb_build_object('last_seen', %s::timestamptz))),
                revision = revision + 1, modified_at = now()
            WHERE thing_id = ANY(%s) OR thing_id IN (
                SELECT 'dusttwin:enterprise-' || credit_code FROM things WHERE thing_id = ANY(%s))
            """,
            (now, sorted(data), sorted(data)),
        )
    for tid in sorted(beats):
        await _merge_connectivity(conn, tid, {"last_heartbeat": now.isoformat()})
    for tid, state in sorted(states.items()):
        await _merge_connectivity(conn, tid, {"state": state, "state_at": now.isoformat()})


async def _merge_connectivity(
    conn: AsyncConnection[Any], thing_id: str, values: dict[str, Any]
) -> None:
    await conn.execute(
        """
        UPDATE things SET features = features || jsonb_build_object('connectivity',
            coalesce(features -> 'connectivity', '{}'::jsonb) || jsonb_build_object('properties',
                coalesce(features #> '{connectivity,properties}', '{}'::jsonb) || %s::jsonb)),
            revision = revision + 1, modified_at = now()
        WHERE thing_id = %s AND deleted_at IS NULL
        """,
        (json.dumps(values), thing_id),
    )


async def _count(
    conn: AsyncConnection[Any], batch: list[Incoming], outcomes: list[Outcome], now: datetime
) -> None:
    minute = now.replace(second=0, microsecond=0)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for message, outcome in zip(batch, outcomes, strict=True):
        counts = per[message.gateway]
        counts[0] += 1
        counts[1] += outcome.accepted
        counts[2] += len(outcome.rejected) + (1 if outcome.refused else 0)
    gateways = sorted(per)
    await conn.execute(
        """
        INSERT INTO ingest_stats (gateway, minute, messages, accepted, rejected, last_message_at)
        SELECT g, %s, m, a, r, %s
        FROM unnest(%s::text[], %s::int[], %s::int[], %s::int[]) AS x(g, m, a, r)
        ON CONFLICT (gateway, minute) DO UPDATE SET
            messages = ingest_stats.messages + excluded.messages,
            accepted = ingest_stats.accepted + excluded.accepted,
            rejected = ingest_stats.rejected + excluded.rejected,
            last_message_at = excluded.last_message_at
        """,
        (
            minute,
            now,
            gateways,
            [per[g][0] for g in gateways],
            [per[g][1] for g in gateways],
            [per[g][2] for g in gateways],
        ),
    )


async def _dead_letters(
    conn: AsyncConnection[Any], batch: list[Incoming], outcomes: list[Outcome]
) -> None:
    rows = []
    for message, outcome in zip(batch, outcomes, strict=True):
        if outcome.refused:
            rejected = [Rejection(None, None, outcome.refused).as_json()]
        elif outcome.rejected:
            rejected = [r.as_json() for r in outcome.rejected]
        else:
            continue
        msg_id = message.checked.msg_id if message.checked else None
        rows.append(
            (
                message.gateway,
                message.transport,
                message.kind,
                msg_id,
                bool(outcome.refused),
                json.dumps(rejected, ensure_ascii=False),
                message.raw,
            )
        )
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO ingest_rejections"
                " (gateway, transport, kind, msg_id, whole, rejected, raw)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
