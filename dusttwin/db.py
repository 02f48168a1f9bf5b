"""Database plumbing shared by every room: connections and the time-series mode queries."""

from __future__ import annotations

from typing import Literal

import psycopg

TimeseriesMode = Literal["timescaledb", "plain", "unmigrated"]


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """Open one synchronous connection (CLI commands, jobs, tests)."""
    return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=5)


# The mode the readings table was created in; ask only once to_regclass('timeseries_tables') is set.
TIMESERIES_MODE_SQL = "SELECT mode FROM timeseries_tables WHERE name = 'readings'"

TIMESCALEDB_VERSION_SQL = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
