"""The limit evaluation at the end of ingest: readings in, alarms out, in the same transaction.

``LimitEvaluator`` is the ``ReadingSink`` of the ingest writer (docs/architecture.md): it is called
inside each batch's transaction with the batch's accepted readings and device events, so an alarm
commits with the readings that raised it or not at all, and a connector killed between the two
loses neither. Per batch it costs a handful of statements, not one per reading: the points' rules
come from a cache, their evaluation states are read in one query and the changed ones written
back in one, and only actual alarm changes touch the alarms table.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol, cast

from psycopg import AsyncConnection
from psycopg.errors import SerializationFailure

from device_catalog import Catalog, UnknownIndicatorError
from risk.alarms import Change, Deadlines, Subject, apply_changes
from risk.limits import (
    AlarmChange,
    Context,
    EvaluationSettings,
    PointRule,
    PointState,
    Sample,
    evaluate,
    evaluate_event,
)
from risk.model import RiskModel

log = logging.getLogger(__name__)
RULES_TTL_S: Final = 10.0  # a changed limit takes effect within this long


class ReadingLike(Protocol):
    """What the evaluation needs of a stored reading (``connectors.protocol.Reading``)."""

    @property
    def time(self) -> datetime: ...
    @property
    def point_id(self) -> int: ...
    @property
    def value(self) -> float | None: ...
    @property
    def quality(self) -> int: ...
    @property
    def backfilled(self) -> bool: ...


class EventLike(Protocol):
    """What the evaluation needs of a device event (``connectors.protocol.DeviceEvent``)."""

    @property
    def time(self) -> datetime: ...
    @property
    def point_id(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def backfilled(self) -> bool: ...


@dataclass(frozen=True)
class PointEntry:
    """A point's rule and the keys of the alarms it raises."""

    rule: PointRule
    subject: Subject
    running_point: int | None  # the system's running signal (FAN_RUN) point, if registered
    loaded_at: float


