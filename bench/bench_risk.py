"""Benchmark: full risk evaluation of 10,000 synthetic enterprises (pure, no database), total and
per enterprise (mean, p50, p99), plus what the evaluation job adds on top (the stored JSON, its
fingerprint, the levers, the warning decision).

Run: .venv/bin/python -m bench.bench_risk [--enterprises 10000] [--repeats 5] [--max-alarms 20]
The inputs are built once (a realistic mix: 0–max alarms each, most of them handled, some
overdue, some on mandatory indicators; cleaning rates; a few hazards) and are not timed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from risk.model import (
    AlarmFact,
    CleaningFact,
    EnterpriseInputs,
    HazardFact,
    MissingMeasure,
    RiskModel,
    default_model,
    evaluate,
    what_to_lower,
)
from risk.warnings_policy import decide_warnings

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CST)
COUNTIES = ["310113", "310114", "310120", "320506", "320505", "330106", "440306", "500101"]
# (level, alarm_type, indicator, weight): what the alarm rules raise, roughly how often.
ALARM_MIX = [
    ("HA", "HIGH", "HOPPER_TEMP", 14),
    ("HHA", "HIGH", "HOPPER_TEMP", 3),
    ("LA", "LOW", "DP_IN_OUT", 14),
    ("HA", "HIGH", "DP_IN_OUT", 10),
    ("HA", "SWITCH", "AIRLOCK_FAULT", 8),
    ("LA", "LOW", "DUCT_VEL", 10),
    ("LA", "LOW", "TANK_LEVEL", 5),
    ("HHA", "ZERO_RUNNING", "WATER_FLOW", 1),
    ("HA", "SWITCH", "SPARK_DET", 2),
    ("HA", "SWITCH", "SPARK_EXT", 1),
    ("FAULT", "FAULT", None, 10),
    ("OVER_RANGE", "OVER_RANGE", None, 6),
    ("OFFLINE", "OFFLINE", None, 8),
    ("PREDICTED", "PREDICTED", "HOPPER_TEMP", 4),
    ("EXPLOSION", "EXPLOSION", "VENT_BURST", 0.05),
]
MANDATORY = {"HOPPER_TEMP", "DP_IN_OUT", "AIRLOCK_FAULT", "TANK_LEVEL", "WATER_FLOW"}


def synthetic(
    model: RiskModel, count: int, max_alarms: int, seed: int = 1
) -> list[EnterpriseInputs]:
    """``count`` enterprises with a realistic mix of attributes, alarms and cleaning."""
    rng = random.Random(seed)
    weights = [w for *_, w in ALARM_MIX]
    out: list[EnterpriseInputs] = []
    for i in range(count):
        systems = rng.choice([1, 1, 1, 2, 2, 3, 4, 6])
        codes = [f"DC{s + 1:02d}" for s in range(systems)]
        alarms: list[AlarmFact] = []
        for n in range(rng.randint(0, max_alarms)):
            level, alarm_type, indicator, _ = rng.choices(ALARM_MIX, weights)[0]
            raised = NOW - timedelta(minutes=rng.randint(1, 7 * 24 * 60))
            ack, feedback = model.alarm_deadlines.for_alarm(raised)
            age = NOW - raised
            # Older alarms are mostly handled; a few stay behind (the overdue penalties).
            if age > timedelta(hours=24):
                state = rng.choices(["CLOSED", "FED_BACK", "HANDLING", "ACTIVE"], [80, 10, 7, 3])[0]
            else:
                state = rng.choices(["CLOSED", "FED_BACK", "HANDLING", "ACTIVE"], [40, 20, 25, 15])[
                    0
                ]
            active = state != "CLOSED" and rng.random() < 0.3
            system = rng.choice(codes)
            alarms.append(
                AlarmFact(
                    alarm_id=f"{i}-{n}",
                    level=level,
                    alarm_type=alarm_type,
                    state=state,
                    raised_at=raised,
                    ack_deadline=ack,
                    feedback_deadline=feedback,
                    indicator=indicator,
                    point=f"{system}-{indicator}" if indicator else None,
                    system_code=system,
                    mandatory=indicator in MANDATORY,
                    condition_active=active,
                    cleared_at=None if active else raised + timedelta(minutes=rng.randint(1, 180)),
                    acknowledged_at=None if state == "ACTIVE" else raised + timedelta(minutes=10),
                    verification=(
                        rng.choices(["REAL", "FALSE_ALARM", "DEVICE_FAULT"], [70, 20, 10])[0]
                        if state == "CLOSED"
                        else None
                    ),
                )
            )
        dust = rng.choice(["metal", "metal", "wood", "wood", "other"])
        out.append(
            EnterpriseInputs(
                credit_code=f"9131{i:014d}",
                dust_class=dust,
                al_mg=dust == "metal" and rng.random() < 0.5,
                workers=rng.choice([5, 12, 25, 30, 45, 80, 150]),
                dry_systems=systems,
                indoor_central_dry=(codes[0],) if rng.random() < 0.2 else (),
                positive_pressure_without_spark_ext=(codes[-1],) if rng.random() < 0.05 else (),
                missing_explosion_measures=tuple(
                    MissingMeasure(system_code=c, measures=("isolation_valve",))
                    for c in codes
                    if rng.random() < 0.15
                ),
                alarms=tuple(alarms),
                offline_share_24h=rng.choice([0.0, 0.0, 0.0, 0.05, 0.1, 0.3]),
                cleaning_completion=rng.choice([None, 1.0, 1.0, 0.9, 0.75, 0.5]),
                overdue_cleanings=tuple(
                    CleaningFact(task_id=f"{i}-c{k}", zone=rng.choice(["20", "21", "22"]))
                    for k in range(rng.choice([0, 0, 0, 1, 2]))
                ),
                open_major_hazards=(
                    (HazardFact(hazard_id=f"{i}-h"),) if rng.random() < 0.03 else ()
                ),
            )
        )
    return out


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Build, time, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-alarms", type=int, default=20)
    args = parser.parse_args()
    model = default_model()
    started = time.perf_counter()
    inputs = synthetic(model, args.enterprises, args.max_alarms)
    alarms = sum(len(x.alarms) for x in inputs)
    print(
        f"built {len(inputs):,} enterprises, {alarms:,} alarms "
        f"({alarms / len(inputs):.1f} each) in {time.perf_counter() - started:.1f} s (not timed)"
    )

    totals: list[float] = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for x in inputs:
            evaluate(model, x, NOW)
        totals.append(time.perf_counter() - started)
    best, median = min(totals), statistics.median(totals)
    print(
        f"evaluate, all {len(inputs):,}: best {best:.2f} s, median {median:.2f} s of {args.repeats}"
        f" → {median / len(inputs) * 1e6:.0f} µs per enterprise"
    )

    each: list[float] = []
    results = []
    for x in inputs:
        started = time.perf_counter_ns()
        results.append(evaluate(model, x, NOW))
        each.append((time.perf_counter_ns() - started) / 1000)
    print(
        f"evaluate, one enterprise: p50 {_pct(each, 0.5):.0f} µs  p99 {_pct(each, 0.99):.0f} µs"
        f"  max {max(each):.0f} µs  mean {statistics.mean(each):.0f} µs"
    )
    by_alarms: dict[str, list[float]] = {"0–5": [], "6–12": [], "13+": []}
    for x, t in zip(inputs, each, strict=True):
        n = len(x.alarms)
        by_alarms["0–5" if n <= 5 else "6–12" if n <= 12 else "13+"].append(t)
    print(
        "  by alarms: "
        + "  ".join(f"{k}: p50 {_pct(v, 0.5):.0f} µs" for k, v in by_alarms.items() if v)
    )

    started = time.perf_counter()
    for r in results:
        r.as_dict()
        r.result_fingerprint()
        what_to_lower(r)
        decide_warnings(
            model,
            adcode=COUNTIES[int(r.credit_code[-4:]) % len(COUNTIES)],
            previous_level="blue",
            evaluation=r,
            open_warnings=(),
            overdue_alarm_ids=(),
            offline_since=None,
            now=NOW,
        )
    extra = time.perf_counter() - started
    print(
        f"job extras (as_dict + fingerprint + what_to_lower + decide_warnings), all: {extra:.2f} s"
        f" → {extra / len(inputs) * 1e6:.0f} µs per enterprise"
    )
    levels = Counter(r.level for r in results)
    overridden = sum(1 for r in results if r.level != r.level_by_score)
    print(
        "levels of the synthetic mix: "
        + ", ".join(f"{lv} {levels[lv]:,}" for lv in ("red", "orange", "yellow", "blue"))
        + f" ({overridden:,} raised by an override)"
    )


if __name__ == "__main__":
    main()
