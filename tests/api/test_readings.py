"""A point's history through the API: raw values, buckets from the right source, gap filling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from connectors.timeseries import refresh_rollups
from tests.api.demo_data import JIADING_ONE, OWN

POINT = next(p for p in OWN.points if p.indicator == "HOPPER_TEMP" or p.indicator == "TANK_LEVEL")
URL = f"/api/v1/points/{OWN.record.credit_code}/{POINT.point_code}/readings"
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def _seed_history(dsn: str) -> None:
    """A year of hourly values and one day of 10-second values, rolled up as the job does."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT id FROM things WHERE thing_id = %s",
            (f"dusttwin:point-{OWN.record.credit_code}-{POINT.point_code}",),
        ).fetchone()
        assert row is not None
        pid = row[0]
        conn.execute(
            "SELECT dt_ensure_partitions(name, %s, %s) FROM timeseries_tables",
            (T0 - timedelta(days=366), T0 + timedelta(days=2)),
        )
        with conn.cursor() as cur:
            with cur.copy("COPY readings (time, point_id, value, quality) FROM STDIN") as copy:
                for h in range(1, 365 * 24 + 1):
                    copy.write_row((T0 - timedelta(hours=h), pid, 30 + h % 24, 0))
                for s in range(0, 24 * 3600, 10):
                    t = T0 + timedelta(seconds=s)
                    copy.write_row(
                        (t, pid, 999.0 if s == 50 else 40.0 + (s // 3600), 3 if s == 50 else 0)
                    )
            conn.execute(
                "DELETE FROM readings WHERE point_id = %s AND time >= %s AND time < %s",
                (pid, T0 + timedelta(hours=5), T0 + timedelta(hours=7)),
            )  # an outage
        refresh_rollups(conn, T0 - timedelta(days=366), T0 + timedelta(days=1))


async def test_history_raw_bucketed_and_gap_filled(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> None:
    _seed_history(seeded["DUSTTWIN_DATABASE_URL"])
    h = tokens["baoshan"]
    raw = await api.get(
        URL,
        params={"from": T0.isoformat(), "to": (T0 + timedelta(minutes=1)).isoformat()},
        headers=h,
    )
    minutes = await api.get(
        URL,
        params={
            "from": T0.isoformat(),
            "to": (T0 + timedelta(hours=2)).isoformat(),
            "bucket": "1h",
        },
        headers=h,
    )
    year = await api.get(
        URL,
        params={
            "from": (T0 - timedelta(days=365)).isoformat(),
            "to": T0.isoformat(),
            "bucket": "1h",
        },
        headers=h,
    )
    gap_null = await api.get(
        URL,
        params={
            "from": T0.isoformat(),
            "to": (T0 + timedelta(hours=8)).isoformat(),
            "bucket": "1h",
            "fill": "null",
        },
        headers=h,
    )
    gap_prev = await api.get(
        URL,
        params={
            "from": T0.isoformat(),
            "to": (T0 + timedelta(hours=8)).isoformat(),
            "bucket": "1h",
            "fill": "previous",
        },
        headers=h,
    )
    assert raw.status_code == 200, raw.text
    assert [r["quality"] for r in raw.json()["raw"]] == ["GOOD"] * 5 + ["OVER_RANGE"]
    first_hour = minutes.json()["buckets"][0]
    assert minutes.json()["source"] == "readings"
    assert (first_hour["avg"], first_hour["count"], first_hour["max"]) == (
        40.0,
        359,
        40.0,
    )  # 999 left out
    assert year.json()["source"] == "readings_1h"
    assert len(year.json()["buckets"]) == 365 * 24
    assert year.json()["buckets"][-1]["avg"] == 31.0
    assert [b["count"] for b in gap_null.json()["buckets"]][4:8] == [360, 0, 0, 360]
    assert gap_null.json()["buckets"][5]["avg"] is None
    assert gap_prev.json()["buckets"][5]["avg"] == gap_prev.json()["buckets"][4]["avg"] == 44.0


async def test_history_is_scoped_and_checked(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    outside = await api.get(URL, headers=tokens["jiading"])
    bad_bucket = await api.get(URL, params={"bucket": "5 minutes"}, headers=tokens["baoshan"])
    backwards = await api.get(
        URL,
        params={"from": "2026-06-02T00:00:00+08:00", "to": "2026-06-01T00:00:00+08:00"},
        headers=tokens["baoshan"],
    )
    cc, code = JIADING_ONE.record.credit_code, JIADING_ONE.points[0].point_code
    other = f"/api/v1/points/{cc}/{code}/readings"
    assert outside.status_code == 404
    assert bad_bucket.status_code == 422
    assert backwards.status_code == 422
    assert (await api.get(other, headers=tokens["baoshan"])).status_code == 404