class RuleBook:
    """Points' rules built from their twins and the catalog, cached for ``RULES_TTL_S``."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._entries: dict[int, PointEntry | None] = {}
        self._loaded: dict[int, float] = {}

    async def entries(
        self, conn: AsyncConnection[Any], point_ids: Sequence[int]
    ) -> dict[int, PointEntry]:
        """The entries of these points (loading the missing and the stale ones in one query)."""
        now = time.monotonic()
        wanted = [p for p in point_ids if now - self._loaded.get(p, -1e9) > RULES_TTL_S]
        if wanted:
            await self._load(conn, wanted, now)
        out: dict[int, PointEntry] = {}
        for p in point_ids:
            entry = self._entries.get(p)
            if entry is not None:
                out[p] = entry
        return out

    async def _load(self, conn: AsyncConnection[Any], point_ids: list[int], now: float) -> None:
        cur = await conn.execute(
            """
            SELECT p.id, p.thing_id, p.attributes, s.attributes ->> 'collector',
                   (SELECT r.id FROM things r
                    WHERE r.kind = 'point' AND r.deleted_at IS NULL
                      AND r.credit_code = p.credit_code
                      AND r.attributes ->> 'system_code' = p.attributes ->> 'system_code'
                      AND r.attributes ->> 'indicator' = %s
                    ORDER BY r.id LIMIT 1)
            FROM things p
            LEFT JOIN things s ON s.thing_id = p.attributes ->> 'parent'
            WHERE p.id = ANY(%s) AND p.kind = 'point' AND p.deleted_at IS NULL
            """,
            (self.catalog.running_signal, point_ids),
        )
        for p in point_ids:
            self._entries[p] = None
            self._loaded[p] = now
        for point_id, thing_id, attributes, collector, running_point in await cur.fetchall():
            self._entries[point_id] = self._entry(
                point_id, thing_id, attributes, collector, running_point, now
            )

    def _entry(
        self,
        point_id: int,
        thing_id: str,
        attributes: dict[str, Any],
        collector: str | None,
        running_point: int | None,
        now: float,
    ) -> PointEntry | None:
        try:
            indicator = self.catalog.indicator(attributes["indicator"])
        except (KeyError, UnknownIndicatorError):
            return None
        context = attributes.get("limit_context", {})
        mandatory = collector is not None and indicator.is_mandatory_for(collector)
        rule = PointRule.from_catalog(
            indicator,
            point_id,
            attributes.get("limits", {}),
            (float(attributes["range_low"]), float(attributes["range_high"])),
            design=context.get("design"),
            mec=context.get("mec"),
            al_mg=bool(context.get("al_mg")),
            mandatory=mandatory,
        )
        subject = Subject(
            thing_id=thing_id,
            credit_code=attributes["credit_code"],
            adcode=attributes["adcode"],
            point_id=point_id,
            system_code=attributes.get("system_code"),
            indicator=indicator.code,
            mandatory=mandatory,
        )
        return PointEntry(rule, subject, running_point, now)


class LimitEvaluator:
    """Evaluates each batch's readings and events against their points' limits (a ReadingSink)."""

    def __init__(
        self,
        catalog: Catalog,
        settings: EvaluationSettings | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.rules = RuleBook(catalog)
        self.settings = settings or EvaluationSettings()
        self.deadlines = deadlines or Deadlines()
        self._failing_points: set[int] = set()
        # point -> its state as of the last committed batch here (see ``_states``)
        self._cache: dict[int, _Cached] = {}
        self._staged: dict[int, _Cached] = {}

    @classmethod
    def for_model(cls, catalog: Catalog, model: RiskModel) -> LimitEvaluator:
        """An evaluator with the model's evaluation numbers and alarm deadlines."""
        deadlines = model.alarm_deadlines
        return cls(
            catalog,
            settings=model.evaluation,
            deadlines=Deadlines(deadlines.acknowledge, deadlines.feedback),
        )

    async def __call__(
        self,
        conn: AsyncConnection[Any],
        readings: Sequence[ReadingLike],
        events: Sequence[EventLike],
    ) -> None:
        """Evaluate a batch in the caller's transaction; store the alarms it raises and clears."""
        by_point: dict[int, list[ReadingLike | EventLike]] = defaultdict(list)
        is_event: set[int] = set()  # ids of the items that are device events
        for r in readings:
            by_point[r.point_id].append(r)
        for e in events:
            by_point[e.point_id].append(e)
            is_event.add(id(e))
        entries = await self.rules.entries(conn, sorted(by_point))
        if not entries:
            return
        running = await self._running_values(conn, entries, readings)
        self._staged = {}  # what a rolled-back earlier call staged is forgotten
        states = await self._states(conn, sorted(entries))
        changes: list[tuple[Subject, Change]] = []
        written: list[tuple[int, dict[str, Any], int]] = []
        for point_id, entry in entries.items():
            revision, stored, state = states[point_id]
            try:
                for item in sorted(by_point[point_id], key=lambda i: i.time):
                    series = running.get(entry.running_point or 0)
                    context = Context(running=_running_at(series, item.time))
                    if id(item) in is_event:
                        event = cast(EventLike, item)
                        kind: Literal["ACTIVE", "CLEAR"] = (
                            "CLEAR" if event.type == "CLEAR" else "ACTIVE"
                        )
                        state, made = evaluate_event(
                            entry.rule,
                            state,
                            event.time,
                            kind,
                            event.value,
                            event.backfilled,
                            self.settings,
                            context,
                        )
                    else:
                        reading = cast(ReadingLike, item)
                        sample = Sample(
                            reading.time, reading.value, reading.quality, reading.backfilled
                        )
                        state, made = evaluate(entry.rule, state, sample, context, self.settings)
                    changes += [(entry.subject, _change(c)) for c in made]
                material = _material(state.to_json())
            except Exception:
                # a rule that cannot be evaluated must not stop the readings being stored;
                # logged once per point until it evaluates again
                if point_id not in self._failing_points:
                    log.exception("limit evaluation failed for point %s", point_id)
                    self._failing_points.add(point_id)
                continue
            self._failing_points.discard(point_id)
            if material != stored:
                written.append((point_id, state.to_json(), revision))
                self._staged[point_id] = _Cached(revision + 1, material, state)
            else:
                self._staged[point_id] = _Cached(revision, stored, state)
        await _store_states(conn, written)
        if changes:
            await apply_changes(conn, changes, datetime.now(UTC), self.deadlines)

    def committed(self) -> None:
        """The last batch committed: its states are now what this process knows."""
        self._cache.update(self._staged)
        self._staged = {}

    async def _states(
        self, conn: AsyncConnection[Any], point_ids: list[int]
    ) -> dict[int, tuple[int, dict[str, Any] | None, PointState]]:
        """Each point's (stored revision, stored material part, state to evaluate on).

        Only revisions are read for points this process evaluated last (their state is in
        memory, with what was not worth writing); a point another connector wrote since, or one
        not seen before, is read whole.
        """
        cur = await conn.execute(
            "SELECT point_id, revision FROM limit_states WHERE point_id = ANY(%s)", (point_ids,)
        )
        revisions = {int(p): int(r) for p, r in await cur.fetchall()}
        out: dict[int, tuple[int, dict[str, Any] | None, PointState]] = {}
        stale: list[int] = []
        for p in point_ids:
            cached = self._cache.get(p)
            if p not in revisions:
                out[p] = (0, None, PointState())
            elif cached is not None and cached.revision == revisions[p]:
                out[p] = (cached.revision, cached.material, cached.state)
            else:
                stale.append(p)
        if stale:
            cur = await conn.execute(
                "SELECT point_id, revision, state FROM limit_states WHERE point_id = ANY(%s)",
                (stale,),
            )
            for p, revision, state in await cur.fetchall():
                out[int(p)] = (int(revision), _material(state), PointState.from_json(state))
        return out

    async def _running_values(
        self,
        conn: AsyncConnection[Any],
        entries: dict[int, PointEntry],
        readings: Sequence[ReadingLike],
    ) -> dict[int, list[tuple[datetime, float | None]]]:
        """Each running-signal point's known values: its twin's measurement and this batch's."""
        wanted = {e.running_point for e in entries.values() if e.running_point is not None}
        if not wanted:
            return {}
        values: dict[int, list[tuple[datetime, float | None]]] = defaultdict(list)
        # the twin's measurement (already this batch's newest, when the batch has one)
        cur = await conn.execute(
            "SELECT id, (features #>> '{measurement,properties,value}')::float8,"
            " (features #>> '{measurement,properties,ts}')::timestamptz FROM things"
            " WHERE id = ANY(%s) AND features #>> '{measurement,properties,quality}' = 'GOOD'",
            (sorted(wanted),),
        )
        for point_id, value, at in await cur.fetchall():
            if at is not None:
                values[point_id].append((at, value))
        for r in readings:
            if r.point_id in wanted and r.quality == 0:
                values[r.point_id].append((r.time, r.value))
        for series in values.values():
            series.sort(key=lambda tv: tv[0])
        return values


