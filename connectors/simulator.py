"""A gateway simulator speaking protocol v1 over MQTT (``dusttwin simulate``).

Each simulated gateway keeps its own connection, announces ``online`` on its retained ``state``
topic with ``offline`` as its will, sends an ``rts`` batch every period with plausible values and a
``heartbeat`` every minute — what a real 数采网关 does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiomqtt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimPoint:
    """A point to simulate: its code and indicator."""

    code: str
    indicator: str


@dataclass(frozen=True)
class SimGateway:
    """A gateway to simulate."""

    credit_code: str
    gateway_id: str
    points: tuple[SimPoint, ...]

    @property
    def topic_prefix(self) -> str:
        """``dust/v1/{credit_code}/{gateway_id}``."""
        return f"dust/v1/{self.credit_code}/{self.gateway_id}"


CST = timezone(timedelta(hours=8))
SCENARIOS = (
    "overheat",
    "smoulder",
    "clogging",
    "broken_bag",
    "sensor_fault",
    "offline_backfill",
    "vent_burst",
)
# How fast the slow faults develop (simulation, not alarm limits): a smouldering deposit warms the
# hopper by under 1 °C a minute (below the 5 °C/min rate-of-rise rule); bags that pulse cleaning no
# longer clears make the pressure difference climb by tens of Pa a minute.
SMOULDER_PER_MIN = 0.75
CLOG_PER_MIN = 30.0
OUTAGE = timedelta(minutes=5)  # how long "offline_backfill" keeps the gateway silent


@dataclass
class PlantModel:
    """Plausible values of one plant over time (simulation, not alarm limits).

    The fan runs 07:00–22:00 China time; hopper temperature follows the day with a slow drift;
    the pressure difference climbs as the bags clog and drops at each pulse cleaning (every 20
    minutes); the tank level falls while running and is refilled; an airlock fault comes now and
    then. A scenario, once started, bends the values the way that fault would: "overheat" heats the
    hopper fast (5.5 °C/min), "smoulder" slowly (SMOULDER_PER_MIN), "clogging" stops the pulse
    cleaning from clearing the bags so the pressure difference climbs on (CLOG_PER_MIN).
    """

    rng: random.Random
    drift: float = 0.0
    tank: float = 1.6
    airlock_left: int = 0
    scenario: str | None = None
    scenario_start: datetime | None = None
    last: datetime | None = None

    def fan_on(self, t: datetime) -> bool:
        """Whether the fan runs at ``t`` (one day shift and one evening shift)."""
        return 7 <= t.astimezone(CST).hour < 22

    def minutes_into_scenario(self, t: datetime) -> float:
        """Minutes since the scenario began (0 without one)."""
        return (t - self.scenario_start).total_seconds() / 60 if self.scenario_start else 0.0

    def step(self, t: datetime) -> None:
        """Advance the slow states to ``t``."""
        minutes = (t - self.last).total_seconds() / 60 if self.last else 0.0
        self.last = t
        self.drift = max(-3.0, min(3.0, self.drift + self.rng.gauss(0, 0.05)))
        if self.fan_on(t):
            self.tank -= 0.002 * minutes
        if self.tank < 1.0:
            self.tank = 1.6  # refilled
        if self.airlock_left > 0:
            self.airlock_left -= 1
        elif self.rng.random() < 1 / 3000:
            self.airlock_left = 3

    def value(self, indicator: str, t: datetime) -> float:  # noqa: PLR0911 — one per family
        """The value of an indicator at ``t`` (after ``step``)."""
        on = self.fan_on(t)
        hour = t.astimezone(CST).hour + t.astimezone(CST).minute / 60
        noise = self.rng.gauss
        scenario = self.scenario
        if indicator in ("HOPPER_TEMP", "INLET_TEMP", "OUTLET_TEMP"):
            base = 30 + 6 * math.sin(2 * math.pi * (hour - 8) / 24) + self.drift - (0 if on else 4)
            if scenario == "overheat" and indicator == "HOPPER_TEMP":
                base = min(130.0, base + 5.5 * self.minutes_into_scenario(t))
            if scenario == "smoulder" and indicator == "HOPPER_TEMP":
                base = min(130.0, base + SMOULDER_PER_MIN * self.minutes_into_scenario(t))
            return base + noise(0, 0.3)
        if indicator == "DP_IN_OUT":
            if not on:
                return max(0.0, noise(5, 3))
            if scenario == "broken_bag":
                return max(0.0, noise(120, 10))
            if scenario == "clogging" and self.scenario_start is not None:
                # from where the last cleaning left it, on up: no pulse clears the bags any more
                clogged = _since_pulse(self.scenario_start) + CLOG_PER_MIN * (
                    self.minutes_into_scenario(t)
                )
                return min(4500.0, 600 + clogged + noise(0, 15))
            return 600 + _since_pulse(t) + noise(0, 15)
        if indicator == "WATER_FLOW":
            return max(0.0, noise(38.5, 0.8)) if on else 0.0
        if indicator == "TANK_LEVEL":
            return self.tank + noise(0, 0.005)
        if indicator == "DUCT_VEL":
            return max(0.0, noise(22.5, 0.4)) if on else 0.0
        return _STEADY.get(indicator, (10.0, 0.5))[0] + noise(
            0, _STEADY.get(indicator, (10.0, 0.5))[1]
        )

    def switch(self, indicator: str, t: datetime) -> int:
        """The state of a switch indicator at ``t``."""
        if indicator == "FAN_RUN":
            return int(self.fan_on(t))
        if indicator == "AIRLOCK_FAULT":
            return int(self.airlock_left > 0)
        if indicator == "VENT_BURST":
            return int(self.scenario == "vent_burst")
        if indicator == "SPARK_DET":
            return int(self.rng.random() < 1 / 5000)
        return 0


def _since_pulse(t: datetime) -> float:
    """Pressure difference built up since the last pulse cleaning (8 Pa a minute, every 20 min)."""
    return 8 * ((t.minute % 20) + t.second / 60)


# steady indicators: (mean, noise)
_STEADY: dict[str, tuple[float, float]] = {
    "H2_CONC": (1.5, 0.3),
    "DUST_CONC": (6.0, 0.8),
    "PULSE_AIR_P": (0.55, 0.01),
    "O2_CONC": (5.0, 0.2),
    "CO_CONC": (6.0, 1.0),
}
_SWITCHES = frozenset(
    {
        "FAN_RUN",
        "AIRLOCK_FAULT",
        "SMOKE",
        "SPARK_EXT",
        "VENT_BURST",
        "ISO_VALVE",
        "SUPPRESSOR",
        "SPARK_DET",
    }
)
EXPLOSION_DEVICES = ("VENT_BURST", "ISO_VALVE", "SUPPRESSOR")


@dataclass
class GatewayState:
    """The changing state of one simulated gateway."""

    gateway: SimGateway
    rng: random.Random
    seq: int = 0
    model: PlantModel = field(init=False)
    buffered: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.model = PlantModel(self.rng)

    def start(self, scenario: str, now: datetime) -> None:
        """Begin a fault scenario (one of SCENARIOS)."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
        self.model.scenario, self.model.scenario_start = scenario, now

    def next_rts(self, now: datetime) -> dict[str, Any]:
        """The next ``rts`` message (protocol v1 §4)."""
        self.seq += 1
        self.model.step(now)
        points: list[dict[str, Any]] = []
        faulty = self.model.scenario == "sensor_fault"
        for p in self.gateway.points:
            if p.indicator in _SWITCHES:
                points.append({"code": p.code, "value": self.model.switch(p.indicator, now)})
            elif faulty:
                points.append({"code": p.code, "value": None, "quality": "FAULT"})
                faulty = False  # one sensor fails, the others go on
            else:
                points.append(
                    {"code": p.code, "value": round(self.model.value(p.indicator, now), 3)}
                )
        return {
            "msg_id": f"{self.gateway.gateway_id}-{self.seq:06d}",
            "ts": now.isoformat(timespec="milliseconds"),
            "points": points,
        }

    def silent(self, now: datetime) -> bool:
        """Whether the gateway is in its simulated outage (it buffers instead of sending)."""
        return (
            self.model.scenario == "offline_backfill"
            and self.model.minutes_into_scenario(now) < OUTAGE.total_seconds() / 60
        )

    def explosion_events(self, now: datetime) -> dict[str, Any] | None:
        """The vent-burst scenario's event message, once, for the gateway's explosion devices."""
        codes = [p.code for p in self.gateway.points if p.indicator in EXPLOSION_DEVICES]
        if self.model.scenario != "vent_burst" or not codes:
            return None
        self.model.scenario = "vent_burst-sent"
        return {
            "ts": now.isoformat(timespec="milliseconds"),
            "events": [
                {"code": c, "type": "ACTIVE", "value": 1, "content": "泄爆装置动作（模拟）"}
                for c in codes
            ],
        }


