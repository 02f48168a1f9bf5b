"""Daily statistics (online rate, data completeness, alarm counts) per enterprise and region.

Recomputed whole for a day by one idempotent statement set, so the job can run as often as it
likes and catch up after an outage. Days are China days (UTC+8), as the regulators count them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Final

from psycopg import AsyncConnection

CHINA: Final = timezone(timedelta(hours=8), "CST")
DEFAULT_UPLOAD_PERIOD_S: Final = 300  # protocol v1 §6: data at least every 5 min [FOUND]


def day_bounds(day: date, now: datetime) -> tuple[datetime, datetime]:
    """The day's start and its end (or now, while it lasts), in UTC."""
    start = datetime.combine(day, time(0), CHINA).astimezone(UTC)
    return start, min(start + timedelta(days=1), now)


async def compute_day(conn: AsyncConnection[Any], day: date, now: datetime) -> int:
    """(Re)compute one day's statistics; returns the number of enterprise rows."""
    start, end = day_bounds(day, now)
    if end <= start:
        return 0
    params = {"start": start, "end": end, "day": day, "period": DEFAULT_UPLOAD_PERIOD_S}
    cur = await conn.execute(
        """
        WITH ent AS (
            SELECT thing_id, credit_code, adcode FROM things
            WHERE kind = 'enterprise' AND deleted_at IS NULL AND credit_code IS NOT NULL
        ), ev AS (
            SELECT c.thing_id, c.at, c.online,
                   lead(c.at) OVER (PARTITION BY c.thing_id ORDER BY c.at) AS next_at
            FROM connectivity_events c JOIN ent USING (thing_id)
            WHERE c.at < %(end)s
        ), online AS (
            -- time inside an approved plant-wide maintenance filing counts neither way
            SELECT ev.thing_id, sum(dt_range_seconds(
                       tstzmultirange(tstzrange(greatest(ev.at, %(start)s),
                                                least(coalesce(ev.next_at, %(end)s), %(end)s)))
                       - dt_filed_ranges(ent.credit_code, NULL, %(start)s, %(end)s))) AS seconds
            FROM ev JOIN ent USING (thing_id)
            WHERE ev.online AND coalesce(ev.next_at, %(end)s) > %(start)s
            GROUP BY ev.thing_id
        ), points AS (
            SELECT p.credit_code, count(*) AS n,
                   sum(extract(epoch FROM %(end)s - %(start)s)
                       / coalesce((g.attributes ->> 'upload_period_s')::int, %(period)s))
                       AS expected
            FROM things p
            LEFT JOIN things g ON g.kind = 'gateway' AND g.deleted_at IS NULL
                 AND g.credit_code = p.credit_code
                 AND g.attributes ->> 'gateway_id' = p.attributes ->> 'gateway_id'
            WHERE p.kind = 'point' AND p.deleted_at IS NULL
            GROUP BY p.credit_code
        ), received AS (
            SELECT t.credit_code, sum(r.n) AS n
            FROM readings_1m r JOIN things t ON t.id = r.point_id
            WHERE r.bucket >= %(start)s AND r.bucket < %(end)s
            GROUP BY t.credit_code
        ), alarm_counts AS (
            SELECT credit_code, count(*) AS n, jsonb_object_agg(level, k) AS by_level
            FROM (SELECT credit_code, level, count(*) AS k FROM alarms
                  WHERE raised_at >= %(start)s AND raised_at < %(end)s
                  GROUP BY credit_code, level) x
            GROUP BY credit_code
        )
        INSERT INTO daily_stats (day, scope_kind, scope_key, adcode, online_rate, completeness,
                                 alarms, alarms_by_level, enterprises, computed_at)
        SELECT %(day)s, 'enterprise', e.credit_code, e.adcode,
               coalesce(o.seconds, 0) / nullif(extract(epoch FROM %(end)s - %(start)s)
                   - dt_range_seconds(dt_filed_ranges(e.credit_code, NULL, %(start)s, %(end)s)),
                   0),
               CASE WHEN p.expected > 0 THEN least(1.0, coalesce(r.n, 0) / p.expected) END,
               coalesce(a.n, 0), coalesce(a.by_level, '{}'), 1, now()
        FROM ent e
        LEFT JOIN online o USING (thing_id)
        LEFT JOIN points p ON p.credit_code = e.credit_code
        LEFT JOIN received r ON r.credit_code = e.credit_code
        LEFT JOIN alarm_counts a ON a.credit_code = e.credit_code
        ON CONFLICT (day, scope_kind, scope_key) DO UPDATE SET
            online_rate = EXCLUDED.online_rate, completeness = EXCLUDED.completeness,
            alarms = EXCLUDED.alarms, alarms_by_level = EXCLUDED.alarms_by_level,
            computed_at = EXCLUDED.computed_at
        """,
        params,
    )
    rows = cur.rowcount
    # regions: every county, city and province prefix of the enterprises' adcodes
    await conn.execute(
        """
        WITH e AS (
            SELECT * FROM daily_stats WHERE day = %(day)s AND scope_kind = 'enterprise'
        ), r AS (
            SELECT region, e.* FROM e,
                   LATERAL (VALUES (e.adcode), (substr(e.adcode, 1, 4) || '00'),
                                   (substr(e.adcode, 1, 2) || '0000'), ('000000')) v(region)
        ), levels AS (
            SELECT region, jsonb_object_agg(level, n) AS by_level FROM (
                SELECT region, l.key AS level, sum(l.value::int) AS n
                FROM r, jsonb_each_text(r.alarms_by_level) l GROUP BY region, l.key) x
            GROUP BY region
        )
        INSERT INTO daily_stats (day, scope_kind, scope_key, adcode, online_rate, completeness,
                                 alarms, alarms_by_level, enterprises, computed_at)
        SELECT %(day)s, 'region', r.region, r.region, avg(r.online_rate), avg(r.completeness),
               sum(r.alarms), coalesce(min(levels.by_level::text)::jsonb, '{}'), count(*), now()
        FROM r LEFT JOIN levels USING (region)
        GROUP BY r.region
        ON CONFLICT (day, scope_kind, scope_key) DO UPDATE SET
            online_rate = EXCLUDED.online_rate, completeness = EXCLUDED.completeness,
            alarms = EXCLUDED.alarms, alarms_by_level = EXCLUDED.alarms_by_level,
            enterprises = EXCLUDED.enterprises, computed_at = EXCLUDED.computed_at
        """,
        {"day": day},
    )
    return rows


def china_day(at: datetime) -> date:
    """The China day ``at`` falls in."""
    return at.astimezone(CHINA).date()
