"""Benchmark: a year of one point at 1-hour buckets through the readings API (p50/p99).

Run: .venv/bin/python -m bench.bench_readings [--points 200] [--requests 100]
Loads a year of hourly rollups for ``--points`` points (so the index holds more than the one asked
for) into a database of its own, then asks the API in-process as a province regulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from api.app import create_app
from bench.common import scratch_database
from dusttwin.demo import demo_credit_code
from dusttwin.migrate import migrate
from dusttwin.settings import Settings
from twins.tokens import issue_token

END = datetime(2026, 11, 1, tzinfo=UTC)


def load(dsn: str, points: int) -> str:
    """Point twins and a year of their hourly rollups; returns one point's readings URL."""
    rng = random.Random(3)
    cc = demo_credit_code(rng, "310113")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        conn.execute(
            "SELECT dt_ensure_partitions(name, %s, %s) FROM timeseries_tables",
            (END - timedelta(days=370), END),
        )
        conn.execute(
            "INSERT INTO users (username, password_hash, role, scope) VALUES ('bench', 'x', 'regulator', '310000')"
        )
        ids = []
        for p in range(points):
            tid = f"dusttwin:point-{cc}-P{p}"
            row = cur.execute(
                "INSERT INTO things (thing_id, policy_id, definition, attributes) VALUES (%s, %s, %s, %s) RETURNING id",
                (
                    tid,
                    tid,
                    "dusttwin:Point:1.0.0",
                    json.dumps({"credit_code": cc, "adcode": "310113", "unit": "°C"}),
                ),
            ).fetchone()
            assert row is not None
            ids.append(row[0])
        with cur.copy("COPY readings_1h (bucket, point_id, n, sum, min, max) FROM STDIN") as copy:
            for pid in ids:
                for h in range(365 * 24):
                    v = 30.0 + rng.random() * 20
                    copy.write_row((END - timedelta(hours=h + 1), pid, 360, v * 360, v - 2, v + 2))
        conn.execute("ANALYZE readings_1h")
    return f"/api/v1/points/{cc}/P{points // 2}/readings"


async def measure(settings: Settings, url: str, requests: int) -> list[float]:
    """Time the year query ``requests`` times."""
    app = create_app(settings)
    samples = []
    headers = {
        "Authorization": f"Bearer {issue_token(settings.secret_key.get_secret_value(), 'bench')}"
    }
    params = {
        "from": (END - timedelta(days=365)).isoformat(),
        "to": END.isoformat(),
        "bucket": "1h",
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client,
    ):
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get(url, params=params, headers=headers)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            assert len(response.json()["buckets"]) == 365 * 24
    return samples


def main() -> None:
    """Load, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    settings = Settings()
    name = "dusttwin_bench_readings"
    with scratch_database(settings, name) as dsn:
        migrate(dsn, settings.timescaledb)
        url = load(dsn, args.points)
        samples = sorted(
            asyncio.run(
                measure(
                    Settings.model_validate({**settings.model_dump(), "database_url": dsn}),
                    url,
                    args.requests,
                )
            )
        )
        print(
            f"year of 1 h buckets (8,760) for one of {args.points} points, {len(samples)} requests:"
            f" p50 {samples[len(samples) // 2] * 1000:.1f} ms, p99 {samples[int(len(samples) * 0.99) - 1] * 1000:.1f} ms,"
            f" max {samples[-1] * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
