"""The MQTT connector's connection loop (``dusttwin serve connector``).

This is the skeleton the ingest work fills in: it owns the reconnect loop, subscribes to every
gateway's data topics through the shared subscription group, parses topics, and hands each
message to a handler. It stores nothing yet, so it uses a clean session: a persistent session
(clean session off, acknowledgement after commit) comes with the writer that commits readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt

log = logging.getLogger(__name__)

SHARE_GROUP = "dusttwin"
DATA_KINDS = ("rts", "event", "heartbeat", "state")
RECONNECT_DELAY_S = 3.0


@dataclass(frozen=True)
class GatewayTopic:
    """What a topic ``dust/v1/{credit_code}/{gateway_id}/{kind}`` names."""

    credit_code: str
    gateway_id: str
    kind: str


def parse_topic(topic: str) -> GatewayTopic | None:
    """The gateway and message kind of a data topic, or None for anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "dust" or parts[1] != "v1" or parts[4] not in DATA_KINDS:
        return None
    return GatewayTopic(parts[2], parts[3], parts[4])


def subscriptions() -> list[str]:
    """The topic filters the connector subscribes to, one per kind, in the shared group."""
    return [f"$share/{SHARE_GROUP}/dust/v1/+/+/{kind}" for kind in DATA_KINDS]


Handler = Callable[[GatewayTopic, bytes], Awaitable[None]]


@dataclass(frozen=True)
class BrokerAccount:
    """Where the broker is and the platform's account on it."""

    host: str
    port: int
    username: str
    password: str
    client_id: str
    tls: bool = False
    ca_file: str | None = None


async def run(account: BrokerAccount, handler: Handler, stop: asyncio.Event) -> None:
    """Receive until ``stop`` is set; reconnect on its own, logging once per outage."""
    failing = False
    while not stop.is_set():
        try:
            async with aiomqtt.Client(
                account.host,
                account.port,
                username=account.username,
                password=account.password,
                identifier=account.client_id,
                protocol=aiomqtt.ProtocolVersion.V5,
                tls_params=aiomqtt.TLSParameters(ca_certs=account.ca_file) if account.tls else None,
            ) as client:
                for topic_filter in subscriptions():
                    await client.subscribe(topic_filter, qos=1)
                if failing:
                    log.warning("connector: broker reachable again")
                    failing = False
                log.info("connector: subscribed to %s", ", ".join(subscriptions()))
                await _receive(client, handler, stop)
        except aiomqtt.MqttError as err:
            if not failing:
                log.error("connector: broker connection lost or refused (%s); retrying", err)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONNECT_DELAY_S)


async def _receive(client: aiomqtt.Client, handler: Handler, stop: asyncio.Event) -> None:
    stopping = asyncio.create_task(stop.wait())
    messages = client.messages.__aiter__()

    async def next_message() -> aiomqtt.Message:
        return await anext(messages)

    try:
        while True:
            receiving = asyncio.create_task(next_message())
            done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                receiving.cancel()
                return
            message = receiving.result()
            parsed = parse_topic(message.topic.value)
            if parsed is None:
                continue
            payload = message.payload if isinstance(message.payload, bytes) else b""
            await handler(parsed, payload)
    finally:
        stopping.cancel()


class MessageCounter:
    """A handler that counts what arrives per kind and logs a summary now and then."""

    def __init__(self, log_every: int = 1000) -> None:
        self.counts: Counter[str] = Counter()
        self.log_every = log_every

    async def __call__(self, topic: GatewayTopic, payload: bytes) -> None:
        """Count one message."""
        self.counts[topic.kind] += 1
        if sum(self.counts.values()) % self.log_every == 0:
            log.info("connector: received %s", dict(self.counts))
