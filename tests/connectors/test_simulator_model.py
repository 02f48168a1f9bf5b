"""The simulated plant behaves as the real one would, and its fault scenarios look like faults."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from connectors.simulator import GatewayState, PlantModel, SimGateway, SimPoint

DAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in China: the fan runs
NIGHT = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 in China: it does not
GATEWAY = SimGateway(
    "91310113MA1G8TEST9",
    "GW07",
    (
        SimPoint("DC01-HOPPER_TEMP-1", "HOPPER_TEMP"),
        SimPoint("DC01-DP_IN_OUT-1", "DP_IN_OUT"),
        SimPoint("DC01-FAN_RUN-1", "FAN_RUN"),
        SimPoint("DC01-VENT_BURST-1", "VENT_BURST"),
    ),
)


def _values(state: GatewayState, t: datetime) -> dict[str, object]:
    return {p["code"]: p["value"] for p in state.next_rts(t)["points"]}


def test_pressure_difference_climbs_between_pulse_cleanings_and_falls_after() -> None:
    model = PlantModel(random.Random(1))
    early = model.value("DP_IN_OUT", DAY.replace(minute=1))
    late = model.value("DP_IN_OUT", DAY.replace(minute=19))
    cleaned = model.value("DP_IN_OUT", DAY.replace(minute=21))
    assert late - early > 100
    assert late - cleaned > 100


def test_at_night_the_fan_stops_and_so_do_flow_and_pressure_difference() -> None:
    model = PlantModel(random.Random(2))
    assert model.switch("FAN_RUN", NIGHT) == 0
    assert model.value("DP_IN_OUT", NIGHT) < 30
    assert model.value("WATER_FLOW", NIGHT) == 0.0
    assert model.switch("FAN_RUN", DAY) == 1


def test_overheating_raises_the_hopper_temperature_past_its_limits() -> None:
    state = GatewayState(GATEWAY, random.Random(3))
    before = _values(state, DAY)["DC01-HOPPER_TEMP-1"]
    state.start("overheat", DAY)
    after = _values(state, DAY + timedelta(minutes=12))["DC01-HOPPER_TEMP-1"]
    assert isinstance(before, float)
    assert before < 50
    assert isinstance(after, float)
    assert after > 90  # beyond HHA 90


def test_broken_bag_drops_the_pressure_difference_and_sensor_fault_reports_fault() -> None:
    bag = GatewayState(GATEWAY, random.Random(4))
    bag.start("broken_bag", DAY)
    fault = GatewayState(GATEWAY, random.Random(5))
    fault.start("sensor_fault", DAY)
    dp = _values(bag, DAY + timedelta(minutes=1))["DC01-DP_IN_OUT-1"]
    first = fault.next_rts(DAY)["points"][0]
    assert isinstance(dp, float)
    assert dp < 200  # below LA 200
    assert first == {"code": "DC01-HOPPER_TEMP-1", "value": None, "quality": "FAULT"}


def test_an_outage_buffers_and_the_vent_burst_is_an_event_once() -> None:
    state = GatewayState(GATEWAY, random.Random(6))
    state.start("offline_backfill", DAY)
    silent = [state.silent(DAY + timedelta(minutes=m)) for m in (0, 4, 6)]
    vent = GatewayState(GATEWAY, random.Random(7))
    vent.start("vent_burst", DAY)
    first = vent.explosion_events(DAY)
    second = vent.explosion_events(DAY + timedelta(seconds=10))
    assert silent == [True, True, False]
    assert first is not None
    assert first["events"] == [
        {
            "code": "DC01-VENT_BURST-1",
            "type": "ACTIVE",
            "value": 1,
            "content": "泄爆装置动作（模拟）",
        }
    ]
    assert second is None


def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        GatewayState(GATEWAY, random.Random(8)).start("earthquake", DAY)


def test_clogging_climbs_the_pressure_difference_past_ha_with_no_cleaning_drop() -> None:
    state = GatewayState(GATEWAY, random.Random(9))
    state.start("clogging", DAY)
    minutes = range(0, 41)
    dps = [_values(state, DAY + timedelta(minutes=m))["DC01-DP_IN_OUT-1"] for m in minutes]
    floats = [dp for dp in dps if isinstance(dp, float)]
    assert len(floats) == len(dps)
    assert floats[0] < 800
    assert floats[-1] > 1500  # beyond HA 1500
    assert min(b - a for a, b in pairwise(floats)) > -60  # noise only, no cleaning drop


def test_smoulder_warms_the_hopper_slower_than_the_rate_rule_but_past_ha() -> None:
    state = GatewayState(GATEWAY, random.Random(10))
    state.start("smoulder", DAY)
    start, ten, hour = (
        _values(state, DAY + timedelta(minutes=m))["DC01-HOPPER_TEMP-1"] for m in (0, 10, 60)
    )
    assert isinstance(start, float)
    assert isinstance(ten, float)
    assert isinstance(hour, float)
    assert 0.5 < (ten - start) / 10 < 5  # °C a minute: a climb, yet under the 5 °C/min rule
    assert hour > 70  # beyond HA 70
