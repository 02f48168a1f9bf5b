"""Gateways' HTTP credentials (protocol v1 §7): the password issued at registration, argon2-hashed.

A verified password is remembered for a minute (by its SHA-256, never in clear), so a gateway
posting every few seconds does not cost an argon2 verification each time.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from psycopg import AsyncConnection

from twins.users import verify_password

REMEMBER_S = 60.0


class GatewayPasswords:
    """Checks gateway usernames and passwords against ``gateway_secrets``."""

    def __init__(self) -> None:
        self._verified: dict[tuple[str, str], float] = {}

    async def verify(self, conn: AsyncConnection[Any], username: str, password: str) -> bool:
        """True when the gateway exists, is not revoked and the password is its own."""
        key = (username, hashlib.sha256(password.encode()).hexdigest())
        seen = self._verified.get(key)
        if seen is not None and time.monotonic() - seen < REMEMBER_S:
            return True
        cur = await conn.execute(
            "SELECT s.password_hash FROM gateway_secrets s JOIN things t USING (thing_id)"
            " WHERE s.mqtt_username = %s AND s.revoked_at IS NULL AND t.deleted_at IS NULL",
            (username,),
        )
        row = await cur.fetchone()
        if row is None or not verify_password(str(row[0]), password):
            return False
        self._verified[key] = time.monotonic()
        return True
