"""The ingest pipeline: messages from any transport, checked, batched, written, answered.

A bounded queue feeds one writer loop. Each caller gets a future that resolves once its message is
committed (or refused), so MQTT acknowledges only then, and HTTP answers only then. While the
database is unreachable the loop retries the same batch (logging once when it fails and once when
it recovers) and the queue fills, so producers wait: memory stays bounded and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from connectors.directory import PointDirectory
from connectors.protocol import Context, MessageKind, MessageRejectedError, PointSpec, check
from connectors.writer import Incoming, Outcome, ReadingSink, Transport, store_batch

log = logging.getLogger(__name__)
RETRY_S = 1.0
T = TypeVar("T")
UNKNOWN_GATEWAY = "unknown or revoked gateway"


@dataclass(frozen=True)
class RawMessage:
    """A message as a transport received it."""

    credit_code: str
    gateway_id: str
    kind: MessageKind
    payload: bytes
    transport: Transport
    retained: bool = False  # the broker's retained copy (a state), not a fresh message


class IngestPipeline:
    """Checks, batches and stores messages; one instance per process."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        directory: PointDirectory,
        retention: timedelta,
        *,
        sink: ReadingSink | None = None,
        max_batch: int = 1000,
        max_wait_s: float = 0.05,
        queue_size: int = 5000,
    ) -> None:
        self.pool = pool
        self.directory = directory
        self.retention = retention
        self.sink = sink
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.queue: asyncio.Queue[tuple[RawMessage, asyncio.Future[Outcome]]] = asyncio.Queue(
            queue_size
        )
        self._failing = False
        self.handled: Counter[str] = Counter()  # messages settled per gateway since start

    async def submit(self, raw: RawMessage) -> asyncio.Future[Outcome]:
        """Queue a message (waiting while the queue is full); the future resolves when stored."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self.queue.put((raw, future))
        return future

    async def run(self, stop: asyncio.Event) -> None:
        """Write batches until ``stop`` is set and the queue is empty."""
        while not (stop.is_set() and self.queue.empty()):
            batch = await self._take(stop)
            if not batch:
                continue
            # the directory reads the database too: an outage there is waited out, not fatal
            checked = await self._retrying(functools.partial(self._check_all, batch), len(batch))
            # a retained state of a gateway that is gone is history, not an error
            for incoming, future in checked:
                if incoming.ignored and not future.done():
                    future.set_result(Outcome())
            kept = [(i, f) for i, f in checked if not i.ignored]
            outcomes = await self._store([i for i, _ in kept]) if kept else []
            for (_, future), outcome in zip(kept, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
            self.handled.update(i.gateway for i, _ in kept)

    async def _take(self, stop: asyncio.Event) -> list[tuple[RawMessage, asyncio.Future[Outcome]]]:
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout=0.2)
        except TimeoutError:
            return []
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 and self.queue.empty():
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), timeout=max(remaining, 0)))
            except TimeoutError:
                break
        return batch

    async def _check_all(
        self, batch: list[tuple[RawMessage, asyncio.Future[Outcome]]]
    ) -> list[tuple[Incoming, asyncio.Future[Outcome]]]:
        return [(await self._check(raw), future) for raw, future in batch]

    async def _check(self, raw: RawMessage) -> Incoming:
        gateway = f"{raw.credit_code}.{raw.gateway_id}"
        incoming = Incoming(
            gateway, raw.credit_code, raw.gateway_id, raw.transport, raw.kind, raw.payload, None
        )
        entry = await self.directory.gateway(raw.credit_code, raw.gateway_id)
        if not entry.registered:
            incoming.refused = UNKNOWN_GATEWAY
            incoming.ignored = raw.retained
            return incoming
        try:
            checked = check(raw.kind, raw.payload, self._context(entry.gateway_id, entry.points))
            if any(r.reason == "unknown point" for r in checked.rejected):
                entry = await self.directory.reload_if_stale(entry)
                checked = check(
                    raw.kind, raw.payload, self._context(entry.gateway_id, entry.points)
                )
        except MessageRejectedError as err:
            incoming.refused = str(err)
            return incoming
        incoming.checked = checked
        return incoming

    def _context(self, gateway_id: str, points: dict[str, PointSpec]) -> Context:
        return Context(gateway_id, points, datetime.now(UTC), self.retention)

    async def _store(self, batch: list[Incoming]) -> list[Outcome]:
        """Store a batch, retrying while the database is unreachable; isolate a poison message."""
        return await self._retrying(functools.partial(self._store_isolating, batch), len(batch))

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], holding: int) -> T:
        """Run ``attempt`` until the database answers; log once when it fails, once when back."""
        while True:
            try:
                result = await attempt()
            except psycopg.OperationalError as err:
                if (err.sqlstate or "").startswith("40"):
                    # SQLSTATE class 40, a deadlock or serialization failure against another
                    # writer: the transaction was rolled back whole; just write it again
                    log.debug(
                        "ingest: batch of %d rolled back (%s); retrying", holding, err.sqlstate
                    )
                    continue
                if not self._failing:
                    log.error(
                        "ingest: database unreachable (%s); holding %d messages", err, holding
                    )
                    self._failing = True
                await asyncio.sleep(RETRY_S)
                continue
            if self._failing:
                log.warning("ingest: database reachable again; writing")
                self._failing = False
            return result

    async def _store_isolating(self, batch: list[Incoming]) -> list[Outcome]:
        try:
            async with self.pool.connection() as conn:
                return await store_batch(conn, batch, datetime.now(UTC), self.sink)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as err:
            if len(batch) == 1:  # one message the database refuses: a dead letter, not a crash
                log.exception("ingest: message from %s refused by the database", batch[0].gateway)
                batch[0].checked = None
                batch[0].refused = f"refused by the database: {err.diag.message_primary or err}"
                async with self.pool.connection() as conn:
                    return await store_batch(conn, batch, datetime.now(UTC))
            half = len(batch) // 2
            return [
                *await self._store_isolating(batch[:half]),
                *await self._store_isolating(batch[half:]),
            ]
