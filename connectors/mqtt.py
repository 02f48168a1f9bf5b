"""The MQTT connector (``dusttwin serve connector``): the broker's messages into the pipeline.

It owns the reconnect loop (logging once when the broker goes and once when it is back), keeps a
persistent session (MQTT 3.1.1 with clean session off and a fixed client id per connector) so the
broker holds what arrives while it is away, and acknowledges each QoS-1 message only after
the pipeline has committed it (paho's manual acknowledgement under aiomqtt): a ``kill -9`` between
receipt and commit loses nothing, the broker sends the message again. Refusals go back to the
gateway on its ``errors`` topic. Several connectors share the load through the shared
subscription group ``$share/dusttwin/...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt

from connectors.pipeline import UNKNOWN_GATEWAY, IngestPipeline, RawMessage
from connectors.protocol import MessageKind
from connectors.writer import Outcome

log = logging.getLogger(__name__)

SHARE_GROUP = "dusttwin"
DATA_KINDS = ("rts", "event", "heartbeat", "state")
# Mosquitto 2.0.11 (Debian 12) keeps a persistent session over a restart but not its shared
# subscriptions (2.0.12's changelog lists the fix): until we subscribe again, what gateways publish
# has no subscriber and is dropped. Come back quickly to keep that window short.
RECONNECT_DELAY_S = 1.0


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


def subscriptions(group: str = SHARE_GROUP) -> list[str]:
    """The topic filters the connector subscribes to, one per kind, in the shared group."""
    return [f"$share/{group}/dust/v1/+/+/{kind}" for kind in DATA_KINDS]


# MQTT 3.1.1 on purpose: paho decodes MQTT 5 properties of every incoming publish in Python, which
# cost a third of a connector's CPU (bench/bench_ingest.py, docs/performance.md). The broker's
# max_inflight_messages (services.sh: 1000) bounds what is sent before we acknowledge.


@dataclass(frozen=True)
class BrokerAccount:
    """Where the broker is, the platform's account on it, and this connector's client id."""

    host: str
    port: int
    username: str
    password: str
    client_id: str
    tls: bool = False
    ca_file: str | None = None
    share_group: str = SHARE_GROUP


async def run(account: BrokerAccount, pipeline: IngestPipeline, stop: asyncio.Event) -> None:
    """Receive into the pipeline until ``stop`` is set; reconnect on its own."""
    failing = False
    while not stop.is_set():
        client = aiomqtt.Client(
            account.host,
            account.port,
            username=account.username,
            password=account.password,
            identifier=account.client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=False,
            tls_params=aiomqtt.TLSParameters(ca_certs=account.ca_file) if account.tls else None,
        )
        # aiomqtt 2.5 acknowledges on receipt; its paho client can leave that to us.
        client._client.manual_ack_set(True)  # see docs/architecture.md
        try:
            async with client:
                for topic_filter in subscriptions(account.share_group):
                    await client.subscribe(topic_filter, qos=1)
                if failing:
                    log.warning("connector: broker reachable again")
                    failing = False
                log.info(
                    "connector %s: subscribed to %s",
                    account.client_id,
                    ", ".join(subscriptions(account.share_group)),
                )
                await _receive(client, pipeline, stop)
        except aiomqtt.MqttError as err:
            if not failing:
                log.error("connector: broker connection lost or refused (%s); retrying", err)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONNECT_DELAY_S)


async def _receive(client: aiomqtt.Client, pipeline: IngestPipeline, stop: asyncio.Event) -> None:
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
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if parsed is None:
                _ack(client, message)
                continue
            kind: MessageKind = parsed.kind  # type: ignore[assignment]
            raw = RawMessage(
                parsed.credit_code,
                parsed.gateway_id,
                kind,
                payload,
                "mqtt",
                retained=message.retain,
            )
            future = await pipeline.submit(raw)
            future.add_done_callback(functools.partial(_settled, client, message, parsed))
    finally:
        stopping.cancel()


def _ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)


def _settled(
    client: aiomqtt.Client,
    message: aiomqtt.Message,
    topic: GatewayTopic,
    future: asyncio.Future[Outcome],
) -> None:
    """The message is committed or refused: acknowledge it; tell the gateway what was refused."""
    if future.cancelled() or future.exception() is not None:
        return  # not stored: no acknowledgement, the broker sends it again
    _ack(client, message)
    outcome = future.result()
    if not (outcome.refused or outcome.rejected) or outcome.refused == UNKNOWN_GATEWAY:
        return  # nothing to tell, or nobody to tell it to (a revoked gateway reads no topic)
    rejected = (
        [{"index": None, "code": None, "reason": outcome.refused}]
        if outcome.refused
        else [r.as_json() for r in outcome.rejected]
    )
    body = {
        "msg_id": _msg_id(message),
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),
        "rejected": rejected,
    }
    errors_topic = f"dust/v1/{topic.credit_code}/{topic.gateway_id}/errors"
    task = asyncio.get_running_loop().create_task(
        client.publish(errors_topic, json.dumps(body, ensure_ascii=False), qos=1)
    )
    _pending.add(task)
    task.add_done_callback(_pending.discard)


_pending: set[asyncio.Task[None]] = set()


def _msg_id(message: aiomqtt.Message) -> str | None:
    try:
        body = json.loads(message.payload) if isinstance(message.payload, bytes) else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    msg_id = body.get("msg_id") if isinstance(body, dict) else None
    return msg_id if isinstance(msg_id, str) else None


async def forget_session(account: BrokerAccount) -> None:
    """Retire a connector: end its persistent session; the broker stops keeping messages for it."""
    async with aiomqtt.Client(
        account.host,
        account.port,
        username=account.username,
        password=account.password,
        identifier=account.client_id,
        protocol=aiomqtt.ProtocolVersion.V311,
        clean_session=True,
    ):
        pass
