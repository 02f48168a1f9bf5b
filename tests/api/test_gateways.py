"""Gateway registration issues real broker credentials, shown once; revocation removes them."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import httpx
import psycopg
import pytest

from api.app import create_app
from dusttwin.settings import Settings
from tests.api.demo_data import GRANTED, JIADING_ONE, UNGRANTED_BAOSHAN
from tests.helpers import override


async def _connects(settings: Settings, username: str, password: str) -> bool:
    try:
        async with aiomqtt.Client(
            settings.mqtt_host, settings.mqtt_port, username=username, password=password, timeout=3
        ):
            return True
    except aiomqtt.MqttError:
        return False


async def _delivered(settings: Settings, publisher: tuple[str, str], topic: str) -> list[bytes]:
    """What a platform subscriber receives when ``publisher`` publishes to ``topic``."""
    got: list[bytes] = []
    admin = (settings.mqtt_username, settings.mqtt_password.get_secret_value())
    async with (
        aiomqtt.Client(
            settings.mqtt_host, settings.mqtt_port, username=admin[0], password=admin[1]
        ) as sub,
        aiomqtt.Client(
            settings.mqtt_host,
            settings.mqtt_port,
            username=publisher[0],
            password=publisher[1],
            protocol=aiomqtt.ProtocolVersion.V5,
        ) as pub,
    ):
        await sub.subscribe("dust/#", qos=1)
        await pub.publish(topic, json.dumps({"points": []}), qos=1)
        try:
            async with asyncio.timeout(1.5):
                async for message in sub.messages:
                    if message.topic.value == topic and isinstance(message.payload, bytes):
                        got.append(message.payload)
        except TimeoutError:
            pass
    return got


async def test_gateway_gets_its_own_topics_and_nothing_else(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], settings: Settings
) -> None:
    cc = GRANTED.record.credit_code
    registered = await api.post(
        f"/api/v1/enterprises/{cc}/gateways",
        json={"gateway_id": "GW07", "name": "2#网关", "upload_period_s": 30},
        headers=tokens["integrator"],
    )
    body = registered.json()
    shown_again = await api.get(
        f"/api/v1/enterprises/{cc}/gateways/GW07", headers=tokens["integrator"]
    )
    creds = (body["mqtt_username"], body["password"])
    own = await _delivered(settings, creds, f"dust/v1/{cc}/GW07/rts")
    other_gateway = await _delivered(settings, creds, f"dust/v1/{cc}/GW01/rts")
    other_enterprise = await _delivered(
        settings, creds, f"dust/v1/{JIADING_ONE.record.credit_code}/GW01/rts"
    )
    wrong_password = await _connects(settings, creds[0], "not-the-password")
    assert registered.status_code == 201, registered.text
    assert body["mqtt_username"] == f"{cc}.GW07"
    assert body["topic_prefix"] == f"dust/v1/{cc}/GW07/"
    assert len(body["password"]) >= 20
    assert "password" not in shown_again.json()
    assert own == [b'{"points": []}']
    assert other_gateway == []
    assert other_enterprise == []
    assert wrong_password is False


async def test_revoked_gateway_is_locked_out_and_its_history_stays(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    settings: Settings,
    seeded: dict[str, str],
) -> None:
    cc = GRANTED.record.credit_code
    body = (
        await api.post(
            f"/api/v1/enterprises/{cc}/gateways",
            json={"gateway_id": "GW08"},
            headers=tokens["admin"],
        )
    ).json()
    before = await _connects(settings, body["mqtt_username"], body["password"])
    revoked = await api.delete(f"/api/v1/enterprises/{cc}/gateways/GW08", headers=tokens["admin"])
    after = await _connects(settings, body["mqtt_username"], body["password"])
    listed = await api.get(f"/api/v1/enterprises/{cc}/gateways", headers=tokens["admin"])
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        secret = conn.execute(
            "SELECT revoked_at IS NOT NULL FROM gateway_secrets WHERE mqtt_username = %s",
            (body["mqtt_username"],),
        ).fetchone()
    assert before is True
    assert revoked.status_code == 204
    assert after is False
    assert "GW08" not in [g["gateway_id"] for g in listed.json()]
    assert secret == (True,)


async def test_integrator_cannot_register_for_an_enterprise_it_was_not_granted(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    cc = UNGRANTED_BAOSHAN.record.credit_code
    response = await api.post(
        f"/api/v1/enterprises/{cc}/gateways",
        json={"gateway_id": "GW09"},
        headers=tokens["integrator"],
    )
    assert response.status_code == 404


async def test_broker_down_means_no_gateway_at_all(
    settings: Settings, seeded: dict[str, str], tokens: dict[str, dict[str, str]]
) -> None:
    app = create_app(override(settings, database_url=seeded["DUSTTWIN_DATABASE_URL"], mqtt_port=1))
    cc = GRANTED.record.credit_code
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                f"/api/v1/enterprises/{cc}/gateways",
                json={"gateway_id": "GW10"},
                headers=tokens["admin"],
            )
            after = await client.get(
                f"/api/v1/enterprises/{cc}/gateways/GW10", headers=tokens["admin"]
            )
    assert response.status_code == 503
    assert "broker" in response.json()["detail"].lower()
    assert after.status_code == 404


@pytest.mark.parametrize(
    "bad", [{"gateway_id": "GW 1"}, {"gateway_id": "GW1", "upload_period_s": 600}]
)
async def test_bad_gateway_records_are_refused(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], bad: dict[str, object]
) -> None:
    cc = GRANTED.record.credit_code
    response = await api.post(
        f"/api/v1/enterprises/{cc}/gateways", json=bad, headers=tokens["admin"]
    )
    assert response.status_code == 422
