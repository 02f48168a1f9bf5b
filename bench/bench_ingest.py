"""Benchmark: sustained end-to-end ingest through the broker into TimescaleDB and the twins.

Run: .venv/bin/python -m bench.bench_ingest [--seconds 60] [--rate 50000] [--connectors 2]
       [--publishers 2] [--gateways 200] [--points-min 10] [--points-max 50]

In a database of its own: registers ``--gateways`` gateways with ``--points-max`` points each, starts
``--connectors`` real connector processes (``dusttwin serve connector``), and ``--publishers``
processes that publish rts messages of 10–50 points (uniform, mean 30) with QoS 1 at the offered
rate (points/s). It then counts every point it sent against the readings table (lost, duplicated),
reports stored points/s, publish-to-commit latency (p50/p99, from the readings' ``received_at``,
the commit's transaction time) and the CPU seconds of broker, database, connectors and publishers.
The publishers use the platform's MQTT account (same ACL path as a gateway's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import free_port, scratch_database
from connectors.mqtt import BrokerAccount, forget_session
from dusttwin.demo import demo_credit_code
from dusttwin.migrate import migrate
from dusttwin.settings import Settings
from twins.users import add_user

CLK = os.sysconf("SC_CLK_TCK")


def register(
    dsn: str, gateways: int, points: int, *, system: str = "DC01", seed: int = 11
) -> list[tuple[str, str, list[str]]]:
    """Enterprises, gateways and points as the registry writes them (COPY, for speed)."""
    rng = random.Random(seed)
    plant = []
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY things (thing_id, policy_id, definition, attributes, features) FROM STDIN"
        ) as copy:
            for _ in range(gateways):
                cc = demo_credit_code(rng, "310113")
                ent = f"dusttwin:enterprise-{cc}"
                copy.write_row(
                    (
                        ent,
                        ent,
                        "dusttwin:Enterprise:1.0.0",
                        json.dumps({"credit_code": cc, "adcode": "310113", "name": cc}),
                        "{}",
                    )
                )
                gw = f"dusttwin:gateway-{cc}-GW01"
                copy.write_row(
                    (
                        gw,
                        gw,
                        "dusttwin:Gateway:1.0.0",
                        json.dumps(
                            {
                                "credit_code": cc,
                                "adcode": "310113",
                                "gateway_id": "GW01",
                                "parent": ent,
                            }
                        ),
                        "{}",
                    )
                )
                codes = [f"{system}-HOPPER_TEMP-{i}" for i in range(points)]
                for code in codes:
                    tid = f"dusttwin:point-{cc}-{code}"
                    copy.write_row(
                        (
                            tid,
                            tid,
                            "dusttwin:Point:1.0.0",
                            json.dumps(
                                {
                                    "credit_code": cc,
                                    "adcode": "310113",
                                    "point_code": code,
                                    "indicator": "HOPPER_TEMP",
                                    "system_code": system,
                                    "range_low": -20,
                                    "range_high": 200,
                                    "gateway_id": "GW01",
                                }
                            ),
                            json.dumps(
                                {"measurement": {"properties": {"value": None, "ts": None}}}
                            ),
                        )
                    )
                plant.append((cc, "GW01", codes))
        conn.execute("ANALYZE things")
    return plant


def publisher(args: tuple[Any, ...]) -> tuple[int, int]:
    """One publishing process: rts messages at its share of the rate; returns (messages, points)."""
    host, port, user, password, plant, rate, seconds, pmin, pmax, seed = args
    rng = random.Random(seed)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{seed}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(1000)
    client.connect(host, port)
    client.loop_start()
    sent_messages = sent_points = 0
    seq: dict[str, int] = {}
    started = time.monotonic()
    infos = []
    while (elapsed := time.monotonic() - started) < seconds:
        target = rate * elapsed
        if sent_points >= target:
            time.sleep(0.002)
            continue
        cc, gw, codes = plant[rng.randrange(len(plant))]
        n = rng.randint(pmin, pmax)
        seq[cc] = seq.get(cc, 0) + 1
        now = datetime.now(UTC)
        body = {
            "msg_id": f"b{seed}-{seq[cc]}",
            "ts": now.isoformat(timespec="microseconds"),
            "points": [{"code": c, "value": round(30 + rng.random() * 10, 2)} for c in codes[:n]],
        }
        infos.append(client.publish(f"dust/v1/{cc}/{gw}/rts", json.dumps(body), qos=1))
        sent_messages += 1
        sent_points += n
        if len(infos) > 5000:
            for info in infos[:4000]:
                info.wait_for_publish(30)
            infos = infos[4000:]
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()
    return sent_messages, sent_points


class AlarmProbe:
    """Limit-crossing readings published among the load, timed to their alarm and SSE event.

    Each probe is a new point at 95 °C (above HOPPER_TEMP's HHA of 90, no persistence), so each
    raises a new alarm. An API process over the benchmark's database streams ``/api/v1/events``
    to a listener thread; the latency is publish → ``alarm.raised`` received by that client, and
    publish → the alarm's ``recorded_at`` (stored).
    """

    def __init__(
        self,
        settings: Settings,
        dsn: str,
        env: dict[str, str],
        plant: list[tuple[str, str, list[str]]],
        rate: float,
    ) -> None:
        self.settings = settings
        self.rate = rate
        self.cc, self.gateway, self.codes = plant[0]
        self.sent: dict[str, float] = {}  # thing id -> publish time (epoch s)
        self.received: dict[str, float] = {}
        self.stop_event = threading.Event()
        self.done = threading.Event()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.api = subprocess.Popen(
            [sys.executable, "-m", "dusttwin.cli", "serve", "api"],
            env={**env, "DUSTTWIN_API_PORT": str(port)},
        )
        asyncio.run(self._user(dsn))
        for _ in range(300):
            try:
                httpx.get(f"{self.url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        token = httpx.post(
            f"{self.url}/api/v1/auth/token",
            data={"username": "bench-probe", "password": "bench-probe-password"},
            timeout=10,
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    @staticmethod
    async def _user(dsn: str) -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await add_user(conn, "bench-probe", "admin", None, "bench-probe-password")
            await conn.commit()

    def _listen(self) -> None:
        with httpx.stream(
            "GET", f"{self.url}/api/v1/events", headers=self.headers, timeout=None
        ) as stream:
            for line in stream.iter_lines():
                if self.stop_event.is_set():
                    return
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event["kind"] == "alarm.raised":
                        self.received.setdefault(event["thingId"], time.time())

    def start(self, seconds: int) -> None:
        """Publish the probes over ``seconds`` in a thread of their own."""
        threading.Thread(target=self._publish, args=(seconds,), daemon=True).start()

    def _publish(self, seconds: int) -> None:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
        client.username_pw_set(
            self.settings.mqtt_username, self.settings.mqtt_password.get_secret_value()
        )
        client.connect(self.settings.mqtt_host, self.settings.mqtt_port)
        client.loop_start()
        started = time.monotonic()
        for i, code in enumerate(self.codes):
            wait = started + i / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() - started > seconds:
                break
            now = datetime.now(UTC)
            body = {
                "msg_id": f"probe-{i}",
                "ts": now.isoformat(),
                "points": [{"code": code, "value": 95}],
            }
            self.sent[f"dusttwin:point-{self.cc}-{code}"] = now.timestamp()
            client.publish(f"dust/v1/{self.cc}/{self.gateway}/rts", json.dumps(body), qos=1)
        client.loop_stop()
        client.disconnect()
        self.done.set()

    def report(self, dsn: str) -> None:
        """Print publish → SSE and publish → stored latencies."""
        deadline = time.monotonic() + 30
        while len(self.received) < len(self.sent) and time.monotonic() < deadline:
            time.sleep(0.5)
        with psycopg.connect(dsn) as conn:
            stored = {
                str(t): r.timestamp()
                for t, r in conn.execute(
                    "SELECT thing_id, recorded_at FROM alarms WHERE alarm_type = 'HIGH'"
                    " AND thing_id LIKE %s",
                    (f"dusttwin:point-{self.cc}-PROBE-%",),
                )
            }
        to_sse = sorted(self.received[t] - s for t, s in self.sent.items() if t in self.received)
        to_db = sorted(stored[t] - s for t, s in self.sent.items() if t in stored)
        for name, values in (("publish → alarm stored", to_db), ("publish → SSE event", to_sse)):
            if values:
                print(
                    f"{name}: p50 {values[len(values) // 2] * 1000:.0f} ms, p99 "
                    f"{values[min(len(values) - 1, int(len(values) * 0.99))] * 1000:.0f} ms, max "
                    f"{values[-1] * 1000:.0f} ms ({len(values)} of {len(self.sent)} probes)"
                )
        print(f"probes without an SSE event: {len(self.sent) - len(to_sse)}")

    def stop(self) -> None:
        """Stop the API process."""
        self.stop_event.set()
        self.api.terminate()
        try:
            self.api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.api.kill()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of processes (and their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / CLK


def pids_of(pattern: str) -> list[int]:
    """Processes whose command line contains ``pattern``."""
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def main() -> None:
    """Set up, load, count, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=int, default=50_000, help="offered points/s")
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--gateways", type=int, default=200)
    parser.add_argument("--points-min", type=int, default=10)
    parser.add_argument("--points-max", type=int, default=50)
    parser.add_argument(
        "--alarm-probes",
        type=float,
        default=0.0,
        help="limit-crossing readings per second, timed to their alarm and its SSE event",
    )
    args = parser.parse_args()
    settings = Settings()
    name = "dusttwin_bench_ingest"
    with scratch_database(settings, name) as dsn:
        run(settings, args, dsn)


