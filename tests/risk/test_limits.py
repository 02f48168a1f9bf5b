"""Limit evaluation: what a safety officer sees raised, escalated and cleared, sample by sample."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from device_catalog import load_catalog
from risk.limits import (
    FAULT,
    GOOD,
    MAINT,
    OVER_RANGE,
    AlarmChange,
    Context,
    EvaluationSettings,
    PointRule,
    PointState,
    Sample,
    evaluate,
    evaluate_event,
    offline_changes,
)

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in China
RUNNING = Context(running=True)
STOPPED = Context(running=False)
UNKNOWN = Context(running=None)


def rule(
    code: str,
    overrides: dict[str, float | None] | None = None,
    *,
    design: float | None = None,
) -> PointRule:
    indicator = load_catalog().indicator(code)
    return PointRule.from_catalog(
        indicator, 7, overrides or {}, indicator.measuring_range, design=design
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def steady(
    value: float | None,
    start_s: float,
    end_s: float,
    step_s: float = 1.0,
    quality: int = GOOD,
    backfilled: bool = False,
) -> list[Sample]:
    """Samples of one value from ``start_s`` (included) to ``end_s`` (excluded)."""
    count = round((end_s - start_s) / step_s)
    return [Sample(at(start_s + i * step_s), value, quality, backfilled) for i in range(count)]


def feed(
    point: PointRule,
    samples: Iterable[Sample],
    context: Context = RUNNING,
    state: PointState | None = None,
) -> tuple[PointState, list[AlarmChange]]:
    state = state or PointState()
    changes: list[AlarmChange] = []
    for sample in samples:
        state, made = evaluate(point, state, sample, context, EvaluationSettings())
        changes += made
    return state, changes


def seen(changes: list[AlarmChange]) -> list[tuple[str, str, str, float]]:
    """(action, alarm type, level, seconds after T0) of each change."""
    return [(c.action, c.alarm_type, c.level, (c.time - T0).total_seconds()) for c in changes]


# ---------------------------------------------------------------- persistence and escalation


def test_a_3_s_spike_over_ha_with_60_s_persistence_raises_nothing() -> None:
    dp = rule("DP_IN_OUT")  # HA 1500, persistence 60 s
    samples = steady(700, 0, 30) + steady(1800, 30, 33) + steady(700, 33, 600)
    _, changes = feed(dp, samples)
    assert changes == []


def test_a_condition_held_for_its_persistence_raises_once_at_that_moment() -> None:
    dp = rule("DP_IN_OUT")
    state, changes = feed(dp, steady(1600, 0, 300))
    assert seen(changes) == [("raise", "HIGH", "HA", 60.0)]
    assert changes[0].value == 1600
    assert changes[0].limit == 1500
    assert state.open_alarms() == {"HIGH": "HA"}


def test_ha_then_hha_is_one_alarm_whose_level_rose_and_stays_up() -> None:
    temp = rule("HOPPER_TEMP")  # HA 70, HHA 90, persistence 0
    samples = steady(75, 0, 10) + steady(95, 10, 20) + steady(80, 20, 30)
    state, changes = feed(temp, samples)
    assert seen(changes) == [("raise", "HIGH", "HA", 0.0), ("update", "HIGH", "HHA", 10.0)]
    assert changes[1].limit == 90
    assert state.open_alarms() == {"HIGH": "HHA"}


def test_a_new_peak_updates_the_open_alarm_with_its_value() -> None:
    temp = rule("HOPPER_TEMP")
    samples = [Sample(at(0), 72), Sample(at(1), 74), Sample(at(2), 73), Sample(at(3), 74)]
    _, changes = feed(temp, samples)
    assert [(c.action, c.value) for c in changes] == [("raise", 72), ("update", 74)]


def test_hha_needs_its_own_persistence_before_the_level_rises() -> None:
    dp = rule("DP_IN_OUT", {"hha": 3000})
    samples = steady(1600, 0, 120) + steady(3100, 120, 150) + steady(1600, 150, 400)
    state, changes = feed(dp, samples)
    # 30 s over HHA is a new peak of the HA alarm, not yet HHA
    assert seen(changes) == [("raise", "HIGH", "HA", 60.0), ("update", "HIGH", "HA", 120.0)]
    assert changes[1].value == 3100
    assert state.open_alarms() == {"HIGH": "HA"}


def test_point_overrides_beat_the_catalog_defaults() -> None:
    default, strict = rule("HOPPER_TEMP"), rule("HOPPER_TEMP", {"ha": 50, "persistence_s": 20})
    samples = steady(55, 0, 60)
    _, by_default = feed(default, samples)
    _, by_override = feed(strict, samples)
    assert by_default == []
    assert seen(by_override) == [("raise", "HIGH", "HA", 20.0)]


def test_an_overridden_off_limit_raises_nothing() -> None:
    temp = rule("HOPPER_TEMP", {"ha": None})  # explicit None: that limit is off for the point
    _, changes = feed(temp, steady(80, 0, 10))
    assert changes == []


# ---------------------------------------------------------------- clearing


def test_an_open_alarm_whose_limits_are_switched_off_clears_after_5_minutes() -> None:
    state, raised = feed(rule("HOPPER_TEMP", {"ha": 60}), steady(65, 0, 10))
    _, after = feed(
        rule("HOPPER_TEMP", {"ha": None, "hha": None}), steady(65, 10, 400, step_s=10), state=state
    )
    assert seen(raised) == [("raise", "HIGH", "HA", 0.0)]
    assert seen(after) == [("clear", "HIGH", "HA", 310.0)]


def test_high_clears_only_after_5_minutes_below_the_limit_minus_its_deadband() -> None:
    temp = rule("HOPPER_TEMP")  # HA 70, deadband 2: clears below 68
    samples = (
        steady(75, 0, 10)
        + steady(69, 10, 900, step_s=10)  # back under HA but inside the deadband: stays
        + steady(67, 900, 1100, step_s=10)  # below 68, but 200 s only ...
        + steady(69, 1100, 1110, step_s=10)  # ... then back into the deadband: clock restarts
        + steady(67, 1110, 1500, step_s=10)
    )
    _, changes = feed(temp, samples)
    assert seen(changes) == [("raise", "HIGH", "HA", 0.0), ("clear", "HIGH", "HA", 1410.0)]


def test_low_mirrors_high_with_persistence_escalation_and_deadband() -> None:
    tank = rule("TANK_LEVEL", {"lla": 0.2})  # LA 0.4 (20 % of 0–2 m), persistence 30 s
    samples = (
        steady(0.3, 0, 40, step_s=10)
        + steady(0.15, 40, 80, step_s=10)
        + steady(0.41, 80, 500, step_s=10)  # inside the deadband (0.40 + 0.02): no clear
        + steady(0.5, 500, 900, step_s=10)
    )
    _, changes = feed(tank, samples)
    assert seen(changes) == [
        ("raise", "LOW", "LA", 30.0),
        ("update", "LOW", "LA", 40.0),  # a new low, not yet LLA for 30 s
        ("update", "LOW", "LLA", 70.0),
        ("clear", "LOW", "LLA", 800.0),
    ]
    assert [c.value for c in changes] == [0.3, 0.15, 0.15, 0.5]


# ---------------------------------------------------------------- gates and context


def test_dp_below_la_while_the_fan_is_off_raises_nothing() -> None:
    dp = rule("DP_IN_OUT")  # LA 200, gated by FAN_RUN
    _, stopped = feed(dp, steady(5, 0, 3600, step_s=10), STOPPED)
    _, unknown = feed(dp, steady(5, 0, 3600, step_s=10), UNKNOWN)
    assert stopped == []
    assert unknown == []


def test_a_fan_stop_clears_an_open_dp_alarm_after_5_minutes_of_standstill() -> None:
    dp = rule("DP_IN_OUT")
    state, raised = feed(dp, steady(100, 0, 70, step_s=10))
    _, after_stop = feed(dp, steady(5, 70, 700, step_s=10), STOPPED, state)
    assert seen(raised) == [("raise", "LOW", "LA", 60.0)]
    assert seen(after_stop) == [("clear", "LOW", "LA", 370.0)]


def test_a_short_fan_trip_neither_clears_nor_raises_again() -> None:
    dp = rule("DP_IN_OUT")
    state, raised = feed(dp, steady(100, 0, 70, step_s=10))
    state, trip = feed(dp, steady(5, 70, 100, step_s=10), STOPPED, state)
    _, back = feed(dp, steady(100, 100, 400, step_s=10), RUNNING, state)
    assert len(raised) == 1
    assert trip == []
    assert back == []


def test_while_the_running_state_is_unknown_an_open_gated_alarm_holds() -> None:
    dp = rule("DP_IN_OUT")
    state, _ = feed(dp, steady(100, 0, 70, step_s=10))
    state, changes = feed(dp, steady(700, 70, 3600, step_s=10), UNKNOWN, state)
    assert changes == []
    assert state.open_alarms() == {"LOW": "LA"}


def test_water_flow_zero_while_running_raises_hha_after_its_persistence() -> None:
    flow = rule("WATER_FLOW", design=40)  # LA 32 (80 % of design), 0 while running → HHA, 30 s
    _, changes = feed(flow, steady(0.0, 0, 60, step_s=10))
    zero = [c for c in changes if c.alarm_type == "ZERO_RUNNING"]
    assert seen(zero) == [("raise", "ZERO_RUNNING", "HHA", 30.0)]


def test_water_flow_zero_while_stopped_raises_no_zero_flow_alarm() -> None:
    flow = rule("WATER_FLOW", design=40)
    _, changes = feed(flow, steady(0.0, 0, 3600, step_s=10), STOPPED)
    assert [c for c in changes if c.alarm_type == "ZERO_RUNNING"] == []


# ---------------------------------------------------------------- switches and explosion devices


def test_airlock_fault_for_10_s_raises_ha_but_a_5_s_blip_does_not() -> None:
    airlock = rule("AIRLOCK_FAULT")
    samples = steady(1, 0, 5) + steady(0, 5, 60) + steady(1, 60, 80)
    _, changes = feed(airlock, samples)
    assert seen(changes) == [("raise", "SWITCH", "HA", 70.0)]


def test_a_spark_count_raises_at_once() -> None:
    spark = rule("SPARK_DET")
    _, changes = feed(spark, [Sample(at(0), 0), Sample(at(10), 3)])
    assert seen(changes) == [("raise", "SWITCH", "HA", 10.0)]
    assert changes[0].value == 3


def test_a_vent_burst_reading_raises_explosion_at_once() -> None:
    vent = rule("VENT_BURST")
    _, changes = feed(vent, [Sample(at(0), 0), Sample(at(10), 1)])
    assert seen(changes) == [("raise", "EXPLOSION", "EXPLOSION", 10.0)]


def test_a_vent_burst_event_raises_explosion_even_when_older_than_the_last_reading() -> None:
    vent = rule("VENT_BURST")
    state, _ = feed(vent, steady(0, 0, 60, step_s=10))
    state, changes = evaluate_event(vent, state, at(30), "ACTIVE", 1, True, EvaluationSettings())
    assert seen(changes) == [("raise", "EXPLOSION", "EXPLOSION", 30.0)]
    assert changes[0].backfilled
    assert state.open_alarms() == {"EXPLOSION": "EXPLOSION"}


def test_a_switch_event_starts_the_persistence_and_the_next_reading_completes_it() -> None:
    airlock = rule("AIRLOCK_FAULT")
    state, on_event = evaluate_event(airlock, PointState(), at(0), "ACTIVE", None, False)
    state, later = feed(airlock, [Sample(at(10), 1)], state=state)
    state, cleared = evaluate_event(airlock, state, at(20), "CLEAR", None, False)
    assert on_event == []
    assert seen(later) == [("raise", "SWITCH", "HA", 10.0)]
    assert cleared == []  # a CLEAR is a 0 reading: the condition clears after 5 minutes of 0


def test_an_analog_event_without_a_value_is_the_device_reporting_a_fault() -> None:
    temp = rule("HOPPER_TEMP")
    _, changes = evaluate_event(temp, PointState(), at(0), "ACTIVE", None, False)
    assert seen(changes) == [("raise", "FAULT", "FAULT", 0.0)]


# ---------------------------------------------------------------- data quality


def test_a_device_fault_raises_fault_at_once_and_suspends_the_limits() -> None:
    dp = rule("DP_IN_OUT")
    samples = (
        steady(1600, 0, 40)
        + steady(None, 40, 50, quality=FAULT)  # the fault restarts the HIGH persistence ...
        + steady(1600, 50, 100)  # ... so 50 s of HA afterwards is not yet enough
        + steady(700, 100, 500, step_s=10)
    )
    _, changes = feed(dp, samples)
    assert seen(changes) == [("raise", "FAULT", "FAULT", 40.0), ("clear", "FAULT", "FAULT", 350.0)]


def test_out_of_range_raises_a_data_quality_alarm_after_60_s_and_no_process_alarm() -> None:
    temp = rule("HOPPER_TEMP")  # range -20–200 °C
    short = steady(250, 0, 59)
    _, brief = feed(temp, short)
    _, held = feed(temp, steady(250, 0, 120))
    _, flagged = feed(temp, steady(40, 0, 120, quality=OVER_RANGE))
    assert brief == []
    assert seen(held) == [("raise", "OVER_RANGE", "OVER_RANGE", 60.0)]
    assert seen(flagged) == [("raise", "OVER_RANGE", "OVER_RANGE", 60.0)]


def test_maintenance_raises_nothing_and_restarts_the_persistence() -> None:
    dp = rule("DP_IN_OUT")
    samples = (
        steady(9999, 0, 300, quality=MAINT)
        + steady(1600, 300, 330)
        + steady(None, 330, 340, quality=MAINT)
        + steady(1600, 340, 399)
    )
    _, changes = feed(dp, samples)
    assert changes == []


def test_a_gap_longer_than_the_offline_window_restarts_the_persistence() -> None:
    dp = rule("DP_IN_OUT")
    _, changes = feed(dp, [Sample(at(0), 1600), Sample(at(20 * 60), 1600)])
    assert changes == []


# ---------------------------------------------------------------- state, order, backfill


def test_state_survives_json_mid_persistence_and_the_alarm_still_raises_on_time() -> None:
    dp = rule("DP_IN_OUT")
    state, before = feed(dp, steady(1600, 0, 30))
    stored = json.loads(json.dumps(state.to_json()))
    _, after = feed(dp, steady(1600, 30, 90), state=PointState.from_json(stored))
    assert before == []
    assert seen(after) == [("raise", "HIGH", "HA", 60.0)]


def test_state_stays_small_after_a_day_of_samples_every_2_s() -> None:
    temp = rule("HOPPER_TEMP")
    state, _ = feed(temp, [Sample(at(s), 40 + (s % 600) / 100) for s in range(0, 86400, 2)])
    assert len(json.dumps(state.to_json())) < 3000


def test_an_older_sample_is_ignored_counted_and_moves_no_timer() -> None:
    dp = rule("DP_IN_OUT")
    state, _ = feed(dp, steady(1600, 0, 50))
    state, late = feed(dp, [Sample(at(10), 700)], state=state)
    _, on_time = feed(dp, steady(1600, 50, 61), state=state)
    assert late == []
    assert state.out_of_order == 1
    assert seen(on_time) == [("raise", "HIGH", "HA", 60.0)]


def test_evaluate_leaves_the_given_state_unchanged() -> None:
    dp = rule("DP_IN_OUT")
    state, _ = feed(dp, steady(1600, 0, 30))
    before = state.to_json()
    evaluate(dp, state, Sample(at(100), 1600), RUNNING, EvaluationSettings())
    assert state.to_json() == before


def test_the_backfilled_flag_is_carried_onto_the_changes() -> None:
    temp = rule("HOPPER_TEMP")
    _, changes = feed(temp, steady(75, 0, 5, backfilled=True))
    assert [(c.action, c.backfilled) for c in changes] == [("raise", True)]


# ---------------------------------------------------------------- rate of rise


def test_rate_of_rise_is_not_taken_from_two_noisy_samples_a_second_apart() -> None:
    temp = rule("HOPPER_TEMP")  # > 5 °C/min → HA
    _, changes = feed(temp, [Sample(at(0), 40.0), Sample(at(1), 41.0)])
    assert changes == []


def test_a_rise_of_6_degrees_a_minute_raises_rate_before_ha_is_reached() -> None:
    temp = rule("HOPPER_TEMP")
    samples = [Sample(at(s), 30 + 0.1 * s) for s in range(0, 180, 5)]  # 6 °C/min
    _, changes = feed(temp, samples)
    rate = [c for c in changes if c.alarm_type == "RATE"]
    assert seen(rate) == [("raise", "RATE", "HA", 60.0)]
    assert rate[0].value == pytest.approx(6.0)
    assert rate[0].limit == 5


def test_a_rise_of_4_degrees_a_minute_raises_no_rate_alarm() -> None:
    temp = rule("HOPPER_TEMP")
    _, changes = feed(temp, [Sample(at(s), 30 + s / 15) for s in range(0, 300, 5)])
    assert [c for c in changes if c.alarm_type == "RATE"] == []


# ---------------------------------------------------------------- offline and rules


def test_going_offline_raises_offline_and_coming_back_clears_it() -> None:
    state, down = offline_changes(PointState(), 7, at(0), online=False)
    state, again = offline_changes(state, 7, at(60), online=False)
    _, up = offline_changes(state, 7, at(600), online=True)
    assert seen(down) == [("raise", "OFFLINE", "OFFLINE", 0.0)]
    assert again == []
    assert seen(up) == [("clear", "OFFLINE", "OFFLINE", 600.0)]


def test_rules_from_the_catalog_carry_gate_rate_and_resolved_limits() -> None:
    dp, temp, flow = rule("DP_IN_OUT"), rule("HOPPER_TEMP"), rule("WATER_FLOW", design=40)
    assert (dp.gated, dp.limits.la, dp.limits.ha, dp.mandatory) == (True, 200, 1500, True)
    assert temp.rate_of_rise is not None
    assert temp.rate_of_rise.per_min == 5
    assert (flow.limits.la, flow.zero_while_running) == (32, "HHA")