Credentials = Callable[[SimGateway], tuple[str, str]]


@dataclass
class Tally:
    """What a fleet has sent, for the progress display and the benchmarks."""

    messages: int = 0
    points: int = 0
    errors: int = 0


async def run_gateway(
    gateway: SimGateway,
    host: str,
    port: int,
    credentials: Credentials,
    *,
    period_s: float = 10.0,
    heartbeat_s: float = 60.0,
    messages: int | None = None,
    seed: int = 0,
    scenario: str | None = None,
    tally: Tally | None = None,
    on_connect: Callable[[], None] = lambda: None,
) -> int:
    """Simulate one gateway until cancelled (or ``messages`` rts made); returns rts made."""
    username, password = credentials(gateway)
    state = GatewayState(gateway, random.Random(f"{seed}-{gateway.credit_code}"))
    if scenario is not None:
        state.start(scenario, datetime.now(UTC))
    tally = tally or Tally()
    will = aiomqtt.Will(f"{gateway.topic_prefix}/state", "offline", qos=1, retain=True)
    async with aiomqtt.Client(
        host,
        port,
        username=username,
        password=password,
        identifier=f"sim-{gateway.credit_code}-{gateway.gateway_id}",
        will=will,
    ) as client:
        await client.publish(f"{gateway.topic_prefix}/state", "online", qos=1, retain=True)
        on_connect()
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time()
        while messages is None or state.seq < messages:
            now = datetime.now(UTC)
            rts = state.next_rts(now)
            if state.silent(now):
                state.buffered.append(rts)  # 断点续传: kept, sent when the link is back
            else:
                for message in [*state.buffered, rts]:
                    await client.publish(f"{gateway.topic_prefix}/rts", json.dumps(message), qos=1)
                    tally.messages += 1
                    tally.points += len(message["points"])
                state.buffered.clear()
                events = state.explosion_events(now)
                if events is not None:
                    await client.publish(f"{gateway.topic_prefix}/event", json.dumps(events), qos=1)
                if loop.time() >= next_heartbeat:
                    beat = {"ts": now.isoformat(timespec="seconds"), "buffered": 0, "fw": "sim-0.2"}
                    await client.publish(
                        f"{gateway.topic_prefix}/heartbeat", json.dumps(beat), qos=1
                    )
                    next_heartbeat += heartbeat_s
            if messages is None or state.seq < messages:
                await asyncio.sleep(period_s)
    return state.seq


