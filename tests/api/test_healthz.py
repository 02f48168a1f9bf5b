"""``/healthz`` reports database with its time-series mode, Redis and the broker."""

from __future__ import annotations

import httpx

from api.app import create_app
from dusttwin.settings import Settings
from tests.helpers import override


async def _get_healthz(settings: Settings) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/healthz")


async def test_healthz_green_with_timescaledb_mode(
    settings: Settings, migrated_dsns: dict[str, str]
) -> None:
    response = await _get_healthz(override(settings, database_url=migrated_dsns["timescaledb"]))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    database = body["checks"]["database"]
    assert database["info"]["timeseries_mode"] == "timescaledb"
    assert database["info"]["timescaledb_version"].startswith("2.")


async def test_healthz_reports_plain_mode(
    settings: Settings, migrated_dsns: dict[str, str]
) -> None:
    response = await _get_healthz(override(settings, database_url=migrated_dsns["plain"]))
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["info"]["timeseries_mode"] == "plain"


async def test_healthz_is_503_and_names_the_dead_service(
    settings: Settings, migrated_dsns: dict[str, str]
) -> None:
    broken = override(
        settings, database_url=migrated_dsns["plain"], redis_url="redis://127.0.0.1:1/0"
    )
    response = await _get_healthz(broken)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["ok"] is False
    assert "services.sh up" in checks["redis"]["fix"]
    assert checks["database"]["ok"] is True
