"""What the enterprise live-twin page (企业端实时孪生) reads, always within the caller's scope.

The functions are ``async`` over one psycopg ``AsyncConnection`` (the platform's time-series and
risk readers are async); Dash callbacks are synchronous, so they call ``run(dsn, fn)``, which opens
one loopback connection, runs the query function on it with ``asyncio.run`` and closes it again.
Every function takes the caller's ``Scope`` and treats "outside the scope" exactly like
"does not exist" (None or an empty result), so a tampered URL reveals nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeVar

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from connectors.readings import Bucket, bucketed, raw_readings
from device_catalog import Catalog, UnknownIndicatorError
from risk.alarms import AlarmFilter, list_alarms
from risk.assessment import load_facts
from risk.model import Evaluation, Lever, RiskModel, evaluate, what_to_lower
from twins.registry import public_point
from twins.scope import Scope

__all__ = [
    "RANGES",
    "EnterpriseHeader",
    "PlantView",
    "PointRow",
    "RangeKey",
    "RiskView",
    "Snapshot",
    "SystemRow",
    "Trend",
    "enterprise_header",
    "open_alarms",
    "plant",
    "point",
    "point_trend",
    "risk_view",
    "run",
    "snapshot",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

RangeKey = Literal["1h", "24h", "7d", "30d", "1y"]
# span and bucket per trend range; None: raw readings. Longer ranges read the rollups
# (connectors.readings.source_for picks readings_1m / readings_1h from span and bucket).
RANGES: Final[dict[RangeKey, tuple[timedelta, timedelta | None]]] = {
    "1h": (timedelta(hours=1), None),
    "24h": (timedelta(hours=24), timedelta(minutes=5)),
    "7d": (timedelta(days=7), timedelta(hours=1)),
    "30d": (timedelta(days=30), timedelta(hours=4)),
    "1y": (timedelta(days=365), timedelta(days=1)),
}
OPEN_ALARM_FEATURE_STATES: Final = (None, "normal", "cleared")  # what counts as "no open alarm"
CONNECT_TIMEOUT_S: Final = 5


async def _connect_and(dsn: str, fn: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    ) as conn:
        return await fn(conn)


def run(dsn: str, fn: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    """Run one query function on a fresh connection, synchronously (for Dash callbacks)."""
    return asyncio.run(_connect_and(dsn, fn))


# ---------------------------------------------------------------- the enterprise


@dataclass(frozen=True)
class EnterpriseHeader:
    """The enterprise the page shows: its name and keys."""

    credit_code: str
    thing_id: str
    name: str
    adcode: str | None


async def enterprise_header(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str
) -> EnterpriseHeader | None:
    """The enterprise, or None when it does not exist or lies outside the scope."""
    query = sql.SQL(
        "SELECT thing_id, attributes ->> 'name' AS name, adcode FROM things"
        " WHERE kind = 'enterprise' AND credit_code = {cc} AND {where}"
    ).format(cc=sql.Literal(credit_code), where=scope.where())
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query)
        row = await cur.fetchone()
    if row is None or not scope.sees("enterprise", row["adcode"], credit_code):
        return None
    return EnterpriseHeader(credit_code, row["thing_id"], row["name"] or credit_code, row["adcode"])


# ---------------------------------------------------------------- the plant, live


@dataclass(frozen=True)
class PointRow:
    """One point as the live table shows it: its latest measurement and open alarm."""

    point_id: int  # the readings' point_id (things.id)
    thing_id: str
    point_code: str
    system_code: str
    indicator: str
    name: str
    unit: str
    value: float | None
    ts: str | None  # ISO time of the value, as the twin holds it
    quality: str | None  # GOOD, FAULT, MAINT, OVER_RANGE; None before any data
    alarm_state: str | None
    alarm_level: str | None
    online: bool | None
    limits: dict[str, float | None] = field(default_factory=dict)  # hha, ha, la, lla in force
    # the catalog evaluates this indicator's limits only while the system runs (gate), and its
    # running signal says it is stopped: a low pressure difference is then no alarm, and the
    # live view must not paint it as one
    limits_paused: bool = False

    @property
    def alarm_open(self) -> bool:
        """Whether the point has an open alarm."""
        return self.alarm_state not in OPEN_ALARM_FEATURE_STATES


@dataclass(frozen=True)
class SystemRow:
    """One dust-removal system (除尘系统) with its points."""

    system_code: str
    name: str
    collector: str | None
    points: tuple[PointRow, ...]


@dataclass(frozen=True)
class PlantView:
    """The enterprise as its hierarchy: systems → points."""

    credit_code: str
    systems: tuple[SystemRow, ...]

    def point(self, point_id: int) -> PointRow | None:
        """One point of the plant by its id."""
        for s in self.systems:
            for p in s.points:
                if p.point_id == point_id:
                    return p
        return None


def _limits(attributes: dict[str, Any], catalog: Catalog) -> dict[str, float | None]:
    try:
        limits = public_point(attributes, catalog).effective_limits
    except (KeyError, ValueError, UnknownIndicatorError) as err:
        # a point whose record no longer fits the catalog still shows its value, without lines
        log.warning("point %s: no limits in force (%s)", attributes.get("point_code"), err)
        return {}
    return {k: limits.get(k) for k in ("hha", "ha", "la", "lla")}


def _indicator_name(code: str, catalog: Catalog) -> tuple[str, str]:
    try:
        ind = catalog.indicator(code)
    except UnknownIndicatorError:
        return code, code
    return ind.name_zh, ind.name_en


def _point_row(r: dict[str, Any], catalog: Catalog, lang: str) -> PointRow:
    a, f = r["attributes"], r["features"]
    m = (f.get("measurement") or {}).get("properties") or {}
    al = (f.get("alarm") or {}).get("properties") or {}
    connectivity = (f.get("connectivity") or {}).get("properties") or {}
    zh, en = _indicator_name(a.get("indicator", ""), catalog)
    return PointRow(
        point_id=int(r["id"]),
        thing_id=r["thing_id"],
        point_code=a.get("point_code", r["thing_id"]),
        system_code=a.get("system_code", ""),
        indicator=a.get("indicator", ""),
        name=a.get("name") or (zh if lang == "zh" else en),
        unit=a.get("unit", ""),
        value=None if m.get("value") is None else float(m["value"]),
        ts=m.get("ts"),
        quality=m.get("quality"),
        alarm_state=al.get("state"),
        alarm_level=al.get("level"),
        online=connectivity.get("online"),
        limits=_limits(a, catalog),
    )


async def _rows(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, extra: sql.Composable
) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT id, thing_id, kind, attributes, features FROM things"
        " WHERE credit_code = {cc} AND {where} AND {extra} ORDER BY id"
    ).format(cc=sql.Literal(credit_code), where=scope.where(), extra=extra)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def plant(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, catalog: Catalog, lang: str = "zh"
) -> PlantView:
    """Systems and their points with live values (empty when outside the scope)."""
    rows = await _rows(conn, scope, credit_code, sql.SQL("kind IN ('system', 'point')"))
    points: dict[str, list[PointRow]] = {}
    for r in rows:
        if r["kind"] == "point":
            p = _point_row(r, catalog, lang)
            points.setdefault(p.system_code, []).append(p)
    points = {code: with_gates(ps, catalog) for code, ps in points.items()}
    out = []
    for r in rows:
        if r["kind"] == "system":
            code = r["attributes"].get("system_code", "")
            name = r["attributes"].get("name") or code
            collector = r["attributes"].get("collector")
            out.append(SystemRow(code, name, collector, tuple(points.pop(code, []))))
    # points whose system is gone still belong to the plant: show them under their code
    out += [SystemRow(code, code, None, tuple(ps)) for code, ps in sorted(points.items())]
    return PlantView(credit_code, tuple(out))


def with_gates(points: list[PointRow], catalog: Catalog) -> list[PointRow]:
    """Mark the gated points of a system whose running signal reports it stopped (as the limit
    evaluation does: an unknown running state pauses nothing)."""
    signal = [p for p in points if p.indicator == catalog.running_signal and p.value is not None]
    if not signal or any(p.value != 0 for p in signal):
        return points
    return [replace(p, limits_paused=True) if _gated(p.indicator, catalog) else p for p in points]


def _gated(code: str, catalog: Catalog) -> bool:
    try:
        return catalog.indicator(code).gate is not None
    except UnknownIndicatorError:
        return False


async def point(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    point_id: int,
    catalog: Catalog,
    lang: str = "zh",
) -> PointRow | None:
    """One of the enterprise's points, live; None when it is not there or not the caller's."""
    extra = sql.SQL("kind = 'point' AND id = {}").format(sql.Literal(point_id))
    rows = await _rows(conn, scope, credit_code, extra)
    return _point_row(rows[0], catalog, lang) if rows else None


# ---------------------------------------------------------------- a point's trend


@dataclass(frozen=True)
class Trend:
    """A point's history over one range: raw values (1 h) or bucket averages with min/max."""

    range_key: RangeKey
    start: datetime
    end: datetime
    raw: bool
    times: tuple[datetime, ...]
    values: tuple[float | None, ...]
    mins: tuple[float | None, ...] = ()
    maxs: tuple[float | None, ...] = ()


