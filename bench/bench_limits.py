"""Benchmark: the pure limit evaluation's cost per reading (what ingest adds per point).

Run: .venv/bin/python -m bench.bench_limits [--points 1000] [--minutes 40]

One HOPPER_TEMP point rule per point, values inside the limits at two readings a second, the
state carried from reading to reading as the evaluator does; prints µs per reading for each
stretch of minutes (the trend window fills over the first 20), and for the JSON round trip of a
state that the evaluator does once per point and batch when it reads from the database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from device_catalog import load_catalog
from risk.limits import Context, EvaluationSettings, PointRule, PointState, Sample, evaluate


def main() -> None:
    """Evaluate, time, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--minutes", type=int, default=40)
    args = parser.parse_args()
    indicator = load_catalog().indicator("HOPPER_TEMP")
    rules = [PointRule.from_catalog(indicator, i, {}, (-20.0, 200.0)) for i in range(args.points)]
    states = [PointState() for _ in rules]
    settings, running, rng = EvaluationSettings(), Context(running=True), random.Random(1)
    t0 = datetime.now(UTC) - timedelta(hours=2)
    per_stretch = []
    for minute in range(0, args.minutes, 2):
        start = time.perf_counter()
        n = 0
        for k in range(240):  # two minutes at two readings a second
            at = t0 + timedelta(minutes=minute, seconds=k / 2)
            for i, rule in enumerate(rules):
                sample = Sample(at, 30 + rng.random() * 10, 0)
                states[i], _ = evaluate(rule, states[i], sample, running, settings)
                n += 1
        per_stretch.append((time.perf_counter() - start) / n * 1e6)
        print(f"minutes {minute:2d}-{minute + 2:2d}: {per_stretch[-1]:6.1f} µs per reading")
    start = time.perf_counter()
    for state in states:
        PointState.from_json(state.to_json())
    round_trip = (time.perf_counter() - start) / len(states) * 1e6
    print(
        f"median {statistics.median(per_stretch):.1f} µs per reading; state JSON round trip "
        f"{round_trip:.1f} µs per point"
    )


if __name__ == "__main__":
    main()
