"""Registering a gateway issues its credentials (shown once); revoking removes them.

The broker side goes through a ``GatewayCredentials`` implementation (the connectors room's
Mosquitto dynamic-security client); the password's argon2 hash stays for HTTP ingest.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from psycopg import AsyncConnection

from twins.model import Thing
from twins.records import create_record, delete_record, get_record
from twins.registry import KINDS
from twins.schemas import GatewayCreate
from twins.scope import Scope
from twins.store import TwinStore
from twins.users import hash_password

GATEWAY = KINDS["gateway"]


class GatewayCredentials(Protocol):
    """Where gateways authenticate (the MQTT broker)."""

    async def issue(self, username: str, password: str, topic_prefix: str) -> None:
        """Let ``username`` publish under ``topic_prefix`` and read its ``errors`` topic."""
        ...

    async def revoke(self, username: str) -> None:
        """Remove the account (and disconnect it)."""
        ...

    async def accepts(self, username: str, password: str) -> bool:
        """Whether the account logs in with this password."""
        ...


def new_password() -> str:
    """A random gateway password (144 bits, URL-safe)."""
    return secrets.token_urlsafe(18)


async def register_gateway(
    store: TwinStore,
    scope: Scope,
    credit_code: str,
    body: GatewayCreate,
    broker: GatewayCredentials,
) -> tuple[Thing, str]:
    """Register a gateway and issue its password; returns the twin and the password (once)."""
    password = new_password()

    async def issue(conn: AsyncConnection[Any], thing_id: str, thing: Thing | None) -> None:
        assert thing is not None
        username = thing.attributes["mqtt_username"]
        await conn.execute(
            "INSERT INTO gateway_secrets (thing_id, mqtt_username, password_hash)"
            " VALUES (%s, %s, %s) ON CONFLICT (thing_id) DO UPDATE"
            " SET password_hash = excluded.password_hash, issued_at = now(), revoked_at = NULL",
            (thing_id, username, hash_password(password)),
        )
        # last, so that a broker failure undoes the registration instead of leaving a twin
        # without credentials
        await broker.issue(username, password, thing.attributes["topic_prefix"])

    thing = await create_record(
        store, scope, GATEWAY, body, credit_code=credit_code, after_write=issue
    )
    return thing, password


async def revoke_gateway(
    store: TwinStore, scope: Scope, credit_code: str, gateway_id: str, broker: GatewayCredentials
) -> None:
    """Revoke a gateway: its broker account goes first, then the twin (history stays)."""
    thing = await get_record(store, scope, GATEWAY, credit_code, gateway_id)
    if not scope.may_manage("gateway"):
        # let the store refuse it with its own message, before the broker is touched
        await delete_record(store, scope, GATEWAY, credit_code, gateway_id)
    await broker.revoke(thing.attributes["mqtt_username"])

    async def mark(conn: AsyncConnection[Any], thing_id: str, _thing: Thing | None) -> None:
        await conn.execute(
            "UPDATE gateway_secrets SET revoked_at = now() WHERE thing_id = %s", (thing_id,)
        )

    await delete_record(store, scope, GATEWAY, credit_code, gateway_id, after_write=mark)
