"""The live event log behind ``GET /api/v1/events`` (server-sent events) and webhooks.

Writers append events last in their own transaction, under a transaction-scoped advisory lock,
so ids become visible in increasing order: a client that resumes after ``Last-Event-ID`` sees
every later event and none twice. Events are kept a day (``prune``); a reconnect within the
hour misses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from twins.scope import Scope

log = logging.getLogger(__name__)
EVENTS_LOCK: Final = 0x64757374_65767473  # "dustevts": one writer at a time appends events
KEEP: Final = timedelta(days=1)
KINDS: Final = (
    "alarm.raised",
    "alarm.escalated",
    "alarm.cleared",
    "alarm.acknowledged",
    "alarm.fed_back",
    "alarm.closed",
    "alarm.rejected",
    "warning.raised",
    "warning.acknowledged",
    "warning.fed_back",
    "warning.escalated",
    "warning.cleared",
    "risk.level_changed",
    "twin.online",
    "twin.offline",
)


@dataclass(frozen=True)
class Event:
    """One event as a subscriber receives it."""

    kind: str
    thing_id: str | None
    credit_code: str | None
    adcode: str | None
    data: dict[str, Any]
    id: int = 0
    at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The event's SSE/webhook body."""
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at.isoformat() if self.at else None,
            "thingId": self.thing_id,
            "credit_code": self.credit_code,
            "adcode": self.adcode,
            "data": self.data,
        }


async def emit(conn: AsyncConnection[Any], events: Sequence[Event]) -> None:
    """Append events; call last in the transaction (the lock is held until it commits)."""
    if not events:
        return
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (EVENTS_LOCK,))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO events (kind, thing_id, credit_code, adcode, data)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                (e.kind, e.thing_id, e.credit_code, e.adcode, json.dumps(e.data, default=str))
                for e in events
            ],
        )


async def after(
    conn: AsyncConnection[Any], last_id: int, scope: Scope, *, limit: int = 500
) -> list[Event]:
    """Events after ``last_id`` that the scope may see, oldest first."""
    where, params = _scope_filter(scope)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, at, kind, thing_id, credit_code, adcode, data FROM events"
            f" WHERE id > %s AND {where} ORDER BY id LIMIT %s",
            (last_id, *params, limit),
        )
        rows = await cur.fetchall()
    return [Event(**row) for row in rows]


async def newest_id(conn: AsyncConnection[Any]) -> int:
    """The id of the newest event (0 when there is none)."""
    cur = await conn.execute("SELECT coalesce(max(id), 0) FROM events")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def first_id_since(conn: AsyncConnection[Any], since: datetime) -> int:
    """The id just before the first event at or after ``since`` (for a replay window)."""
    cur = await conn.execute(
        "SELECT coalesce(min(id) - 1, (SELECT coalesce(max(id), 0) FROM events))"
        " FROM events WHERE at >= %s",
        (since,),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def prune(conn: AsyncConnection[Any], now: datetime) -> int:
    """Drop events older than a day; returns how many."""
    cur = await conn.execute("DELETE FROM events WHERE at < %s", (now - KEEP,))
    return cur.rowcount


def _scope_filter(scope: Scope) -> tuple[str, tuple[Any, ...]]:
    if scope.role == "admin":
        return "true", ()
    if scope.role == "regulator":
        return "adcode LIKE %s", ((scope.adcode_prefix or "") + "%",)
    return "credit_code = ANY(%s)", (sorted(scope.credit_codes),)


class Bell:
    """Rings whenever an event is appended (LISTEN ``dusttwin_events``), for live streams.

    One listening connection per process, however many clients stream; a stream waits on the
    bell with a timeout, so a lost notification delays an event by at most that timeout.
    """

    def __init__(self) -> None:
        self._changed = asyncio.Condition()
        self.rung = 0  # how many times it rang: a stream notes it before it reads events

    async def wait(self, seen: int, timeout_s: float) -> None:
        """Return once it has rung since ``seen`` was noted, or after ``timeout_s``."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.rung != seen), timeout_s)

    async def ring(self) -> None:
        """Wake every waiting stream."""
        async with self._changed:
            self.rung += 1
            self._changed.notify_all()

    async def run(self, dsn: str, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, reconnecting (logged once lost, once back)."""
        failing = False
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute("LISTEN dusttwin_events")
                    if failing:
                        log.warning("event bell: database reachable again")
                        failing = False
                    await self.ring()  # events may have come while we were away
                    while not stop.is_set():
                        async for _ in conn.notifies(timeout=1.0):
                            await self.ring()
            except psycopg.OperationalError as err:
                if not failing:
                    log.error("event bell: lost the database (%s); retrying", err)
                    failing = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
