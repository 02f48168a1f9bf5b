"""Time-series upkeep on both storage modes: partitions, rollups, retention, exactly-once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from connectors.timeseries import (
    Retention,
    ensure_partitions,
    maintain,
    mark_rollup_pending,
    refresh_pending_rollups,
    refresh_rollups,
)

Conn = psycopg.Connection[tuple[object, ...]]
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
GOOD, FAULT, OVER_RANGE = 0, 1, 3


def _insert(conn: Conn, rows: Sequence[tuple[datetime, int, float | None, int]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (time, point_id, value, quality) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            rows,
        )


def _count(conn: Conn, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_same_point_and_time_is_stored_once(ts_conn: Conn) -> None:
    _insert(ts_conn, [(T0, 1, 40.0, GOOD), (T0, 1, 40.0, GOOD), (T0, 2, 41.0, GOOD)])
    assert _count(ts_conn, "SELECT count(*) FROM readings") == 2


def test_rollups_summarise_good_readings_only(ts_conn: Conn) -> None:
    rows: list[tuple[datetime, int, float | None, int]] = [
        (T0 + timedelta(seconds=10 * i), 7, float(30 + i), GOOD) for i in range(12)
    ]
    rows += [
        (T0 + timedelta(seconds=5), 7, 999.0, OVER_RANGE),
        (T0 + timedelta(seconds=15), 7, None, FAULT),
    ]
    _insert(ts_conn, rows)
    refresh_rollups(ts_conn, T0, T0 + timedelta(minutes=2))
    minutes = ts_conn.execute(
        "SELECT bucket, n, sum / n, min, max FROM readings_1m WHERE point_id = 7 ORDER BY bucket"
    ).fetchall()
    assert minutes == [
        (T0, 6, 32.5, 30.0, 35.0),
        (T0 + timedelta(minutes=1), 6, 38.5, 36.0, 41.0),
    ]
    hour = ts_conn.execute("SELECT bucket, n, sum / n, min, max FROM readings_1h").fetchall()
    assert hour == [(T0, 12, 35.5, 30.0, 41.0)]


def test_refresh_is_idempotent_and_follows_corrections(ts_conn: Conn) -> None:
    _insert(ts_conn, [(T0, 3, 10.0, GOOD)])
    refresh_rollups(ts_conn, T0, T0 + timedelta(minutes=1))
    refresh_rollups(ts_conn, T0, T0 + timedelta(minutes=1))
    _insert(ts_conn, [(T0 + timedelta(seconds=30), 3, 20.0, GOOD)])
    refresh_rollups(ts_conn, T0, T0 + timedelta(minutes=1))
    assert ts_conn.execute("SELECT n, sum, max FROM readings_1h").fetchall() == [(2, 30.0, 20.0)]


def test_late_readings_marked_pending_are_rolled_up(ts_conn: Conn) -> None:
    old = T0 - timedelta(days=3)
    _insert(ts_conn, [(old, 5, 1.0, GOOD), (old + timedelta(minutes=70), 5, 2.0, GOOD)])
    mark_rollup_pending(ts_conn, [old, old + timedelta(minutes=70)])
    assert refresh_pending_rollups(ts_conn) == 2
    assert _count(ts_conn, "SELECT count(*) FROM readings_1h WHERE point_id = 5") == 2
    assert _count(ts_conn, "SELECT count(*) FROM rollup_pending") == 0


def test_maintenance_drops_expired_data_and_keeps_the_rest(ts_conn: Conn) -> None:
    now = T0
    retention = Retention(
        raw=timedelta(days=30), minute=timedelta(days=60), hour=timedelta(days=400)
    )
    ancient, recent = now - timedelta(days=45), now - timedelta(hours=2)
    ensure_partitions(ts_conn, ancient - timedelta(days=1), now)
    _insert(ts_conn, [(ancient, 9, 1.0, GOOD), (recent, 9, 2.0, GOOD)])
    refresh_rollups(ts_conn, ancient, ancient + timedelta(minutes=1))
    maintain(ts_conn, now, retention)
    assert ts_conn.execute("SELECT value FROM readings").fetchall() == [(2.0,)]
    # the rollups of the expired day stay: their retention is longer
    assert _count(ts_conn, "SELECT count(*) FROM readings_1h WHERE point_id = 9") == 1


def test_plain_mode_moves_early_arrivals_into_their_new_partition(
    migrated_dsns: dict[str, str],
) -> None:
    with psycopg.connect(migrated_dsns["plain"], autocommit=True) as conn:
        when = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)  # no partition exists that far ahead
        _insert(conn, [(when, 11, 5.0, GOOD)])
        where = conn.execute("SELECT tableoid::regclass::text FROM readings WHERE point_id = 11")
        assert where.fetchall() == [("readings_default",)]
        created = ensure_partitions(conn, when, when + timedelta(hours=1))
        moved = conn.execute(
            "SELECT tableoid::regclass::text, value FROM readings WHERE point_id = 11"
        )
        assert created >= 1
        assert moved.fetchall() == [("readings_p20310504_0000", 5.0)]
        conn.execute("DELETE FROM readings WHERE point_id = 11")