def trend_from_buckets(
    range_key: RangeKey, start: datetime, end: datetime, buckets: list[Bucket]
) -> Trend:
    """A trend of bucket averages (with the band between min and max)."""
    return Trend(
        range_key,
        start,
        end,
        False,
        tuple(b.time for b in buckets),
        tuple(b.avg for b in buckets),
        tuple(b.min for b in buckets),
        tuple(b.max for b in buckets),
    )


async def point_trend(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    point_id: int,
    range_key: RangeKey,
    now: datetime,
) -> Trend | None:
    """The point's trend over the range ending now; None when the point is not the caller's."""
    extra = sql.SQL("kind = 'point' AND id = {}").format(sql.Literal(point_id))
    if not await _rows(conn, scope, credit_code, extra):
        return None
    span, bucket = RANGES[range_key]
    start = now - span
    if bucket is None:
        rows = await raw_readings(conn, point_id, start, now)
        good = [(t, v) for t, v, q in rows if q == 0]  # trends show GOOD values only
        return Trend(
            range_key, start, now, True, tuple(t for t, _ in good), tuple(v for _, v in good)
        )
    return trend_from_buckets(
        range_key, start, now, await bucketed(conn, point_id, start, now, bucket)
    )


# ---------------------------------------------------------------- risk and alarms


