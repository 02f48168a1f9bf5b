"""Storage layer of the time series: partitions, rollups (1 min, 1 h) and retention.

The same calls work on TimescaleDB hypertables and on plain range-partitioned tables; the SQL
functions behind them (``dt_*``, migration 0001) branch on the mode each table was created in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

Conn = psycopg.Connection[tuple[object, ...]]

TIMESERIES_TABLES = ("readings", "readings_1m", "readings_1h")
# Partitions are kept ready this far ahead, so that no write waits for one.
PARTITIONS_AHEAD = timedelta(days=7)
# Late readings within this window are rolled up by the periodic refresh without any marking;
# the protocol evaluates readings up to 10 minutes late as live data.
ROLLUP_LOOKBACK = timedelta(minutes=15)
MSG_ID_MEMORY = timedelta(days=7)


@dataclass(frozen=True)
class Retention:
    """How long each table keeps its data [DEFAULT values in Settings]."""

    raw: timedelta
    minute: timedelta
    hour: timedelta

    def for_table(self, table: str) -> timedelta:
        """The retention of one of TIMESERIES_TABLES."""
        return {"readings": self.raw, "readings_1m": self.minute, "readings_1h": self.hour}[table]


@dataclass(frozen=True)
class MaintenanceReport:
    """What one maintenance pass did."""

    partitions_created: int
    minute_buckets_written: int
    pending_hours_refreshed: int
    chunks_dropped: int


def ensure_partitions(conn: Conn, start: datetime, end: datetime) -> int:
    """Create missing partitions covering [start, end) of every table (plain mode; else 0)."""
    created = 0
    for table in TIMESERIES_TABLES:
        row = conn.execute(
            "SELECT dt_ensure_partitions(%s, %s, %s)", (table, start, end)
        ).fetchone()
        created += int(str(row[0])) if row else 0
    return created


def refresh_rollups(conn: Conn, start: datetime, end: datetime) -> int:
    """Recompute the minute rollups overlapping [start, end) and the hour rollups they feed."""
    row = conn.execute("SELECT dt_refresh_rollups(%s, %s)", (start, end)).fetchone()
    return int(str(row[0])) if row else 0


# Hours whose rollups must be recomputed because readings at these times arrived late.
MARK_ROLLUP_PENDING_SQL = (
    "INSERT INTO rollup_pending (hour)"
    " SELECT DISTINCT date_trunc('hour', t, 'UTC') FROM unnest(%s::timestamptz[]) AS t"
    " ON CONFLICT DO NOTHING"
)


def mark_rollup_pending(conn: Conn, times: list[datetime]) -> None:
    """Note that readings at these times arrived late, so their hours are rolled up again."""
    conn.execute(MARK_ROLLUP_PENDING_SQL, (times,))


def refresh_pending_rollups(conn: Conn, limit: int = 48) -> int:
    """Roll up again up to ``limit`` hours marked pending; returns how many were done."""
    hours = [
        r[0]
        for r in conn.execute(
            "SELECT hour FROM rollup_pending ORDER BY hour LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
        )
    ]
    for hour in hours:
        assert isinstance(hour, datetime)
        refresh_rollups(conn, hour, hour + timedelta(hours=1))
        conn.execute("DELETE FROM rollup_pending WHERE hour = %s", (hour,))
    return len(hours)


def drop_expired(conn: Conn, now: datetime, retention: Retention) -> int:
    """Drop whole chunks (or partitions) older than each table's retention."""
    dropped = 0
    for table in TIMESERIES_TABLES:
        row = conn.execute(
            "SELECT dt_drop_before(%s, %s)", (table, now - retention.for_table(table))
        ).fetchone()
        dropped += int(str(row[0])) if row else 0
    return dropped


def maintain(conn: Conn, now: datetime, retention: Retention) -> MaintenanceReport:
    """One upkeep pass: partitions ahead, recent and pending rollups, retention.

    ``conn`` is in autocommit mode: each step commits on its own, so a failure in one leaves
    the others' work in place.
    """
    with conn.transaction():
        created = ensure_partitions(conn, now - timedelta(days=1), now + PARTITIONS_AHEAD)
    with conn.transaction():
        written = refresh_rollups(conn, now - ROLLUP_LOOKBACK, now)
    with conn.transaction():
        pending = refresh_pending_rollups(conn)
    with conn.transaction():
        dropped = drop_expired(conn, now, retention)
    with conn.transaction():  # msg_ids are remembered a week (readings dedupe by point and time)
        conn.execute("DELETE FROM ingest_messages WHERE received_at < %s", (now - MSG_ID_MEMORY,))
    return MaintenanceReport(created, written, pending, dropped)


def detect_offline(conn: Conn, now: datetime) -> list[tuple[str, bool]]:
    """Decide who is online now (data activity within the window); returns the transitions."""
    with conn.transaction():
        rows = conn.execute("SELECT thing_id, online FROM dt_detect_offline(%s)", (now,)).fetchall()
    return [(str(t), bool(o)) for t, o in rows]
