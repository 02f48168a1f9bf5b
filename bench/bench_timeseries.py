"""Benchmark: COPY of readings and the rollup refresh, in TimescaleDB and in plain mode.

Run: .venv/bin/python -m bench.bench_timeseries [--points 2000] [--minutes 60]
It creates (and drops) its own databases next to the platform's, from the settings' DSN.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import scratch_database
from connectors.timeseries import refresh_rollups
from dusttwin.migrate import migrate
from dusttwin.settings import Settings


def run_mode(settings: Settings, mode: str, points: int, minutes: int) -> None:
    """Load ``points`` × one reading per 10 s for ``minutes``, then roll up; print rates."""
    name = f"dusttwin_bench_{mode}"
    with scratch_database(settings, name) as dsn:
        migrate(dsn, "require" if mode == "timescaledb" else "off")
        start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
        steps = minutes * 6
        rows = points * steps
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT dt_ensure_partitions(name, %s, %s) FROM timeseries_tables",
                (start - timedelta(days=1), start + timedelta(days=2)),
            )
            began = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy("COPY readings (time, point_id, value, quality) FROM STDIN") as copy,
            ):
                for s in range(steps):
                    t = start + timedelta(seconds=10 * s)
                    for p in range(points):
                        copy.write_row((t, p, 20.0 + (p + s) % 17, 0))
            copy_s = time.perf_counter() - began
            began = time.perf_counter()
            buckets = refresh_rollups(conn, start, start + timedelta(minutes=minutes))
            rollup_s = time.perf_counter() - began
            began = time.perf_counter()
            refresh_rollups(
                conn, start + timedelta(minutes=minutes - 15), start + timedelta(minutes=minutes)
            )
            recent_s = time.perf_counter() - began
        print(
            f"{mode:12} rows={rows:>9,}  COPY {rows / copy_s:>9,.0f} rows/s ({copy_s:.2f} s)  "
            f"rollup of {minutes} min: {buckets:,} minute buckets in {rollup_s:.2f} s  "
            f"periodic 15-min refresh: {recent_s:.2f} s"
        )


def main() -> None:
    """Parse arguments and run both modes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    settings = Settings()
    for mode in ("timescaledb", "plain"):
        run_mode(settings, mode, args.points, args.minutes)


if __name__ == "__main__":
    main()
