"""Early warning (提早预警): warned before a slow fault reaches its limit, quiet on a normal day."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from connectors.simulator import PlantModel
from device_catalog import load_catalog
from risk.limits import (
    AlarmChange,
    Context,
    EvaluationSettings,
    PointRule,
    PointState,
    Sample,
    evaluate,
)
from risk.predict import (
    Fit,
    Prediction,
    PredictionSettings,
    Trend,
    fit_trend,
    outlook,
    predict_crossing,
    theil_sen,
)

MIDNIGHT_CST = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 2026-11-23 00:00 in China
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in China: the fan runs
SETTINGS = PredictionSettings()
STEP = timedelta(seconds=10)


def rule(code: str, overrides: dict[str, float | None] | None = None) -> PointRule:
    indicator = load_catalog().indicator(code)
    return PointRule.from_catalog(indicator, 1, overrides or {}, indicator.measuring_range)


def trend_of(values_per_minute: list[float]) -> Trend:
    """A trend fed six samples a minute at the given per-minute values (one more to close)."""
    trend = Trend()
    for minute, value in enumerate([*values_per_minute, values_per_minute[-1]]):
        for k in range(6):
            trend.add(T0 + timedelta(minutes=minute, seconds=10 * k), value, SETTINGS)
    return trend


def simulate(
    code: str,
    start: datetime,
    duration: timedelta,
    scenario: tuple[str, datetime] | None = None,
    seed: int = 1,
    overrides: dict[str, float | None] | None = None,
) -> list[AlarmChange]:
    """The changes the evaluation makes on a simulated point, one sample every 10 s."""
    model, point = PlantModel(random.Random(seed)), rule(code, overrides)
    state, changes, t = PointState(), [], start
    while t < start + duration:
        if scenario is not None and t >= scenario[1] and model.scenario is None:
            model.scenario, model.scenario_start = scenario
        model.step(t)
        sample = Sample(t, round(model.value(code, t), 3))
        state, made = evaluate(point, state, sample, Context(model.fan_on(t)), EvaluationSettings())
        changes += made
        t += STEP
    return changes


def raised(changes: list[AlarmChange], alarm_type: str) -> list[AlarmChange]:
    return [c for c in changes if c.action == "raise" and c.alarm_type == alarm_type]


# ---------------------------------------------------------------- the fit


def test_theil_sen_is_not_pulled_by_one_stray_point() -> None:
    xs = [float(x) for x in range(10)]
    ys = [2.0 * x + 1 for x in xs]
    ys[4] = 500.0
    slope, intercept = theil_sen(xs, ys)
    assert slope == pytest.approx(2.0)
    assert intercept == pytest.approx(1.0)


def test_no_fit_before_a_whole_window_of_minutes() -> None:
    ramp = [700 + 30.0 * m for m in range(25)]
    assert fit_trend(trend_of(ramp[:12]), SETTINGS) is None
    fit = fit_trend(trend_of(ramp), SETTINGS)
    assert fit is not None
    assert fit.slope_per_min == pytest.approx(30.0)
    assert fit.n == 20  # the window: older minutes are dropped


def test_a_steady_climb_is_predicted_to_cross_when_it_will() -> None:
    rng = random.Random(4)
    climb = [700 + 30.0 * m + rng.gauss(0, 15) for m in range(20)]  # 1500 Pa at minute 26.7
    fit = fit_trend(trend_of(climb), SETTINGS)
    prediction = predict_crossing(fit, 1500.0, 200.0, SETTINGS)
    assert prediction is not None
    assert prediction.direction == "up"
    assert prediction.limit == 1500.0
    expected = T0 + timedelta(minutes=26.7)
    assert abs(prediction.predicted_at - expected) < timedelta(minutes=2)
    assert prediction.due_by >= prediction.predicted_at  # the slow end of the slope's band


def test_a_pulse_cleaning_sawtooth_fits_badly_and_predicts_nothing() -> None:
    sawtooth = [600 + 8.0 * (m % 20) for m in range(7, 27)]  # one drop inside the window
    fit = fit_trend(trend_of(sawtooth), SETTINGS)
    assert fit is not None
    assert fit.r2 < SETTINGS.min_r2
    assert predict_crossing(fit, 900.0, 200.0, SETTINGS) is None


def test_an_uncertain_slope_is_not_trusted_its_slow_end_decides() -> None:
    # 20 Pa/min reaches 1500 Pa in 25 min, but ± 2 × 8 Pa/min leaves 4 Pa/min: 125 min
    shaky = Fit(slope_per_min=20.0, level=1000.0, at=T0, r2=0.9, slope_se=8.0, n=20)
    firm = Fit(slope_per_min=20.0, level=1000.0, at=T0, r2=0.9, slope_se=1.0, n=20)
    shaky_prediction = predict_crossing(shaky, 1500.0, None, SETTINGS)
    firm_prediction = predict_crossing(firm, 1500.0, None, SETTINGS)
    assert shaky_prediction is not None
    assert shaky_prediction.predicted_at == T0 + timedelta(minutes=25)
    assert outlook(shaky_prediction, T0, SETTINGS) == "clear"
    assert outlook(firm_prediction, T0, SETTINGS) == "due"


def test_an_almost_flat_slope_predicts_no_crossing_at_all() -> None:
    trusting = PredictionSettings(min_r2=0.0, confidence_z=0.0)
    flat = Fit(slope_per_min=1e-12, level=0.6, at=T0, r2=0.0, slope_se=0.0, n=20)
    assert predict_crossing(flat, 1.9, 0.4, trusting) is None
    assert predict_crossing(flat, None, 0.4, trusting) is None


def test_a_falling_level_is_predicted_towards_its_low_limit() -> None:
    falling = [1.0 - 0.01 * m for m in range(20)]  # 0.4 m at minute 60
    prediction = predict_crossing(fit_trend(trend_of(falling), SETTINGS), None, 0.75, SETTINGS)
    assert prediction is not None
    assert (prediction.direction, prediction.limit) == ("down", 0.75)


def test_the_warning_is_due_within_the_horizon_held_a_while_beyond_then_cleared() -> None:
    at = T0 + timedelta(minutes=20)
    prediction = Prediction("up", 1500.0, at, at)
    verdicts = [
        outlook(prediction, at - timedelta(minutes=m), SETTINGS) for m in (10, 29, 40, 46, 90)
    ]
    assert verdicts == ["due", "due", "hold", "clear", "clear"]
    assert outlook(prediction, at + timedelta(minutes=1), SETTINGS) == "hold"  # at the limit
    assert outlook(None, at, SETTINGS) == "clear"


def test_the_trend_holds_one_mean_per_minute_of_its_window() -> None:
    trend = Trend()
    for s in range(0, 6 * 3600):
        trend.add(T0 + timedelta(seconds=s), 40.0 + s % 7, SETTINGS)
    restored = Trend.from_json(json.loads(json.dumps(trend.to_json())))
    assert len(trend.buckets) == 20
    assert restored == trend


# ---------------------------------------------------------------- through the evaluation


def test_a_normal_simulated_day_raises_no_predicted_warning_and_no_alarm() -> None:
    day = timedelta(days=1)
    temp = simulate("HOPPER_TEMP", MIDNIGHT_CST, day, seed=11)
    dp = simulate("DP_IN_OUT", MIDNIGHT_CST, day, seed=12)
    assert temp == []
    assert dp == []


def test_a_sawtooth_just_under_a_tight_limit_raises_no_warning_after_the_fan_starts() -> None:
    # HA 900 Pa against a sawtooth peaking near 800 Pa: each ramp points at HA, each cleaning
    # drop proves it wrong; the first ramp after 07:00 has no drop in its window yet
    dp = simulate("DP_IN_OUT", MIDNIGHT_CST, timedelta(days=1), seed=13, overrides={"ha": 900})
    assert raised(dp, "PREDICTED") == []


def test_clogging_is_warned_at_least_10_minutes_before_ha_and_then_superseded() -> None:
    start = T0 + timedelta(minutes=7)
    changes = simulate(
        "DP_IN_OUT", T0 - timedelta(hours=1), timedelta(hours=2), ("clogging", start)
    )
    (warning,) = raised(changes, "PREDICTED")
    (alarm,) = raised(changes, "HIGH")
    cleared = [c for c in changes if c.action == "clear" and c.alarm_type == "PREDICTED"]
    assert alarm.time - warning.time >= timedelta(minutes=10)
    assert warning.limit == 1500
    assert warning.predicted_at is not None
    assert abs(warning.predicted_at - alarm.time) < timedelta(minutes=5)
    assert [c.time for c in cleared] == [alarm.time]  # the real alarm takes over at once


def test_a_smouldering_hopper_is_warned_at_least_20_minutes_before_ha() -> None:
    start = T0 + timedelta(minutes=3)
    changes = simulate(
        "HOPPER_TEMP", T0 - timedelta(hours=1), timedelta(hours=2), ("smoulder", start)
    )
    (warning,) = raised(changes, "PREDICTED")
    (alarm,) = raised(changes, "HIGH")
    assert raised(changes, "RATE") == []  # too slow for the rate-of-rise rule
    assert alarm.time - warning.time >= timedelta(minutes=20)


def test_a_warning_clears_when_the_climb_stops_short_of_the_limit() -> None:
    point = rule("DP_IN_OUT")
    values = [700.0] * 25 + [700 + 25.0 * m for m in range(1, 25)] + [1300.0] * 30
    state, changes = PointState(), []
    for minute, value in enumerate(values):
        for k in range(6):
            sample = Sample(T0 + timedelta(minutes=minute, seconds=10 * k), value)
            state, made = evaluate(point, state, sample, Context(True), EvaluationSettings())
            changes += made
    actions = [c.action for c in changes]
    expected_at = [c.predicted_at for c in changes if c.action != "clear"]
    assert {c.alarm_type for c in changes} == {"PREDICTED"}
    assert (actions[0], actions[-1], actions.count("raise")) == ("raise", "clear", 1)
    # as the climb flattens, the expected crossing moves out (updates) until the warning clears
    assert expected_at == sorted(expected_at, key=lambda t: t or T0)


def test_no_early_warning_while_the_fan_is_off() -> None:
    point, state, changes = rule("DP_IN_OUT"), PointState(), []
    for s in range(0, 3600, 10):
        sample = Sample(T0 + timedelta(seconds=s), 200 + s / 2)  # would look like a runaway
        state, made = evaluate(point, state, sample, Context(False), EvaluationSettings())
        changes += made
    assert changes == []
    assert state.trend.buckets == []


def test_a_pending_warning_survives_a_restart_through_json() -> None:
    point = rule("DP_IN_OUT")
    values = [700.0] * 25 + [700 + 25.0 * m for m in range(1, 30)]
    state, changes = PointState(), []
    for minute, value in enumerate(values):
        state = PointState.from_json(json.loads(json.dumps(state.to_json())))  # each minute
        for k in range(6):
            sample = Sample(T0 + timedelta(minutes=minute, seconds=10 * k), value)
            state, made = evaluate(point, state, sample, Context(True), EvaluationSettings())
            changes += made
    (warning,) = raised(changes, "PREDICTED")
    assert warning.predicted_at is not None