@dataclass(frozen=True)
class RiskView:
    """The enterprise's risk now: the evaluation and what would lower it."""

    evaluation: Evaluation
    levers: tuple[Lever, ...]


async def risk_view(
    conn: AsyncConnection[Any], scope: Scope, model: RiskModel, credit_code: str, now: datetime
) -> RiskView | None:
    """Evaluate the enterprise now (nothing stored); None when outside the scope or unscorable."""
    facts = await load_facts(conn, model, now, [credit_code])
    f = facts.get(credit_code)
    if f is None or not scope.sees("enterprise", f.adcode, credit_code):
        return None
    evaluation = evaluate(model, f.inputs, now)
    return RiskView(evaluation, tuple(what_to_lower(evaluation)))


async def open_alarms(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, now: datetime, limit: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    """The enterprise's open alarms the caller sees (newest first) and how many there are."""
    return await list_alarms(
        conn, scope, AlarmFilter(credit_code=credit_code, open_only=True), now, limit=limit
    )


# ---------------------------------------------------------------- everything live, at once


@dataclass(frozen=True)
class Snapshot:
    """What one refresh of the page shows: plant, risk and open alarms."""

    header: EnterpriseHeader
    plant: PlantView
    risk: RiskView | None
    alarms_total: int
    alarms: list[dict[str, Any]]


async def snapshot(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    catalog: Catalog,
    model: RiskModel,
    now: datetime,
    lang: str = "zh",
) -> Snapshot | None:
    """The page's live content on one connection; None when the enterprise is not the caller's."""
    header = await enterprise_header(conn, scope, credit_code)
    if header is None:
        return None
    the_plant = await plant(conn, scope, credit_code, catalog, lang)
    risk = await risk_view(conn, scope, model, credit_code, now)
    total, alarms = await open_alarms(conn, scope, credit_code, now)
    return Snapshot(header, the_plant, risk, total, alarms)
