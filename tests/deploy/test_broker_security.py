"""Mosquitto as services.sh sets it up: anonymous refused, the platform admin accepted."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest

from dusttwin.settings import Settings


async def test_anonymous_client_is_refused(settings: Settings) -> None:
    with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed"):
        async with aiomqtt.Client(settings.mqtt_host, settings.mqtt_port, timeout=3):
            pass


async def test_wrong_password_is_refused(settings: Settings) -> None:
    with pytest.raises(aiomqtt.MqttCodeError):
        async with aiomqtt.Client(
            settings.mqtt_host,
            settings.mqtt_port,
            username=settings.mqtt_username,
            password="wrong-password",
            timeout=3,
        ):
            pass


async def test_admin_account_publishes_and_receives_gateway_topics(settings: Settings) -> None:
    password = settings.mqtt_password.get_secret_value()
    topic = "dust/v1/91310113TEST00000X/GW01/rts"
    async with (
        aiomqtt.Client(
            settings.mqtt_host,
            settings.mqtt_port,
            username=settings.mqtt_username,
            password=password,
        ) as sub,
        aiomqtt.Client(
            settings.mqtt_host,
            settings.mqtt_port,
            username=settings.mqtt_username,
            password=password,
        ) as pub,
    ):
        await sub.subscribe("$share/dusttwin-test/dust/v1/+/+/rts", qos=1)
        await pub.publish(topic, json.dumps({"points": []}), qos=1)
        async with asyncio.timeout(5):
            message = await anext(sub.messages.__aiter__())
    assert message.topic.value == topic
    assert message.payload == b'{"points": []}'


async def test_dynamic_security_answers_the_admin(settings: Settings) -> None:
    """The platform can manage gateway credentials at run time through the control topic."""
    password = settings.mqtt_password.get_secret_value()
    async with aiomqtt.Client(
        settings.mqtt_host, settings.mqtt_port, username=settings.mqtt_username, password=password
    ) as client:
        await client.subscribe("$CONTROL/dynamic-security/v1/response", qos=1)
        command = {"commands": [{"command": "getClient", "username": settings.mqtt_username}]}
        await client.publish("$CONTROL/dynamic-security/v1", json.dumps(command), qos=1)
        async with asyncio.timeout(5):
            message = await anext(client.messages.__aiter__())
    assert isinstance(message.payload, bytes)
    response = json.loads(message.payload)["responses"][0]
    assert response["command"] == "getClient"
    assert "error" not in response
    assert response["data"]["client"]["username"] == settings.mqtt_username
