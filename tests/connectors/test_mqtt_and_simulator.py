"""The simulator speaks protocol v1 and the connector's loop receives it through the broker."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import aiomqtt

from connectors.mqtt import GatewayTopic, parse_topic
from connectors.simulator import SimGateway, SimPoint, run_gateway
from dusttwin.settings import Settings

GATEWAY = SimGateway(
    "91310113MA1G8TEST9",
    "GW07",
    (SimPoint("DC01-HOPPER_TEMP-1", "HOPPER_TEMP"), SimPoint("DC01-FAN_RUN-1", "FAN_RUN")),
)


def test_parse_topic_accepts_only_data_topics() -> None:
    assert parse_topic("dust/v1/91310113MA1G8TEST9/GW07/rts") == GatewayTopic(
        "91310113MA1G8TEST9", "GW07", "rts"
    )
    assert parse_topic("dust/v1/91310113MA1G8TEST9/GW07/errors") is None
    assert parse_topic("dust/v2/X/GW/rts") is None
    assert parse_topic("dust/v1/X/rts") is None


async def test_a_simulated_gateway_speaks_protocol_v1(settings: Settings) -> None:
    received: list[tuple[GatewayTopic, bytes]] = []
    creds = (settings.mqtt_username, settings.mqtt_password.get_secret_value())
    async with aiomqtt.Client(
        settings.mqtt_host, settings.mqtt_port, username=creds[0], password=creds[1]
    ) as sub:
        await sub.subscribe(f"dust/v1/{GATEWAY.credit_code}/{GATEWAY.gateway_id}/+", qos=1)
        sent = await run_gateway(
            GATEWAY,
            settings.mqtt_host,
            settings.mqtt_port,
            lambda _: creds,
            period_s=0.05,
            messages=3,
        )
        async with asyncio.timeout(10):
            async for message in sub.messages:
                topic = parse_topic(message.topic.value)
                if topic is not None and isinstance(message.payload, bytes):
                    received.append((topic, message.payload))
                if sum(1 for t, _ in received if t.kind == "rts") == 3:
                    break

    assert sent == 3
    kinds = [t.kind for t, _ in received]
    assert "state" in kinds
    assert "heartbeat" in kinds
    rts = [json.loads(p) for t, p in received if t.kind == "rts"]
    assert [m["msg_id"] for m in rts] == ["GW07-000001", "GW07-000002", "GW07-000003"]
    first = rts[0]
    assert datetime.fromisoformat(first["ts"]).utcoffset() is not None
    assert [p["code"] for p in first["points"]] == ["DC01-HOPPER_TEMP-1", "DC01-FAN_RUN-1"]
    assert first["points"][1]["value"] in (0, 1)  # the fan follows the shift clock
    assert 0 < first["points"][0]["value"] < 100