def _running_at(series: list[tuple[datetime, float | None]] | None, at: datetime) -> bool | None:
    """The running signal at ``at``: its last value at or before then (None when unknown)."""
    if not series:
        return None
    known = [v for t, v in series if t <= at]
    # before the first value known here, the earliest one is the best guess (a fan rarely
    # changes within one batch)
    value = known[-1] if known else series[0][1]
    return None if value is None else value >= 0.5


def _change(c: AlarmChange) -> Change:
    return Change(
        action=c.action,
        alarm_type=c.alarm_type,
        level=c.level,
        time=c.time,
        value=c.value,
        limit=c.limit,
        backfilled=c.backfilled,
        predicted_at=c.predicted_at,
    )


@dataclass(frozen=True)
class _Cached:
    revision: int  # of the stored row this state builds on
    material: dict[str, Any] | None  # the stored part that matters (see ``_material``)
    state: PointState


def _material(state: dict[str, Any]) -> dict[str, Any]:
    """What of a stored state must be written when it changes: timers, alarms, rate, trend.

    Left out: the newest sample's time, the out-of-order count and the minute bucket still
    filling. A restart loses at most those — never a persistence timer, a deadband clock, an
    open condition or a closed trend bucket — and the row is written a few times a minute
    rather than at every batch.
    """
    trend = state.get("trend") or {}
    return {
        **{k: v for k, v in state.items() if k not in ("last_time", "out_of_order", "trend")},
        "trend": trend.get("buckets", []),
    }


async def _store_states(
    conn: AsyncConnection[Any], written: list[tuple[int, dict[str, Any], int]]
) -> None:
    """Write changed states back; a state another connector changed meanwhile fails the batch."""
    if not written:
        return
    ids, states, revisions = zip(*written, strict=True)
    cur = await conn.execute(
        """
        INSERT INTO limit_states (point_id, state, revision)
        SELECT * FROM unnest(%s::bigint[], %s::jsonb[], %s::bigint[])
        ON CONFLICT (point_id) DO UPDATE
            SET state = EXCLUDED.state, revision = limit_states.revision + 1, updated_at = now()
            WHERE limit_states.revision = EXCLUDED.revision
        """,
        (list(ids), [json.dumps(s) for s in states], list(revisions)),
    )
    if cur.rowcount != len(written):
        # another connector evaluated one of these points since we read its state: roll back
        # and evaluate the batch again on the newer state (the ingest pipeline retries class 40)
        raise SerializationFailure("limit state changed by another connector; evaluating again")