async def run_fleet(
    gateways: list[SimGateway],
    host: str,
    port: int,
    credentials: Credentials,
    *,
    period_s: float = 10.0,
    scenarios: dict[str, str] | None = None,
    tally: Tally | None = None,
) -> None:
    """Simulate every gateway at once, staggered over one period, until cancelled.

    ``scenarios`` maps a gateway's username (``{credit_code}.{gateway_id}``) to a scenario.
    """
    tally = tally or Tally()
    scenarios = scenarios or {}

    async def one(i: int, gw: SimGateway) -> None:
        await asyncio.sleep(period_s * i / max(len(gateways), 1))
        failing = False

        def connected() -> None:
            nonlocal failing
            if failing:
                log.info("simulated gateway %s: connected again", gw.topic_prefix)
                failing = False

        scenario = scenarios.get(f"{gw.credit_code}.{gw.gateway_id}")
        while True:
            try:
                await run_gateway(
                    gw,
                    host,
                    port,
                    credentials,
                    period_s=period_s,
                    on_connect=connected,
                    scenario=scenario,
                    tally=tally,
                )
            except aiomqtt.MqttError as err:
                tally.errors += 1
                if not failing:
                    log.warning("simulated gateway %s: %s; retrying", gw.topic_prefix, err)
                    failing = True
                await asyncio.sleep(5)

    log.info("simulating %d gateways every %.1f s", len(gateways), period_s)
    async with asyncio.TaskGroup() as tg:
        for i, gw in enumerate(gateways):
            tg.create_task(one(i, gw))
