"""A run without its services stops with a message naming them: it never skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_suite_stops_when_redis_is_unreachable() -> None:
    env = {**os.environ, "DUSTTWIN_REDIS_URL": "redis://127.0.0.1:1/0"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/api/test_healthz.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 3, run.stdout + run.stderr
    assert "redis: cannot reach Redis" in run.stdout + run.stderr
    assert "services.sh up" in run.stdout + run.stderr
    assert "passed" not in run.stdout
