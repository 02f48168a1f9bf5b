"""Read-side queries of the risk room: level distribution and an enterprise's level history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from risk.model import LEVELS
from twins.regions import scope_prefix
from twins.scope import Scope


async def level_counts(
    conn: AsyncConnection[Any], scope: Scope, adcode: str | None
) -> dict[str, Any]:
    """Enterprises per risk level within the scope (and under ``adcode`` when given)."""
    prefix = scope_prefix(adcode) if adcode else ""
    async with conn.cursor(row_factory=dict_row) as cur:
        # scope.where() holds a LIKE pattern: compose literals only, pass no parameters
        await cur.execute(
            sql.SQL(
                "SELECT coalesce(features #>> '{{risk,properties,level}}', 'unknown') AS level,"
                " count(*) AS n FROM things WHERE kind = 'enterprise' AND {} AND adcode LIKE {}"
                " GROUP BY 1"
            ).format(scope.where(), sql.Literal(prefix + "%"))
        )
        rows = await cur.fetchall()
    counts = {level: 0 for level in (*reversed(LEVELS), "unknown")}
    counts.update({r["level"]: int(r["n"]) for r in rows})
    return {"adcode": adcode, "levels": counts, "total": sum(counts.values())}


async def risk_history(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, start: datetime, end: datetime
) -> list[dict[str, Any]] | None:
    """An enterprise's stored evaluations overlapping [start, end); None if not visible."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT adcode FROM things WHERE kind = 'enterprise' AND credit_code = %s"
            " AND deleted_at IS NULL",
            (credit_code,),
        )
        row = await cur.fetchone()
        if row is None or not scope.sees("enterprise", row["adcode"], credit_code):
            return None
        await cur.execute(
            "SELECT evaluated_at, confirmed_at, score, level, model_version FROM risk_evaluations"
            " WHERE credit_code = %s AND confirmed_at >= %s AND evaluated_at < %s"
            " ORDER BY evaluated_at",
            (credit_code, start, end),
        )
        return list(await cur.fetchall())
