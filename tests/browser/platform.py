"""The whole platform as separate processes, for the browser tests: what `make demo` runs.

A database of its own, migrated and seeded with the demo region by the real CLI; then the API,
the Dash app, a connector, a worker, the scheduler and the simulator, each ``dusttwin …`` in its
own process, on free loopback ports, with a Redis database and a Mosquitto (dynamic security, as
deployed) of their own so that nothing else on the machine takes their jobs, their messages or
their gateway accounts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx

from tests.connectors.private_services import PrivateMosquitto, free_port

STARTUP_TIMEOUT_S: Final = 60.0
SIM_PERIOD_S: Final = 2.0  # the simulated gateways publish this often (the demo: 10 s)
REDIS_DB: Final = 14  # the browser tests' own Redis database: their jobs, their scheduler claims


@dataclass
class Platform:
    """A running platform: its URLs, its environment, and its processes' logs."""

    env: dict[str, str]
    api_url: str
    dash_url: str
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> None:
        """Start ``dusttwin ARGS`` as the process ``name``, its output in ``log_dir/name.log``."""
        log = (self.log_dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "dusttwin.cli", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def check_alive(self) -> None:
        """Fail, with the dead process's log, when any part of the platform has died."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 10 s)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cli(env: dict[str, str], *args: str) -> str:
    """Run one ``dusttwin`` command to its end; its output, or an error with it."""
    run = subprocess.run(
        [sys.executable, "-m", "dusttwin.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"dusttwin {' '.join(args)} failed:\n{run.stdout}{run.stderr}")
    return run.stdout


def _wait_for(url: str, platform: Platform) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        platform.check_alive()
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {STARTUP_TIMEOUT_S:.0f} s")
        time.sleep(0.3)


def start_platform(
    dsn: str,
    data_dir: Path,
    log_dir: Path,
    redis_url: str,
    broker: PrivateMosquitto,
    scenarios: list[str],
) -> Platform:
    """Migrate and seed ``dsn``, then start every process; returns once the API and Dash answer.

    ``broker`` is a running broker of the platform's own (the demo's gateway accounts have the
    same names in every seeded database); ``scenarios`` are the simulator's ``--scenario``
    arguments (CREDIT_CODE=SCENARIO).
    """
    api_port, dash_port = free_port(), free_port()
    env = {
        **os.environ,
        "DUSTTWIN_DATABASE_URL": dsn,
        "DUSTTWIN_DATA_DIR": str(data_dir),
        "DUSTTWIN_REDIS_URL": redis_url,
        "DUSTTWIN_API_PORT": str(api_port),
        "DUSTTWIN_DASH_PORT": str(dash_port),
        "DUSTTWIN_MQTT_PORT": str(broker.port),
        "DUSTTWIN_MQTT_USERNAME": broker.username,
        "DUSTTWIN_MQTT_PASSWORD": broker.password,
        "PYTHONUNBUFFERED": "1",
    }
    cli(env, "migrate")
    cli(env, "seed-demo")
    platform = Platform(
        env, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{dash_port}", log_dir
    )
    try:
        for name in ("api", "dash", "connector", "worker", "scheduler"):
            platform.start(name, "serve", name)
        sim_args = ["simulate", "--period", str(SIM_PERIOD_S), "--no-progress"]
        for scenario in scenarios:
            sim_args += ["--scenario", scenario]
        platform.start("simulator", *sim_args)
        _wait_for(f"{platform.api_url}/healthz", platform)
        _wait_for(f"{platform.dash_url}/login", platform)
    except BaseException:
        platform.stop()
        raise
    return platform
