"""Benchmark: the full risk pass over 10,000 enterprises, database included.

Run: .venv/bin/python -m bench.bench_risk_db [--enterprises 10000] [--repeats 3]

In a database of its own: COPYs ``--enterprises`` enterprise twins (Shanghai districts), two dry
systems each and 0–20 alarms each (a mix of levels, states and ages), then times
``risk.assessment.assess`` for all of them: reading every input with set queries, evaluating,
storing the evaluations (the first pass inserts, an unchanged repeat only confirms), setting the
twins' ``risk`` feature and deciding the warnings — what the scheduler's ``risk-all`` job does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import scratch_database
from dusttwin.demo import demo_credit_code
from dusttwin.migrate import migrate
from dusttwin.settings import Settings
from risk.assessment import assess, load_facts
from risk.model import default_model

DISTRICTS = ("310113", "310114", "310120", "310115", "310112", "310117", "310118", "310116")
LEVELS = ("HA", "HA", "HA", "LA", "FAULT", "OVER_RANGE", "HHA", "OFFLINE", "PREDICTED")
TYPES = {"HA": "HIGH", "HHA": "HIGH", "LA": "LOW"}  # the others' type is their level
STATES = ("ACTIVE", "HANDLING", "FED_BACK", "CLOSED", "CLOSED")


def populate(dsn: str, enterprises: int, now: datetime) -> int:
    """Enterprises, systems and alarms as the platform stores them; returns the alarm count."""
    rng = random.Random(7)
    alarms = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        codes = []
        with cur.copy(
            "COPY things (thing_id, policy_id, definition, attributes, features) FROM STDIN"
        ) as copy:
            for _ in range(enterprises):
                adcode = rng.choice(DISTRICTS)
                cc = demo_credit_code(rng, adcode)
                codes.append((cc, adcode))
                ent = f"dusttwin:enterprise-{cc}"
                attributes = {
                    "credit_code": cc,
                    "adcode": adcode,
                    "name": cc,
                    "dust_types": [rng.choice(["aluminium", "wood", "flour", "plastic"])],
                    "dust_workers": rng.randint(3, 80),
                }
                copy.write_row(
                    (ent, ent, "dusttwin:Enterprise:1.0.0", json.dumps(attributes), "{}")
                )
                for s in range(2):
                    tid = f"dusttwin:system-{cc}-DC0{s}"
                    system = {
                        "credit_code": cc,
                        "adcode": adcode,
                        "system_code": f"DC0{s}",
                        "collector": "dry",
                        "indoor": rng.random() < 0.3,
                        "processes": ["打磨", "抛光"][: rng.randint(1, 2)],
                        "explosion_protection": rng.sample(
                            ["venting", "isolation_valve", "spark_detection"], rng.randint(0, 3)
                        ),
                        "parent": ent,
                    }
                    copy.write_row((tid, tid, "dusttwin:System:1.0.0", json.dumps(system), "{}"))
        with cur.copy(
            "COPY alarms (thing_id, credit_code, adcode, system_code, indicator, alarm_type, level,"
            " mandatory, state, condition_active, raised_at, last_seen_at, cleared_at,"
            " ack_deadline, feedback_deadline, acknowledged_at, fed_back_at, closed_at,"
            " verification) FROM STDIN"
        ) as copy:
            for cc, adcode in codes:
                for i in range(rng.randint(0, 20)):
                    alarms += 1
                    raised = now - timedelta(minutes=rng.randint(1, 7 * 24 * 60))
                    state = rng.choice(STATES)
                    level = rng.choice(LEVELS)
                    done = state in ("FED_BACK", "CLOSED")
                    copy.write_row(
                        (
                            f"dusttwin:point-{cc}-DC00-P{i}",
                            cc,
                            adcode,
                            "DC00",
                            "HOPPER_TEMP",
                            TYPES.get(level, level),
                            level,
                            rng.random() < 0.5,
                            state,
                            state != "CLOSED" and rng.random() < 0.3,
                            raised,
                            raised + timedelta(minutes=5),
                            None if state != "CLOSED" else raised + timedelta(minutes=10),
                            raised + timedelta(minutes=30),
                            raised + timedelta(hours=24),
                            raised + timedelta(minutes=10) if state != "ACTIVE" else None,
                            raised + timedelta(hours=1) if done else None,
                            raised + timedelta(hours=2) if state == "CLOSED" else None,
                            "REAL" if state != "ACTIVE" else None,
                        )
                    )
        conn.execute("ANALYZE things")
        conn.execute("ANALYZE alarms")
    return alarms


async def timed(dsn: str, repeats: int, now: datetime) -> None:
    """Time loading alone, then full passes."""
    model = default_model()
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        start = time.perf_counter()
        facts = await load_facts(conn, model, now)
        load_s = time.perf_counter() - start
        await conn.rollback()
        print(f"reading the inputs of {len(facts):,} enterprises: {load_s:.2f} s")
        passes = []
        for i in range(repeats):
            start = time.perf_counter()
            async with conn.transaction():
                outcome = await assess(conn, model, now + timedelta(seconds=i))
            took = time.perf_counter() - start
            passes.append(took)
            print(
                f"pass {i + 1}: {took:.2f} s ({took / outcome.evaluated * 1e6:,.0f} µs per "
                f"enterprise): evaluated {outcome.evaluated:,}, stored {outcome.stored:,}, level "
                f"changes {outcome.level_changes:,}, warnings raised {outcome.warnings_raised:,}"
            )
        print(f"median of {repeats}: {statistics.median(passes):.2f} s")


def main() -> None:
    """Populate a scratch database and time the risk pass."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    now = datetime.now(UTC)
    with scratch_database(settings, "dusttwin_bench_risk") as dsn:
        migrate(dsn)
        start = time.perf_counter()
        alarms = populate(dsn, args.enterprises, now)
        print(
            f"populated {args.enterprises:,} enterprises, {2 * args.enterprises:,} systems, "
            f"{alarms:,} alarms in {time.perf_counter() - start:.1f} s"
        )
        asyncio.run(timed(dsn, args.repeats, now))


if __name__ == "__main__":
    main()
