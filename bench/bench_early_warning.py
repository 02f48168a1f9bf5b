"""Benchmark: early warning (提早预警) lead time on fault scenarios, false warnings on normal data.

Run: .venv/bin/python -m bench.bench_early_warning [--runs 20] [--points 20] [--days 3] [--period 10]
Pure: no services. The simulator's PlantModel produces one value per ``--period`` seconds; every
value goes through ``risk.limits.evaluate`` with the catalog's default limits. Per scenario it starts
the fault at a random time of the day shift after an hour of normal data and reports how long before
the real limit alarm (HIGH) the PREDICTED warning came (and, for the fast overheat, the rate-of-rise
alarm). On normal data (``--points`` points per indicator for ``--days`` days, fan running 07–22 h)
it counts PREDICTED warnings per point-day and the share not followed by a real alarm, with the
catalog's limits and with tight site overrides (``TIGHT``), each with and without the fit-quality
criteria (R² ≥ 0, z = 0 switches them off), to show what they are for.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from connectors.simulator import PlantModel
from device_catalog.catalog import load_catalog
from risk.limits import (
    AlarmChange,
    Context,
    EvaluationSettings,
    PointRule,
    PointState,
    Sample,
    evaluate,
)

SCENARIO_POINT = {"clogging": "DP_IN_OUT", "smoulder": "HOPPER_TEMP", "overheat": "HOPPER_TEMP"}
NORMAL_POINTS = ("HOPPER_TEMP", "DP_IN_OUT", "TANK_LEVEL")
MIDNIGHT_CST = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 2026-11-23 00:00 China time
WARMUP = timedelta(minutes=60)
AFTER = timedelta(minutes=150)  # the slowest scenario crosses its limit well within this
FOLLOW = timedelta(minutes=60)  # a real alarm this soon after a warning makes it a true one
REAL = ("HIGH", "LOW")
# A site that set its limits just above what its plant normally does (point overrides): HA 45 °C
# against daily peaks near 40 °C (fan start adds 4 °C at once), HA 900 Pa against a sawtooth that
# peaks near 800 Pa, LA 0.95 m against a tank refilled at 1.0 m. This stresses the fit-quality
# criteria: the trend often points at these limits without ever reaching them.
TIGHT: dict[str, dict[str, float | None]] = {
    "HOPPER_TEMP": {"ha": 45.0, "hha": 60.0},
    "DP_IN_OUT": {"ha": 900.0},
    "TANK_LEVEL": {"la": 0.95},
}


def rule_for(
    indicator: str, point_id: int, overrides: dict[str, float | None] | None = None
) -> PointRule:
    """The rule of a point of this indicator over its default range (catalog limits + overrides)."""
    catalog = load_catalog()
    ind = catalog.indicator(indicator)
    return PointRule.from_catalog(
        ind, point_id, overrides or {}, ind.measuring_range, running_signal=catalog.running_signal
    )


def feed(
    rule: PointRule,
    model: PlantModel,
    start: datetime,
    end: datetime,
    period: timedelta,
    settings: EvaluationSettings,
    on_time: tuple[datetime, str] | None = None,
) -> list[AlarmChange]:
    """Run the model from ``start`` to ``end`` through the evaluation; every change it made."""
    state, changes, t = PointState(), [], start
    while t < end:
        if on_time is not None and t >= on_time[0] and model.scenario is None:
            model.scenario, model.scenario_start = on_time[1], on_time[0]
        model.step(t)
        sample = Sample(t, round(model.value(rule.indicator, t), 3))
        state, made = evaluate(rule, state, sample, Context(running=model.fan_on(t)), settings)
        changes += made
        t += period
    return changes


def first_raise(
    changes: list[AlarmChange], types: tuple[str, ...], after: datetime
) -> datetime | None:
    """The first raise of one of these alarm types at or after ``after``."""
    times = [
        c.time for c in changes if c.action == "raise" and c.alarm_type in types and c.time >= after
    ]
    return min(times, default=None)


@dataclass
class ScenarioResult:
    """Lead times of one scenario over its runs (minutes)."""

    runs: int = 0
    real_after: list[float] = field(default_factory=list)  # real HIGH alarm, minutes after start
    predicted_lead: list[float] = field(default_factory=list)
    rate_lead: list[float] = field(default_factory=list)
    first_lead: list[float] = field(default_factory=list)  # PREDICTED or RATE, whichever first
    missed: int = 0  # no PREDICTED warning before the real alarm
    early: int = 0  # PREDICTED raised during the hour of normal data before the fault


def run_scenario(
    scenario: str, runs: int, period: timedelta, settings: EvaluationSettings
) -> ScenarioResult:
    """Each run: an hour of normal data, then the fault from a random time of the day shift."""
    result = ScenarioResult()
    rule = rule_for(SCENARIO_POINT[scenario], 1)
    for seed in range(runs):
        rng = random.Random(f"{scenario}-{seed}")
        begin = MIDNIGHT_CST + timedelta(hours=9) + timedelta(minutes=rng.uniform(0, 9 * 60))
        changes = feed(
            rule,
            PlantModel(rng),
            begin - WARMUP,
            begin + AFTER,
            period,
            settings,
            (begin, scenario),
        )
        result.runs += 1
        result.early += any(
            c.action == "raise" and c.alarm_type == "PREDICTED" and c.time < begin for c in changes
        )
        real = first_raise(changes, ("HIGH",), begin)
        if real is None:
            continue
        result.real_after.append(_between(begin, real))
        predicted = first_raise(changes, ("PREDICTED",), begin)
        rate = first_raise(changes, ("RATE",), begin)
        if predicted is not None and predicted <= real:
            result.predicted_lead.append(_between(predicted, real))
        else:
            result.missed += 1
        if rate is not None and rate <= real:
            result.rate_lead.append(_between(rate, real))
        warned = [w for w in (predicted, rate) if w is not None and w <= real]
        if warned:
            result.first_lead.append(_between(min(warned), real))
    return result


@dataclass
class NormalResult:
    """Warnings and real alarms on normal data, per indicator."""

    point_days: float = 0.0
    predicted: int = 0
    unfollowed: int = 0
    real: int = 0


def run_normal(
    indicator: str,
    points: int,
    days: int,
    period: timedelta,
    settings: EvaluationSettings,
    tight: bool,
) -> NormalResult:
    """``points`` simulated points of one indicator for ``days`` days from midnight (China time)."""
    result = NormalResult()
    for p in range(points):
        model = PlantModel(random.Random(f"normal-{indicator}-{p}"))
        changes = feed(
            rule_for(indicator, p, TIGHT[indicator] if tight else None),
            model,
            MIDNIGHT_CST,
            MIDNIGHT_CST + timedelta(days=days),
            period,
            settings,
        )
        reals = [c.time for c in changes if c.action == "raise" and c.alarm_type in REAL]
        warnings = [c.time for c in changes if c.action == "raise" and c.alarm_type == "PREDICTED"]
        result.point_days += days
        result.real += len(reals)
        result.predicted += len(warnings)
        result.unfollowed += sum(not any(w <= r <= w + FOLLOW for r in reals) for w in warnings)
    return result


def _between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds() / 60


def _minutes(values: list[float]) -> str:
    if not values:
        return "—"
    return f"median {statistics.median(values):.1f}, min {min(values):.1f}, max {max(values):.1f}"


def main() -> None:
    """Run every scenario and the normal data; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="runs per scenario")
    parser.add_argument("--points", type=int, default=20, help="normal points per indicator")
    parser.add_argument("--days", type=int, default=3, help="days of normal data per point")
    parser.add_argument("--period", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    period = timedelta(seconds=args.period)
    settings = EvaluationSettings()
    ps = settings.prediction
    print(
        f"early warning: horizon {ps.horizon}, window {ps.window}, ≥ {ps.min_buckets} one-minute means, "
        f"R² ≥ {ps.min_r2}, slope − {ps.confidence_z}·SE, persistence {ps.persistence}; samples every {args.period:g} s"
    )
    started = time.perf_counter()
    print(
        "\nscenario (point)        runs  real HIGH after start (min)          PREDICTED lead before HIGH (min)     missed  warned in warm-up  RATE lead (min)   first warning lead (min)"
    )
    for scenario, indicator in SCENARIO_POINT.items():
        r = run_scenario(scenario, args.runs, period, settings)
        print(
            f"{scenario} ({indicator}){'':<{22 - len(scenario) - len(indicator) - 3}} {r.runs:>4}  {_minutes(r.real_after):<36} "
            f"{_minutes(r.predicted_lead):<36} {r.missed:>6}  {r.early:>17}  {_minutes(r.rate_lead):<17} {_minutes(r.first_lead)}"
        )
    naive = replace(settings, prediction=replace(ps, min_r2=0.0, confidence_z=0.0))
    for limits, tight in (("catalog default limits", False), ("tight site limits", True)):
        for label, chosen in (
            ("with the fit-quality criteria", settings),
            ("without them (R² ≥ 0, z = 0)", naive),
        ):
            print(
                f"\nnormal data, {limits}, {label}: {args.points} points per indicator × {args.days} days"
            )
            print(
                "indicator      limits               point-days  PREDICTED  per point-day  not followed by a real alarm  real HIGH/LOW alarms"
            )
            for indicator in NORMAL_POINTS:
                n = run_normal(indicator, args.points, args.days, period, chosen, tight)
                share = f"{n.unfollowed / n.predicted:.0%}" if n.predicted else "—"
                shown = (
                    ", ".join(
                        f"{k.upper()} {v:g}" for k, v in TIGHT[indicator].items() if v is not None
                    )
                    if tight
                    else "catalog"
                )
                print(
                    f"{indicator:<14} {shown:<20} {n.point_days:>10.0f}  {n.predicted:>9}  {n.predicted / n.point_days:>13.3f}  "
                    f"{share:>28}  {n.real:>20}"
                )
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