def run(settings: Settings, args: argparse.Namespace, dsn: str) -> None:
    """Load the plant, start the connectors, publish, count, report."""
    connectors: list[subprocess.Popen[bytes]] = []
    probe: AlarmProbe | None = None
    group = f"bench-{os.getpid()}"
    try:
        migrate(dsn, settings.timescaledb)
        plant = register(dsn, args.gateways, args.points_max)
        probes = int(args.alarm_probes * args.seconds)
        probe_plant = register(dsn, 1, probes, system="PROBE", seed=12) if probes else []
        with psycopg.connect(dsn, autocommit=True) as conn:
            now = datetime.now(UTC)
            conn.execute(
                "SELECT dt_ensure_partitions(name, %s, %s) FROM timeseries_tables",
                (now - timedelta(days=1), now + timedelta(days=1)),
            )
        env = {
            **os.environ,
            "DUSTTWIN_DATABASE_URL": dsn,
            "DUSTTWIN_MQTT_SHARE_GROUP": group,
            "DUSTTWIN_LOG_LEVEL": "WARNING",
        }
        for n in range(args.connectors):
            connectors.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dusttwin.cli", "serve", "connector"],
                    env={**env, "DUSTTWIN_CONNECTOR_ID": f"{group}-{n}"},
                )
            )
        probe = AlarmProbe(settings, dsn, env, probe_plant, args.alarm_probes) if probes else None
        time.sleep(4)
        watched = {
            "broker": pids_of("mosquitto"),
            "database": pids_of("postgres"),
            "connectors": [c.pid for c in connectors],
        }
        before = {k: cpu_seconds(v) for k, v in watched.items()}
        started = time.monotonic()
        share = args.rate / args.publishers
        if probe is not None:
            probe.start(args.seconds)
        with multiprocessing.get_context("spawn").Pool(args.publishers) as pool:
            results = pool.map(
                publisher,
                [
                    (
                        settings.mqtt_host,
                        settings.mqtt_port,
                        settings.mqtt_username,
                        settings.mqtt_password.get_secret_value(),
                        plant,
                        share,
                        args.seconds,
                        args.points_min,
                        args.points_max,
                        seed,
                    )
                    for seed in range(args.publishers)
                ],
            )
        published_s = time.monotonic() - started
        sent_messages = sum(m for m, _ in results)
        sent_points = sum(p for _, p in results)
        if probe is not None:  # the probes' readings are stored too
            probe.done.wait(60)
            sent_messages += len(probe.sent)
            sent_points += len(probe.sent)
        stored = 0
        with psycopg.connect(dsn, autocommit=True) as conn:
            for _ in range(600):  # wait until everything is stored (or 10 minutes pass)
                row = conn.execute("SELECT count(*) FROM readings").fetchone()
                stored = int(row[0]) if row else 0
                if stored >= sent_points:
                    break
                time.sleep(1)
            drained_s = time.monotonic() - started
            distinct = conn.execute(
                "SELECT count(*) FROM (SELECT DISTINCT point_id, time FROM readings) d"
            ).fetchone()
            lat = [
                float(r[0])
                for r in conn.execute(
                    "SELECT extract(epoch FROM received_at - time) FROM readings TABLESAMPLE SYSTEM (5)"
                )
            ]
            twins = conn.execute(
                "SELECT count(*) FROM things WHERE kind = 'point' AND features #>> '{measurement,properties,value}' IS NOT NULL"
            ).fetchone()
        after = {k: cpu_seconds(v) for k, v in watched.items()}
        lat.sort()
        print(
            f"offered {args.rate:,} points/s for {args.seconds} s with {args.publishers} publishers,"
            f" {args.connectors} connectors, {args.gateways} gateways, {args.points_min}-{args.points_max} points/message"
        )
        print(
            f"published {sent_messages:,} messages / {sent_points:,} points in {published_s:.1f} s"
            f" = {sent_points / published_s:,.0f} points/s, {sent_messages / published_s:,.0f} messages/s"
        )
        print(
            f"stored {stored:,} points (distinct {int(distinct[0]) if distinct else 0:,}); lost {sent_points - stored:,};"
            f" all stored after {drained_s:.1f} s = {stored / drained_s:,.0f} points/s end to end"
        )
        if lat:
            print(
                f"publish-to-commit latency: p50 {lat[len(lat) // 2] * 1000:.0f} ms,"
                f" p99 {lat[int(len(lat) * 0.99)] * 1000:.0f} ms, mean {statistics.mean(lat) * 1000:.0f} ms (sample {len(lat):,})"
            )
        print(f"point twins updated: {int(twins[0]) if twins else 0:,}")
        if probe is not None:
            probe.report(dsn)
        for k in watched:
            print(
                f"cpu {k:10}: {after[k] - before[k]:7.1f} s over {drained_s:.1f} s"
                f" = {(after[k] - before[k]) / drained_s:.2f} cores"
            )
    finally:
        if probe is not None:
            probe.stop()
        for c in connectors:
            c.send_signal(signal.SIGTERM)
        for c in connectors:
            try:
                c.wait(timeout=30)
            except subprocess.TimeoutExpired:
                c.kill()
        for n in range(len(connectors)):  # the broker keeps no queue for connectors that are gone
            asyncio.run(
                forget_session(
                    BrokerAccount(
                        settings.mqtt_host,
                        settings.mqtt_port,
                        settings.mqtt_username,
                        settings.mqtt_password.get_secret_value(),
                        client_id=f"dusttwin-connector-{group}-{n}",
                    )
                )
            )


if __name__ == "__main__":
    main()
