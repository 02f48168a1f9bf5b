"""``dusttwin doctor`` says plainly which service is down and how to fix it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner

from dusttwin.cli import app
from tests.helpers import PrivateRedis

runner = CliRunner()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def test_doctor_reports_redis_stopped_then_green_again(
    private_redis: PrivateRedis, migrated_dsns: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUSTTWIN_DATABASE_URL", migrated_dsns["timescaledb"])
    monkeypatch.setenv("DUSTTWIN_REDIS_URL", private_redis.url)

    green = runner.invoke(app, ["doctor"])
    assert green.exit_code == 0, green.output
    assert "TimescaleDB" in green.output

    private_redis.stop()
    red = runner.invoke(app, ["doctor"])
    assert red.exit_code == 1
    assert "FAIL redis" in red.output
    assert "cannot reach Redis" in red.output
    assert "services.sh up" in red.output

    private_redis.start()
    again = runner.invoke(app, ["doctor"])
    assert again.exit_code == 0, again.output


def test_doctor_names_plain_mode(
    migrated_dsns: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUSTTWIN_DATABASE_URL", migrated_dsns["plain"])
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "plain PostgreSQL partitions" in result.output


def test_doctor_fails_on_unmigrated_database(
    fresh_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUSTTWIN_DATABASE_URL", fresh_database("dusttwin_test_unmigrated"))
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "migrations not applied" in result.output
    assert "dusttwin migrate" in result.output


def test_doctor_fails_on_wrong_broker_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUSTTWIN_MQTT_PASSWORD", "not-the-password")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL broker" in result.output
    assert "refused the platform account" in result.output
