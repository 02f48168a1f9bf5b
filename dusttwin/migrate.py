"""Versioned, forward-only SQL migrations with a schema-version table (``dusttwin migrate``).

Files are ``dusttwin/migrations/NNNN_slug.sql``; each runs in its own transaction, under an
advisory lock so that processes starting together apply each file once. An applied file whose
text has since changed is an error: migrations are never edited, only added.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from dusttwin.db import TimeseriesMode, connect
from dusttwin.errors import ConfigurationError, MigrationError
from dusttwin.settings import TimescaleMode

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x64757374  # "dust": one advisory lock for every migrator of a database


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text, to notice an applied migration that was edited."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationReport:
    """What a ``migrate`` run did."""

    applied: list[int]
    current_version: int
    timeseries_mode: TimeseriesMode


def load_migrations() -> list[Migration]:
    """The migrations shipped in the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("dusttwin.migrations").iterdir():
        match = _FILE_RE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


def _try_create_timescaledb(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    """Create the extension if the server can; returns why not ("" when it is there)."""
    available = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if available is None:
        return "the timescaledb extension is not installed on the PostgreSQL server"
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as err:
        # e.g. not in shared_preload_libraries, or no privilege to create it
        return f"CREATE EXTENSION timescaledb failed: {str(err).strip()}"
    return ""


def _decide_mode(
    conn: psycopg.Connection[tuple[object, ...]], wanted: TimescaleMode
) -> TimeseriesMode:
    """Pick the time-series mode of a database that has none yet, creating the extension if used."""
    if wanted == "off":
        return "plain"
    why = _try_create_timescaledb(conn)
    if not why:
        return "timescaledb"
    if wanted == "require":
        raise ConfigurationError(
            f"DUSTTWIN_TIMESCALEDB=require but {why}. "
            "Fix: run `deploy/local/services.sh up` as root (it builds and preloads TimescaleDB), "
            "or set DUSTTWIN_TIMESCALEDB=auto to run on plain PostgreSQL partitions."
        )
    log.warning("time series in plain PostgreSQL partitions: %s", why)
    return "plain"


def _recorded_mode(conn: psycopg.Connection[tuple[object, ...]]) -> TimeseriesMode | None:
    if conn.execute("SELECT to_regclass('timeseries_tables')").fetchone() in (None, (None,)):
        return None
    row = conn.execute("SELECT mode FROM timeseries_tables WHERE name = 'readings'").fetchone()
    if row is None:
        return None
    return "timescaledb" if row[0] == "timescaledb" else "plain"


def migrate(dsn: str, timescaledb: TimescaleMode = "auto") -> MigrationReport:
    """Apply every pending migration; safe to run concurrently and repeatedly."""
    migrations = load_migrations()
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = {
                int(str(v)): str(c)
                for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")
            }
            for m in migrations:
                if m.version in applied and applied[m.version] != m.checksum:
                    raise MigrationError(
                        f"migration {m.version:04d}_{m.name} was edited after it was applied; "
                        "add a new migration instead of changing an applied one"
                    )
            unknown = sorted(set(applied) - {m.version for m in migrations})
            if unknown:
                raise MigrationError(
                    f"the database has migrations this code does not know: {unknown}; "
                    "it was migrated by a newer dusttwin"
                )
            mode = _recorded_mode(conn)
            if mode is None:
                mode = _decide_mode(conn, timescaledb)
            elif mode == "timescaledb" and timescaledb == "off":
                raise ConfigurationError(
                    "this database already keeps its readings in TimescaleDB hypertables; "
                    "DUSTTWIN_TIMESCALEDB=off cannot apply to it"
                )
            done: list[int] = []
            for m in migrations:
                if m.version in applied:
                    continue
                with conn.transaction():
                    conn.execute(
                        sql.SQL("SET LOCAL dusttwin.timeseries_mode = {}").format(sql.Literal(mode))
                    )
                    try:
                        conn.execute(m.sql.encode())
                    except psycopg.Error as err:
                        raise MigrationError(
                            f"migration {m.version:04d}_{m.name} failed: {err}"
                        ) from err
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                done.append(m.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    current = max([*applied, *done], default=0)
    return MigrationReport(applied=done, current_version=current, timeseries_mode=mode)


def pending_migrations(dsn: str) -> list[int]:
    """Versions shipped with the code but not yet applied to the database."""
    with connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
            return [m.version for m in load_migrations()]
        applied = {int(str(r[0])) for r in conn.execute("SELECT version FROM schema_migrations")}
    return [m.version for m in load_migrations() if m.version not in applied]
