"""Reading a point's history: raw values, or time buckets from the rollups for long ranges.

Short ranges are bucketed from the raw readings (exact up to the last second); longer ones from the
minute rollups, a month or more from the hourly ones, so a year of one point at 1-hour buckets
reads 8,760 rows. Rollups trail the raw data by at most the upkeep job's period (one minute).
Only GOOD values enter buckets (fault, maintenance and out-of-range values stay out of trends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import AsyncConnection, sql

MAX_RAW_ROWS = 20_000
RAW_BUCKET_SOURCE_MAX_SPAN = timedelta(days=2)
MINUTE_SOURCE_MAX_SPAN = timedelta(days=31)
_BUCKET_RE = re.compile(r"^(\d{1,4})(s|m|h|d)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
Fill = Literal["none", "null", "previous"]
_ORIGIN = "2000-01-01 00:00:00+00"


class ReadingsQueryError(ValueError):
    """A readings query that cannot be answered as asked (the message says how to ask)."""


def parse_bucket(text: str) -> timedelta:
    """``30s``, ``5m``, ``1h``, ``1d`` … as a duration (10 s at least)."""
    match = _BUCKET_RE.match(text)
    if not match:
        raise ReadingsQueryError(f"bucket {text!r}: a number and s, m, h or d, e.g. 5m or 1h")
    size = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if size < timedelta(seconds=10):
        raise ReadingsQueryError("a bucket is 10 seconds or longer")
    return size


@dataclass(frozen=True)
class Bucket:
    """One time bucket of a point's GOOD values (None everywhere when gap-filled)."""

    time: datetime
    avg: float | None
    min: float | None
    max: float | None
    count: int


def source_for(
    span: timedelta, bucket: timedelta
) -> Literal["readings", "readings_1m", "readings_1h"]:
    """Which table answers a bucketed query of this span."""
    if bucket >= timedelta(hours=1) and span > MINUTE_SOURCE_MAX_SPAN:
        return "readings_1h"
    if bucket >= timedelta(minutes=1) and span > RAW_BUCKET_SOURCE_MAX_SPAN:
        return "readings_1m" if bucket % timedelta(minutes=1) == timedelta(0) else "readings"
    return "readings"


async def raw_readings(
    conn: AsyncConnection[Any], point_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, float | None, int]]:
    """The stored readings of [start, end): time, value, quality code."""
    cur = await conn.execute(
        "SELECT time, value, quality FROM readings WHERE point_id = %s AND time >= %s AND time < %s"
        " ORDER BY time LIMIT %s",
        (point_id, start, end, MAX_RAW_ROWS + 1),
    )
    rows = await cur.fetchall()
    if len(rows) > MAX_RAW_ROWS:
        raise ReadingsQueryError(
            f"more than {MAX_RAW_ROWS} readings in that range: ask for buckets (bucket=1m, 1h …)"
        )
    return [(r[0], r[1], int(r[2])) for r in rows]


async def bucketed(
    conn: AsyncConnection[Any],
    point_id: int,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    fill: Fill = "none",
) -> list[Bucket]:
    """Buckets of [start, end) aligned on 2000-01-01 UTC, from the cheapest exact source."""
    if (end - start) / bucket > MAX_RAW_ROWS:
        raise ReadingsQueryError(f"more than {MAX_RAW_ROWS} buckets: ask for larger ones")
    table = source_for(end - start, bucket)
    if table == "readings":
        inner = sql.SQL(
            "SELECT date_bin({b}, time, {o}) AS t, avg(value) AS avg, min(value) AS min,"
            " max(value) AS max, count(*) AS n FROM readings"
            " WHERE point_id = {p} AND time >= {s} AND time < {e} AND quality = 0"
            " AND value IS NOT NULL GROUP BY 1"
        )
    else:
        inner = sql.SQL(
            "SELECT date_bin({b}, bucket, {o}) AS t, sum(sum) / sum(n) AS avg, min(min) AS min,"
            " max(max) AS max, sum(n) AS n FROM {table}"
            " WHERE point_id = {p} AND bucket >= {s} AND bucket < {e} GROUP BY 1"
        )
    params = {
        "b": sql.Literal(bucket),
        "o": sql.Literal(_ORIGIN),
        "p": sql.Literal(point_id),
        "s": sql.Literal(start),
        "e": sql.Literal(end),
        "table": sql.Identifier(table),
    }
    query = inner.format(**params)
    if fill != "none":
        query = sql.SQL(
            "SELECT g.t, d.avg, d.min, d.max, coalesce(d.n, 0) FROM generate_series("
            "date_bin({b}, {s}::timestamptz, {o}),"
            " {e}::timestamptz - interval '1 microsecond', {b}) AS g(t)"
            " LEFT JOIN ({inner}) d ON d.t = g.t ORDER BY g.t"
        ).format(inner=query, **params)
    else:
        query = sql.SQL("{} ORDER BY 1").format(query)
    cur = await conn.execute(query)
    buckets = [Bucket(r[0], r[1], r[2], r[3], int(r[4])) for r in await cur.fetchall()]
    return _carry_forward(buckets) if fill == "previous" else buckets


def _carry_forward(buckets: list[Bucket]) -> list[Bucket]:
    """Empty buckets take the previous bucket's values (count stays 0: nothing was measured)."""
    out: list[Bucket] = []
    last: Bucket | None = None
    for b in buckets:
        if b.count == 0 and last is not None:
            out.append(Bucket(b.time, last.avg, last.min, last.max, 0))
        else:
            out.append(b)
            last = b if b.count else last
    return out
