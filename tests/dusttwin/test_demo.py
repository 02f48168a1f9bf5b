"""``dusttwin demo`` brings up the API and the Dash app, and stops every process it started."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from connectors.mqtt import BrokerAccount, forget_session
from dusttwin.settings import Settings
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(url: str, timeout_s: float = 180) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=True
    )
    return [int(p) for p in out.stdout.split()]


def test_demo_serves_api_and_dash_then_stops_everything(
    fresh_database: Callable[[str], str], settings: Settings
) -> None:
    api_port, dash_port = free_port(), free_port()
    env = {
        **os.environ,
        "DUSTTWIN_DATABASE_URL": fresh_database("dusttwin_test_demo"),
        "DUSTTWIN_API_PORT": str(api_port),
        "DUSTTWIN_DASH_PORT": str(dash_port),
        # a broker session and share group of its own, forgotten afterwards
        "DUSTTWIN_CONNECTOR_ID": f"demo-test-{os.getpid()}",
        "DUSTTWIN_MQTT_SHARE_GROUP": f"demo-test-{os.getpid()}",
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "dusttwin.cli", "demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{api_port}/healthz")
        dash_index = _wait_for(f"http://127.0.0.1:{dash_port}/")
        children = _children(demo.pid)
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=30)

    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["info"]["timeseries_mode"] in {"timescaledb", "plain"}
    assert dash_index.status_code == 200
    assert "粉尘涉爆企业安全生产风险监测预警系统" in dash_index.text
    assert len(children) == 6  # api, dash, connector, worker, scheduler, simulator
    assert demo.returncode == 0, output
    assert f"http://127.0.0.1:{api_port}" in output
    assert [pid for pid in children if os.path.exists(f"/proc/{pid}")] == []
    asyncio.run(
        forget_session(
            BrokerAccount(
                settings.mqtt_host,
                settings.mqtt_port,
                settings.mqtt_username,
                settings.mqtt_password.get_secret_value(),
                client_id=f"dusttwin-connector-demo-test-{os.getpid()}",
            )
        )
    )
