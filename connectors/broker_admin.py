"""Gateway accounts on Mosquitto through its dynamic-security plugin's control topic.

The platform's admin account publishes JSON commands to ``$CONTROL/dynamic-security/v1`` and reads
the answers on ``.../response`` (mosquitto 2.0's dynsec API). Each gateway gets a role of its own
that lets it publish under ``dust/v1/{credit_code}/{gateway_id}/`` and read only its ``errors``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import aiomqtt

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
TIMEOUT_S = 5.0


class BrokerAdminError(Exception):
    """The broker refused a command or did not answer (the message says which)."""


@dataclass(frozen=True)
class DynsecAdmin:
    """A GatewayCredentials implementation over Mosquitto dynamic security."""

    host: str
    port: int
    username: str
    password: str

    @staticmethod
    def role_name(username: str) -> str:
        """The role that carries a gateway's ACL."""
        return f"gateway-{username}"

    async def issue(self, username: str, password: str, topic_prefix: str) -> None:
        """Create (or re-create) the gateway's account and role with its ACL."""
        role = self.role_name(username)
        await self.run(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": role},
            ],
            tolerate=("not found",),
        )
        await self.run(
            [
                {"command": "createRole", "rolename": role},
                {
                    "command": "addRoleACL",
                    "rolename": role,
                    "acltype": "publishClientSend",
                    "topic": topic_prefix + "#",
                    "allow": True,
                },
                {
                    "command": "addRoleACL",
                    "rolename": role,
                    "acltype": "subscribePattern",
                    "topic": topic_prefix + "errors",
                    "allow": True,
                },
                {
                    "command": "addRoleACL",
                    "rolename": role,
                    "acltype": "publishClientReceive",
                    "topic": topic_prefix + "errors",
                    "allow": True,
                },
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "roles": [{"rolename": role}],
                },
            ]
        )

    async def revoke(self, username: str) -> None:
        """Delete the gateway's account (the broker disconnects it) and its role."""
        await self.run(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": self.role_name(username)},
            ],
            tolerate=("not found",),
        )

    async def accepts(self, username: str, password: str) -> bool:
        """Whether the broker lets this account in with this password."""
        try:
            async with aiomqtt.Client(
                self.host, self.port, username=username, password=password, timeout=TIMEOUT_S
            ):
                return True
        except aiomqtt.MqttError:
            return False

    async def run(
        self, commands: list[dict[str, Any]], *, tolerate: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """Send commands in one message; BrokerAdminError on an error not tolerated."""
        correlation = uuid.uuid4().hex
        for i, command in enumerate(commands):
            command["correlationData"] = f"{correlation}-{i}"
        try:
            async with aiomqtt.Client(
                self.host,
                self.port,
                username=self.username,
                password=self.password,
                timeout=TIMEOUT_S,
            ) as client:
                await client.subscribe(RESPONSE_TOPIC, qos=1)
                await client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
                responses = await asyncio.wait_for(
                    self._collect(client, correlation, len(commands)), TIMEOUT_S
                )
        except (aiomqtt.MqttError, TimeoutError) as err:
            raise BrokerAdminError(f"the MQTT broker did not take the command: {err}") from err
        for response in responses:
            error = str(response.get("error", ""))
            if error and not any(t in error.lower() for t in tolerate):
                raise BrokerAdminError(f"broker refused {response.get('command')}: {error}")
        return responses

    @staticmethod
    async def _collect(
        client: aiomqtt.Client, correlation: str, expected: int
    ) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                continue
            for response in json.loads(payload).get("responses", []):
                data = str(response.get("correlationData", ""))
                if data.startswith(correlation + "-"):
                    found[data] = response
            if len(found) >= expected:
                break
        return [found[k] for k in sorted(found, key=lambda k: int(k.rsplit("-", 1)[1]))]
