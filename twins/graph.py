"""The hierarchy graph (networkx): region → enterprise → system → point, gateways and cameras
attached; answers "everything under X" and rolls up counts, online rates, worst alarm and risk.

Built from the store at start, then kept current change by change from the store's notifications
(no full rebuild per change; a full one only after the notification connection was lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import psycopg
from psycopg import AsyncConnection

log = logging.getLogger(__name__)

CHANNEL = "dusttwin_things"
# How bad an alarm level is, highest first: the "worst alarm" of roll-ups, and the alarm room's
# ranking of levels (risk.lifecycle.LEVEL_RANK is this table).
ALARM_SEVERITY: dict[str, int] = {
    "EXPLOSION": 7,
    "HHA": 6,
    "LLA": 6,
    "HA": 5,
    "LA": 5,
    "FAULT": 4,
    "OVER_RANGE": 3,
    "OFFLINE": 2,
    "PREDICTED": 1,
}
RISK_LEVELS = ("red", "orange", "yellow", "blue")

_NODE_SQL = """
SELECT thing_id, kind, attributes ->> 'parent', adcode, credit_code,
       features #>> '{connectivity,properties,online}',
       features #>> '{alarm,properties,state}', features #>> '{alarm,properties,level}',
       features #>> '{risk,properties,level}', attributes ->> 'name'
FROM things WHERE deleted_at IS NULL
"""


@dataclass(frozen=True)
class NodeState:
    """What the graph keeps of a twin."""

    kind: str
    parent: str | None
    adcode: str | None
    credit_code: str | None
    online: bool | None
    alarm_level: str | None  # the level of its open alarm, if any
    risk_level: str | None
    name: str | None


@dataclass
class Rollup:
    """What lies under a twin, summed up."""

    counts: Counter[str] = field(default_factory=Counter)
    points_online: int = 0
    gateways_online: int = 0
    worst_alarm: str | None = None
    open_alarms: int = 0
    risk_levels: Counter[str] = field(default_factory=Counter)

    @property
    def point_online_rate(self) -> float | None:
        """Share of points online (None when there are none)."""
        points = self.counts["point"]
        return self.points_online / points if points else None


def _state(row: tuple[Any, ...]) -> tuple[str, NodeState]:
    tid, kind, parent, adcode, credit_code, online, alarm_state, alarm_level, risk, name = row
    active = alarm_state not in (None, "normal", "cleared")
    return tid, NodeState(
        kind=kind,
        parent=parent,
        adcode=adcode,
        credit_code=credit_code,
        online=None if online is None else online == "true",
        alarm_level=alarm_level if active else None,
        risk_level=risk,
        name=name,
    )


class TwinGraph:
    """The hierarchy of live twins."""

    def __init__(self) -> None:
        self.g: nx.DiGraph[str] = nx.DiGraph()
        self.ready = asyncio.Event()  # set once the first load is done

    def upsert(self, thing_id: str, state: NodeState) -> None:
        """Add or refresh one twin, moving it if its parent changed."""
        if thing_id in self.g:
            for old_parent in list(self.g.predecessors(thing_id)):
                if old_parent != state.parent:
                    self.g.remove_edge(old_parent, thing_id)
        self.g.add_node(thing_id, state=state)
        if state.parent:
            self.g.add_edge(state.parent, thing_id)

    def remove(self, thing_id: str) -> None:
        """Forget a twin (its children stay until they are removed too)."""
        if thing_id in self.g:
            self.g.remove_node(thing_id)

    def state(self, thing_id: str) -> NodeState | None:
        """What the graph knows of a twin."""
        data = self.g.nodes.get(thing_id)
        return data.get("state") if data else None

    def children(self, thing_id: str) -> list[str]:
        """The twins directly under one."""
        return sorted(self.g.successors(thing_id)) if thing_id in self.g else []

    def descendants(self, thing_id: str, kind: str | None = None) -> list[str]:
        """Everything under a twin (optionally of one kind)."""
        if thing_id not in self.g:
            return []
        found = nx.descendants(self.g, thing_id)
        return sorted(t for t in found if kind is None or self._kind(t) == kind)

    def _kind(self, thing_id: str) -> str | None:
        s = self.state(thing_id)
        return s.kind if s else None

    def rollup(self, thing_id: str) -> Rollup:
        """Counts, online points and gateways, worst open alarm and risk levels under a twin."""
        result = Rollup()
        worst = 0
        for tid in [thing_id, *self.descendants(thing_id)]:
            s = self.state(tid)
            if s is None or (tid == thing_id and s.kind not in ("enterprise",)):
                continue
            result.counts[s.kind] += 1
            if s.kind == "point" and s.online:
                result.points_online += 1
            if s.kind == "gateway" and s.online:
                result.gateways_online += 1
            if s.alarm_level is not None:
                result.open_alarms += 1
                severity = ALARM_SEVERITY.get(s.alarm_level, 0)
                if severity > worst:
                    worst, result.worst_alarm = severity, s.alarm_level
            if s.kind == "enterprise" and s.risk_level in RISK_LEVELS:
                result.risk_levels[s.risk_level] += 1
        return result

    async def load(self, conn: AsyncConnection[Any]) -> int:
        """Rebuild from the store; returns the number of twins."""
        cur = await conn.execute(_NODE_SQL)
        fresh = TwinGraph()
        for row in await cur.fetchall():
            fresh.upsert(*_state(row))
        self.g = fresh.g
        return int(self.g.number_of_nodes())

    async def refresh(self, conn: AsyncConnection[Any], thing_ids: Iterable[str]) -> None:
        """Re-read some twins after a change: upsert the live ones, drop the rest."""
        ids = sorted(set(thing_ids))
        cur = await conn.execute(_NODE_SQL + " AND thing_id = ANY(%s)", (ids,))
        seen = set()
        for row in await cur.fetchall():
            tid, state = _state(row)
            self.upsert(tid, state)
            seen.add(tid)
        for tid in set(ids) - seen:
            self.remove(tid)

    async def follow(self, dsn: str, stop: asyncio.Event, *, batch_s: float = 0.1) -> None:
        """Keep the graph current from the store's notifications until ``stop`` is set."""
        failing = False
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    # listen first, then load: no change can fall between the two
                    await conn.execute(f"LISTEN {CHANNEL}")
                    await self.load(conn)
                    self.ready.set()
                    if failing:
                        log.warning("twin graph: database reachable again; rebuilt")
                        failing = False
                    await self._listen(conn, stop, batch_s)
            except psycopg.OperationalError as err:
                if not failing:
                    log.error("twin graph: lost the database (%s); retrying", err)
                    failing = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)

    async def _listen(
        self, conn: AsyncConnection[Any], stop: asyncio.Event, batch_s: float
    ) -> None:
        while not stop.is_set():
            changed: set[str] = set()
            async for note in conn.notifies(timeout=batch_s * 5, stop_after=1000):
                changed.add(note.payload.split(":", 1)[1])
            if changed:
                await self.refresh(conn, changed)
