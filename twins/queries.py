"""Listing twins for the registry API: enterprises with their filters, and an enterprise's parts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from twins.model import Json, TwinKind
from twins.scope import Scope


@dataclass(frozen=True)
class EnterpriseFilter:
    """What a regulator searches enterprises by (all optional, combined with AND)."""

    region: str | None = None  # adcode prefix: "31", "3101", "310113"
    industry: str | None = None
    dust_type: str | None = None
    workers_min: int | None = None
    workers_max: int | None = None
    key_enterprise: bool | None = None
    q: str | None = None  # part of the name, or the start of the credit code


@dataclass(frozen=True)
class Page:
    """One page of attributes, with the total across all pages."""

    items: list[Json]
    total: int
    page: int
    page_size: int


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def enterprise_conditions(f: EnterpriseFilter) -> list[sql.Composable]:
    conds: list[sql.Composable] = []
    if f.region:
        conds.append(sql.SQL("adcode LIKE {}").format(sql.Literal(_like_escape(f.region) + "%")))
    if f.industry:
        conds.append(sql.SQL("attributes ->> 'industry' = {}").format(sql.Literal(f.industry)))
    if f.dust_type:
        conds.append(sql.SQL("attributes -> 'dust_types' ? {}").format(sql.Literal(f.dust_type)))
    if f.workers_min is not None:
        conds.append(
            sql.SQL("(attributes ->> 'dust_workers')::int >= {}").format(sql.Literal(f.workers_min))
        )
    if f.workers_max is not None:
        conds.append(
            sql.SQL("(attributes ->> 'dust_workers')::int <= {}").format(sql.Literal(f.workers_max))
        )
    if f.key_enterprise is not None:
        conds.append(
            sql.SQL("(attributes ->> 'key_enterprise')::boolean = {}").format(
                sql.Literal(f.key_enterprise)
            )
        )
    if f.q:
        pattern = _like_escape(f.q)
        conds.append(
            sql.SQL("(attributes ->> 'name' ILIKE {} OR credit_code LIKE {})").format(
                sql.Literal("%" + pattern + "%"), sql.Literal(pattern.upper() + "%")
            )
        )
    return conds


async def list_enterprises(
    conn: AsyncConnection[Any], scope: Scope, f: EnterpriseFilter, page: int, page_size: int
) -> Page:
    """Enterprises in the scope matching the filter, by name."""
    where = sql.SQL(" AND ").join(
        [sql.SQL("kind = 'enterprise'"), scope.where(), *enterprise_conditions(f)]
    )
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(
            "SELECT attributes, count(*) OVER () AS total FROM things WHERE {}"
            " ORDER BY attributes ->> 'name', thing_id LIMIT {} OFFSET {}"
        ).format(where, sql.Literal(page_size), sql.Literal((page - 1) * page_size)),
    )
    rows = await cur.fetchall()
    total = int(rows[0]["total"]) if rows else await _count(conn, where)
    return Page([r["attributes"] for r in rows], total, page, page_size)


async def _count(conn: AsyncConnection[Any], where: sql.Composable) -> int:
    cur = await conn.execute(sql.SQL("SELECT count(*) FROM things WHERE {}").format(where))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def list_parts(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, kind: TwinKind
) -> list[Json]:
    """An enterprise's systems, gateways, points or cameras, by code."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(
            "SELECT attributes FROM things WHERE kind = {} AND credit_code = {} AND {}"
            " ORDER BY thing_id"
        ).format(sql.Literal(kind), sql.Literal(credit_code), scope.where()),
    )
    return [r["attributes"] for r in await cur.fetchall()]


@dataclass(frozen=True)
class GatewayPoints:
    """A live gateway with the points that report through it (code, indicator)."""

    credit_code: str
    gateway_id: str
    mqtt_username: str
    points: list[tuple[str, str]]


async def gateways_with_points(conn: AsyncConnection[Any]) -> list[GatewayPoints]:
    """Every live gateway and the points registered to it (the simulator's plant)."""
    cur = await conn.execute(
        """
        SELECT g.credit_code, g.attributes ->> 'gateway_id', g.attributes ->> 'mqtt_username',
               coalesce(array_agg(p.attributes ->> 'point_code' ORDER BY p.thing_id)
                        FILTER (WHERE p.thing_id IS NOT NULL), '{}'),
               coalesce(array_agg(p.attributes ->> 'indicator' ORDER BY p.thing_id)
                        FILTER (WHERE p.thing_id IS NOT NULL), '{}')
        FROM things g
        LEFT JOIN things p ON p.kind = 'point' AND p.deleted_at IS NULL
             AND p.credit_code = g.credit_code
             AND p.attributes ->> 'gateway_id' = g.attributes ->> 'gateway_id'
        WHERE g.kind = 'gateway' AND g.deleted_at IS NULL
        GROUP BY g.thing_id, g.credit_code, g.attributes
        ORDER BY g.thing_id
        """
    )
    return [
        GatewayPoints(str(cc), str(gw), str(user), list(zip(codes, indicators, strict=True)))
        for cc, gw, user, codes, indicators in await cur.fetchall()
    ]
