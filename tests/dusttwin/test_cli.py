"""``dusttwin migrate``, ``seed-demo`` and ``user add`` against a real database and broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import psycopg
import pytest
from typer.testing import CliRunner

from dusttwin.cli import app
from dusttwin.demo import demo_plant

runner = CliRunner()


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dusttwin.cli", *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_migrate_reports_what_it_applied(
    fresh_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUSTTWIN_DATABASE_URL", fresh_database("dusttwin_test_cli"))
    monkeypatch.setenv("DUSTTWIN_TIMESCALEDB", "off")
    first = runner.invoke(app, ["migrate"])
    again = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0, first.output
    assert "applied: 0001, 0002, 0003" in first.output
    assert "time series: plain" in first.output
    assert "applied: none" in again.output


def test_seed_demo_builds_the_demo_region(seeded: dict[str, str]) -> None:
    demo = [e.record.credit_code for e in demo_plant()]
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        kinds: dict[str, int] = dict(
            conn.execute(
                "SELECT kind, count(*) FROM things WHERE credit_code = ANY(%s) GROUP BY kind",
                (demo,),
            ).fetchall()
        )
        counties: dict[str, int] = dict(
            conn.execute(
                "SELECT adcode, count(*) FROM things WHERE kind = 'enterprise'"
                " AND credit_code = ANY(%s) GROUP BY adcode",
                (demo,),
            ).fetchall()
        )
        per_system = conn.execute(
            "SELECT min(n), max(n) FROM (SELECT count(*) n FROM things WHERE kind = 'point'"
            " AND credit_code = ANY(%s) AND attributes ->> 'system_code' ~ '^DC0[1-4]$'"
            " GROUP BY attributes ->> 'parent') s",
            (demo,),
        ).fetchone()
        baoshan = conn.execute(
            "SELECT attributes ->> 'name' FROM things WHERE thing_id = 'dusttwin:region-310113'"
        ).fetchone()
        users = {r[0] for r in conn.execute("SELECT username FROM users")}
    assert kinds["enterprise"] == len(demo) >= 60
    assert counties == {"310113": 30, "310114": 18, "310120": 15}
    assert per_system == (4, 6)
    assert kinds["gateway"] >= kinds["enterprise"]
    assert kinds["camera"] >= kinds["system"]
    assert baoshan == ("宝山区",)
    assert {"admin", "mem", "baoshan", "integrator", "qiye-310113"} <= users


def test_seed_demo_again_creates_nothing(seeded: dict[str, str]) -> None:
    run = _cli(seeded, "seed-demo")
    assert run.returncode == 0, run.stderr
    assert "enterprises=0, systems=0, points=0, cameras=0, gateways=0, users=0" in run.stdout


def test_seed_demo_into_a_new_database_beside_an_old_data_directory(
    seeded: dict[str, str], fresh_database: Callable[[str], str]
) -> None:
    """The data directory keeps the gateways' passwords, which the broker still accepts; a
    database made anew has no gateway, so the demo must register them again, not fail."""
    env = {**seeded, "DUSTTWIN_DATABASE_URL": fresh_database("dusttwin_test_reseed")}
    assert _cli(env, "migrate").returncode == 0
    run = _cli(env, "seed-demo")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"gateways={len(demo_plant())}" in run.stdout
    with psycopg.connect(env["DUSTTWIN_DATABASE_URL"]) as conn:
        points = conn.execute("SELECT count(*) FROM things WHERE kind = 'point'").fetchone()
    assert points is not None
    assert points[0] == sum(len(e.points) for e in demo_plant())


def test_user_add_reads_the_password_from_stdin_and_refuses_bad_scopes(
    seeded: dict[str, str],
) -> None:
    ok = _cli(
        seeded,
        "user",
        "add",
        "jinshan",
        "--role",
        "regulator",
        "--scope",
        "310116",
        stdin="long-enough-pw\n",
    )
    unknown_region = _cli(
        seeded,
        "user",
        "add",
        "nowhere",
        "--role",
        "regulator",
        "--scope",
        "319999",
        "--password",
        "long-enough-pw",
    )
    bad_code = _cli(
        seeded,
        "user",
        "add",
        "fake",
        "--role",
        "enterprise",
        "--scope",
        "91310113MA1G8XXXX0",
        "--password",
        "long-enough-pw",
    )
    again = _cli(
        seeded,
        "user",
        "add",
        "jinshan",
        "--role",
        "regulator",
        "--scope",
        "310116",
        "--password",
        "long-enough-pw",
    )
    assert ok.returncode == 0, ok.stderr
    assert unknown_region.returncode == 1
    assert "unknown adcode 319999" in unknown_region.stderr
    assert bad_code.returncode == 1
    assert "credit code" in bad_code.stderr
    assert again.returncode == 1
    assert "exists already" in again.stderr


def test_demo_plant_is_deterministic() -> None:
    assert [e.record.credit_code for e in demo_plant()] == [
        e.record.credit_code for e in demo_plant()
    ]
