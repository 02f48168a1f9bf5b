"""Benchmark: twin GET and RQL search latency over the Ditto API with 5,000 enterprises and
100,000 points (p50/p99), through the real FastAPI app in-process (auth, scope, JSON included).

Run: .venv/bin/python -m bench.bench_twins [--enterprises 5000] [--points-per 20] [--requests 400]
It creates (and drops) its own database next to the platform's, from the settings' DSN.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from typing import Any

import httpx
import psycopg

from api.app import create_app
from bench.common import scratch_database
from dusttwin.demo import demo_credit_code
from dusttwin.migrate import migrate
from dusttwin.settings import Settings

COUNTIES = ["310113", "310114", "310120", "310112", "310115", "310116", "310117", "310118"]
INDICATORS = ["HOPPER_TEMP", "DP_IN_OUT", "AIRLOCK_FAULT", "FAN_RUN", "DUCT_VEL"]


def load(dsn: str, enterprises: int, points_per: int) -> list[str]:
    """COPY twins shaped as the registry writes them; returns the enterprises' credit codes."""
    rng = random.Random(1)
    codes: list[str] = []
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY things (thing_id, policy_id, definition, attributes, features) FROM STDIN"
        ) as copy:
            for adcode in ["100000", "310000", "310100", *COUNTIES]:
                tid = f"dusttwin:region-{adcode}"
                copy.write_row(
                    (tid, tid, "dusttwin:Region:1.0.0", json.dumps({"adcode": adcode}), "{}")
                )
            for i in range(enterprises):
                adcode = COUNTIES[i % len(COUNTIES)]
                cc = demo_credit_code(rng, adcode)
                codes.append(cc)
                ent = f"dusttwin:enterprise-{cc}"
                attrs = {
                    "credit_code": cc,
                    "adcode": adcode,
                    "name": f"企业{i:05d}",
                    "dust_workers": rng.randint(5, 150),
                    "dust_types": [rng.choice(["aluminium", "wood"])],
                    "parent": f"dusttwin:region-{adcode}",
                }
                copy.write_row((ent, ent, "dusttwin:Enterprise:1.0.0", json.dumps(attrs), "{}"))
                system = f"dusttwin:system-{cc}-DC01"
                copy.write_row(
                    (
                        system,
                        system,
                        "dusttwin:DustRemovalSystem:1.0.0",
                        json.dumps(
                            {
                                "credit_code": cc,
                                "adcode": adcode,
                                "system_code": "DC01",
                                "collector": "dry",
                                "parent": ent,
                            }
                        ),
                        "{}",
                    )
                )
                for p in range(points_per):
                    ind = INDICATORS[p % len(INDICATORS)]
                    code = f"DC01-{ind}-{p}"
                    tid = f"dusttwin:point-{cc}-{code}"
                    copy.write_row(
                        (
                            tid,
                            tid,
                            "dusttwin:Point:1.0.0",
                            json.dumps(
                                {
                                    "credit_code": cc,
                                    "adcode": adcode,
                                    "point_code": code,
                                    "indicator": ind,
                                    "system_code": "DC01",
                                    "range_low": 0,
                                    "range_high": 200,
                                    "parent": system,
                                }
                            ),
                            json.dumps(
                                {
                                    "measurement": {
                                        "properties": {"value": round(rng.uniform(20, 90), 1)}
                                    }
                                }
                            ),
                        )
                    )
        conn.execute(
            "INSERT INTO users (username, password_hash, role, scope) VALUES"
            " ('bench-admin', 'x', 'admin', NULL), ('bench-province', 'x', 'regulator', '310000'),"
            " ('bench-county', 'x', 'regulator', '310113')"
        )
        conn.execute("ANALYZE things")
    return codes


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(
    settings: Settings, codes: list[str], requests: int
) -> list[tuple[str, str, list[float]]]:
    """Time each kind of request ``requests`` times, as each user."""
    from twins.tokens import issue_token

    app = create_app(settings)
    rng = random.Random(2)
    results: list[tuple[str, str, list[float]]] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for user in ("bench-admin", "bench-province", "bench-county"):
                headers = {
                    "Authorization": f"Bearer {issue_token(settings.secret_key.get_secret_value(), user)}"
                }
                visible = [c for c in codes if user != "bench-county" or c[2:8] == "310113"]
                cases: dict[str, Any] = {
                    "GET point twin": lambda v=visible: (
                        f"/api/2/things/dusttwin:point-{rng.choice(v)}-DC01-HOPPER_TEMP-0",
                        None,
                    ),
                    "search eq credit_code (size 25)": lambda v=visible: (
                        "/api/2/search/things",
                        {"filter": f'eq(attributes/credit_code,"{rng.choice(v)}")'},
                    ),
                    "search indicator and value > 85 (size 25)": lambda: (
                        "/api/2/search/things",
                        {
                            "filter": 'and(eq(attributes/indicator,"HOPPER_TEMP"),gt(features/measurement/properties/value,85))'
                        },
                    ),
                    "search like name, sort -name (size 50)": lambda: (
                        "/api/2/search/things",
                        {
                            "filter": 'like(attributes/name,"企业01*")',
                            "option": "size(50),sort(-attributes/name)",
                        },
                    ),
                    "count points of one county": lambda: (
                        "/api/2/search/things/count",
                        {
                            "filter": 'and(eq(attributes/adcode,"310113"),exists(attributes/point_code))'
                        },
                    ),
                }
                for name, make in cases.items():
                    samples: list[float] = []
                    for _ in range(requests):
                        url, params = make()
                        started = time.perf_counter()
                        response = await client.get(url, params=params, headers=headers)
                        samples.append(time.perf_counter() - started)
                        assert response.status_code == 200, response.text
                    results.append((user, name, samples))
    return results


def main() -> None:
    """Load, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=5000)
    parser.add_argument("--points-per", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    settings = Settings()
    name = "dusttwin_bench_twins"
    with scratch_database(settings, name) as dsn:
        migrate(dsn, settings.timescaledb)
        started = time.perf_counter()
        codes = load(dsn, args.enterprises, args.points_per)
        print(
            f"loaded {args.enterprises:,} enterprises, {args.enterprises * args.points_per:,} points"
            f" in {time.perf_counter() - started:.1f} s"
        )
        bench_settings = Settings.model_validate({**settings.model_dump(), "database_url": dsn})
        for user, case, samples in asyncio.run(measure(bench_settings, codes, args.requests)):
            print(
                f"{user:15} {case:45} p50 {_pct(samples, 0.5):7.1f} ms  p99 {_pct(samples, 0.99):7.1f} ms"
                f"  mean {statistics.mean(samples) * 1000:7.1f} ms  n={len(samples)}"
            )


if __name__ == "__main__":
    main()
