"""Test fixtures on the real services: PostgreSQL (with and without TimescaleDB), Redis, Mosquitto.

A missing service stops the whole run with a message saying which and how to start it; nothing
is skipped.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import psycopg
import pytest
import pytest_asyncio
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.app import create_app
from dusttwin.demo import DEMO_PASSWORD
from dusttwin.health import Check, check_broker, check_redis
from dusttwin.migrate import migrate
from dusttwin.settings import Settings
from tests.helpers import override

DEMO_USERNAMES = (
    "admin",
    "mem",
    "shanghai",
    "baoshan",
    "jiading",
    "fengxian",
    "integrator",
    "qiye-310113",
    "qiye-310114",
    "qiye-310120",
)

TEST_DATABASES = {"timescaledb": "dusttwin_test_tsdb", "plain": "dusttwin_test_plain"}


def _dsn_for(settings: Settings, dbname: str) -> str:
    params = conninfo_to_dict(settings.database_url.get_secret_value())
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings the suite runs with (.env written by deploy/local/services.sh)."""
    settings = Settings()
    problems: list[str] = []
    try:
        psycopg.connect(_dsn_for(settings, "postgres"), connect_timeout=3).close()
    except psycopg.Error as err:
        problems.append(f"PostgreSQL: {err}".strip())
    for check in asyncio.run(_service_checks(settings)):
        if not check.ok:
            problems.append(f"{check.name}: {check.detail}")
    if problems:
        pytest.exit(
            "the tests need the real services, and these are not usable:\n  "
            + "\n  ".join(problems)
            + "\nrun `deploy/local/services.sh up` (or `make test`, which does it)",
            returncode=3,
        )
    return settings


async def _service_checks(settings: Settings) -> list[Check]:
    return [
        await check_redis(settings.redis_url.get_secret_value()),
        await check_broker(settings),
    ]


# Several pytest sessions on one machine (parallel work) each set their own suffix.
DB_SUFFIX = os.environ.get("DUSTTWIN_TEST_DB_SUFFIX", "")


def _recreate_database(settings: Settings, name: str) -> str:
    name += DB_SUFFIX
    with psycopg.connect(_dsn_for(settings, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return _dsn_for(settings, name)


@pytest.fixture(scope="session")
def fresh_database(settings: Settings) -> Iterator[Callable[[str], str]]:
    """A factory of empty databases (dropped again at the end of the session)."""
    made: list[str] = []

    def make(name: str) -> str:
        made.append(name + DB_SUFFIX)
        return _recreate_database(settings, name)

    yield make
    with psycopg.connect(_dsn_for(settings, "postgres"), autocommit=True) as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_dsns(settings: Settings) -> dict[str, str]:
    """One migrated database per time-series mode: TimescaleDB required, and plain."""
    tsdb = _recreate_database(settings, TEST_DATABASES["timescaledb"])
    migrate(tsdb, "require")
    plain = _recreate_database(settings, TEST_DATABASES["plain"])
    migrate(plain, "off")
    return {"timescaledb": tsdb, "plain": plain}


@pytest.fixture(params=["timescaledb", "plain"])
def ts_conn(
    request: pytest.FixtureRequest, migrated_dsns: dict[str, str]
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to a migrated database of each mode, emptied after the test."""
    with psycopg.connect(migrated_dsns[request.param], autocommit=True) as conn:
        yield conn
        conn.execute("TRUNCATE readings, readings_1m, readings_1h, rollup_pending, things CASCADE")


@pytest.fixture(scope="session")
def seeded(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A database migrated and seeded with the demo region by the real CLI, in its own process.

    Returns the environment that points the CLI at it (DSN and data directory).
    """
    dsn = _recreate_database(settings, "dusttwin_test_seeded")
    env = {
        **os.environ,
        "DUSTTWIN_DATABASE_URL": dsn,
        "DUSTTWIN_DATA_DIR": str(tmp_path_factory.mktemp("seeded-data")),
    }
    for command in (["migrate"], ["seed-demo"]):
        run = subprocess.run(
            [sys.executable, "-m", "dusttwin.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    return {"DUSTTWIN_DATABASE_URL": dsn, "DUSTTWIN_DATA_DIR": env["DUSTTWIN_DATA_DIR"]}


@pytest_asyncio.fixture(scope="session")
async def api(settings: Settings, seeded: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """The API over the seeded database, its lifespan running, as an in-process HTTP client."""
    app = create_app(override(settings, database_url=seeded["DUSTTWIN_DATABASE_URL"]))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest_asyncio.fixture(scope="session")
async def tokens(api: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """Authorization headers of every demo user, by username."""
    headers: dict[str, dict[str, str]] = {}
    for username in DEMO_USERNAMES:
        response = await api.post(
            "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text
        headers[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return headers


@pytest.fixture(scope="session")
def settings_secret(settings: Settings) -> str:
    """The secret key the API signs tokens with."""
    return settings.secret_key.get_secret_value()
