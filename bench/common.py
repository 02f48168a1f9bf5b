"""What the benchmarks share: a scratch database of their own next to the platform's."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dusttwin.settings import Settings


def dsn_for(settings: Settings, dbname: str) -> str:
    """The settings' DSN pointed at another database."""
    params = conninfo_to_dict(settings.database_url.get_secret_value())
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


@contextmanager
def scratch_database(settings: Settings, name: str) -> Iterator[str]:
    """An empty database for one benchmark run, dropped afterwards; yields its DSN."""
    with psycopg.connect(dsn_for(settings, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield dsn_for(settings, name)
    finally:
        with psycopg.connect(dsn_for(settings, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
