"""A gateway simulator speaking protocol v1 over MQTT (``dusttwin simulate``).

Each simulated gateway keeps its own connection, announces ``online`` on its retained ``state``
topic with ``offline`` as its will, sends an ``rts`` batch every period with plausible values and a
``heartbeat`` every minute — what a real 数采网关 does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


@dataclass(frozen=True)
class Behaviour:
    """How one indicator's simulated value moves: a mean-reverting walk, or a switch."""

    mean: float
    step: float
    low: float
    high: float
    switch: bool = False


# Typical operating values of a healthy system (simulation data, not alarm limits).
BEHAVIOURS: dict[str, Behaviour] = {
    "HOPPER_TEMP": Behaviour(38.0, 0.6, -20.0, 200.0),
    "INLET_TEMP": Behaviour(32.0, 0.5, -20.0, 200.0),
    "OUTLET_TEMP": Behaviour(30.0, 0.5, -20.0, 200.0),
    "DP_IN_OUT": Behaviour(850.0, 25.0, 0.0, 5000.0),
    "TANK_LEVEL": Behaviour(1.2, 0.02, 0.0, 3.0),
    "WATER_FLOW": Behaviour(32.0, 0.8, 0.0, 100.0),
    "H2_CONC": Behaviour(2.0, 0.3, 0.0, 100.0),
    "DUST_CONC": Behaviour(6.0, 0.8, 0.0, 1000.0),
    "DUCT_VEL": Behaviour(22.5, 0.4, 0.0, 40.0),
    "PULSE_AIR_P": Behaviour(0.55, 0.01, 0.0, 1.6),
    "O2_CONC": Behaviour(5.0, 0.2, 0.0, 25.0),
    "CO_CONC": Behaviour(6.0, 1.0, 0.0, 500.0),
    "FAN_RUN": Behaviour(1.0, 0.0, 0.0, 1.0, switch=True),
    "AIRLOCK_FAULT": Behaviour(0.0, 0.0, 0.0, 1.0, switch=True),
    "SMOKE": Behaviour(0.0, 0.0, 0.0, 1.0, switch=True),
    "SPARK_EXT": Behaviour(0.0, 0.0, 0.0, 1.0, switch=True),
}
_DEFAULT = Behaviour(10.0, 0.5, 0.0, 100.0)


@dataclass
class GatewayState:
    """The changing state of one simulated gateway."""

    gateway: SimGateway
    rng: random.Random
    seq: int = 0
    values: dict[str, float] = field(default_factory=dict)

    def next_rts(self, now: datetime) -> dict[str, Any]:
        """The next ``rts`` message (protocol v1 §4)."""
        self.seq += 1
        points: list[dict[str, Any]] = []
        for p in self.gateway.points:
            b = BEHAVIOURS.get(p.indicator, _DEFAULT)
            if b.switch:
                points.append({"code": p.code, "value": int(b.mean)})
                continue
            v = self.values.get(p.code, b.mean)
            v += self.rng.gauss(0.0, b.step) + 0.1 * (b.mean - v)
            v = min(max(v, b.low), b.high)
            self.values[p.code] = v
            points.append({"code": p.code, "value": round(v, 3)})
        return {
            "msg_id": f"{self.gateway.gateway_id}-{self.seq:06d}",
            "ts": now.isoformat(timespec="milliseconds"),
            "points": points,
        }


Credentials = Callable[[SimGateway], tuple[str, str]]


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
    on_connect: Callable[[], None] = lambda: None,
) -> int:
    """Simulate one gateway until cancelled (or ``messages`` rts sent); returns rts sent."""
    username, password = credentials(gateway)
    state = GatewayState(gateway, random.Random(f"{seed}-{gateway.credit_code}"))
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
            await client.publish(f"{gateway.topic_prefix}/rts", json.dumps(rts), qos=1)
            if loop.time() >= next_heartbeat:
                beat = {"ts": now.isoformat(timespec="seconds"), "buffered": 0, "fw": "sim-0.1"}
                await client.publish(f"{gateway.topic_prefix}/heartbeat", json.dumps(beat), qos=1)
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
) -> None:
    """Simulate every gateway at once, staggered over one period, until cancelled."""

    async def one(i: int, gw: SimGateway) -> None:
        await asyncio.sleep(period_s * i / max(len(gateways), 1))
        failing = False

        def connected() -> None:
            nonlocal failing
            if failing:
                log.info("simulated gateway %s: connected again", gw.topic_prefix)
                failing = False

        while True:
            try:
                await run_gateway(
                    gw, host, port, credentials, period_s=period_s, on_connect=connected
                )
            except aiomqtt.MqttError as err:
                if not failing:
                    log.warning("simulated gateway %s: %s; retrying", gw.topic_prefix, err)
                    failing = True
                await asyncio.sleep(5)

    log.info("simulating %d gateways every %.0f s", len(gateways), period_s)
    async with asyncio.TaskGroup() as tg:
        for i, gw in enumerate(gateways):
            tg.create_task(one(i, gw))
