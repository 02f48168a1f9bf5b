"""Migrations on PostgreSQL with and without TimescaleDB."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest

from dusttwin.errors import ConfigurationError, MigrationError
from dusttwin.migrate import load_migrations, migrate, pending_migrations


def _relkind(dsn: str, table: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT relkind FROM pg_class WHERE relname = %s", (table,)).fetchone()
    assert row is not None
    return str(row[0])


def test_timescaledb_mode_keeps_readings_in_hypertables(migrated_dsns: dict[str, str]) -> None:
    dsn = migrated_dsns["timescaledb"]
    with psycopg.connect(dsn) as conn:
        hypertables = {
            r[0]
            for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        }
    assert hypertables == {"readings", "readings_1m", "readings_1h", "device_events"}
    assert pending_migrations(dsn) == []


def test_plain_mode_keeps_readings_in_range_partitions(migrated_dsns: dict[str, str]) -> None:
    dsn = migrated_dsns["plain"]
    assert _relkind(dsn, "readings") == "p"  # partitioned table
    assert _relkind(dsn, "readings_default") == "r"
    with psycopg.connect(dsn) as conn:
        ext = conn.execute("SELECT 1 FROM pg_extension WHERE extname='timescaledb'").fetchone()
    assert ext is None
    assert pending_migrations(dsn) == []


def test_second_run_applies_nothing(migrated_dsns: dict[str, str]) -> None:
    report = migrate(migrated_dsns["plain"], "off")
    assert report.applied == []
    assert report.current_version == load_migrations()[-1].version
    assert report.timeseries_mode == "plain"


def test_concurrent_migrators_apply_each_file_once(fresh_database: Callable[[str], str]) -> None:
    dsn = fresh_database("dusttwin_test_concurrent")
    reports: list[list[int]] = []
    threads = [
        threading.Thread(target=lambda: reports.append(migrate(dsn, "off").applied))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = sorted(v for r in reports for v in r)
    assert applied == [m.version for m in load_migrations()]


def test_edited_applied_migration_is_refused(fresh_database: Callable[[str], str]) -> None:
    dsn = fresh_database("dusttwin_test_edited")
    migrate(dsn, "off")
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        migrate(dsn, "off")


def test_database_from_a_newer_release_is_refused(fresh_database: Callable[[str], str]) -> None:
    dsn = fresh_database("dusttwin_test_newer")
    migrate(dsn, "off")
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')"
        )
    with pytest.raises(MigrationError, match="newer dusttwin"):
        migrate(dsn, "off")


def test_timescaledb_database_cannot_be_switched_to_plain(migrated_dsns: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="hypertables"):
        migrate(migrated_dsns["timescaledb"], "off")
