"""``dusttwin migrate`` and ``dusttwin seed-demo`` against a real database."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from typer.testing import CliRunner

from dusttwin.cli import app
from dusttwin.demo import DEMO_REGIONS

runner = CliRunner()


def test_migrate_then_seed_demo_twice(
    fresh_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = fresh_database("dusttwin_test_cli")
    monkeypatch.setenv("DUSTTWIN_DATABASE_URL", dsn)
    monkeypatch.setenv("DUSTTWIN_TIMESCALEDB", "off")
    migrated = runner.invoke(app, ["migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert "applied: 0001, 0002" in migrated.output
    assert "time series: plain" in migrated.output
    for _ in range(2):
        seeded = runner.invoke(app, ["seed-demo"])
        assert seeded.exit_code == 0, seeded.output
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT thing_id, revision, attributes->>'name', attributes->>'parent' FROM things"
            " WHERE thing_id = 'dusttwin:region-310113'"
        ).fetchall()
        count = conn.execute("SELECT count(*) FROM things").fetchone()
    assert rows == [("dusttwin:region-310113", 1, "宝山区", "dusttwin:region-310000")]
    assert count == (len(DEMO_REGIONS),)
