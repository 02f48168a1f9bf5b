"""Webhook subscriptions of regulators: the live events pushed to their own URL, signed, retried.

Each subscription receives the events its owner may see (the owner's jurisdiction, re-read at
every delivery), in order, one POST per event with an HMAC-SHA256 signature of the body
(``X-Dusttwin-Signature: sha256=<hex>``). A failed delivery stops that subscription's queue
where it is and is tried again after a growing pause (10 s, 20 s, 40 s … up to 10 minutes), so
nothing is skipped; events older than the event log's day are gone for it too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from risk.errors import ActionNotPermittedError, RiskError
from risk.events import Event, after
from twins.scope import Scope
from twins.users import load_user, scope_of

log = logging.getLogger(__name__)
MAX_BACKOFF: Final = timedelta(minutes=10)
BATCH: Final = 200


class WebhookNotFoundError(RiskError):
    """No such subscription of the caller's."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def subscribe(
    conn: AsyncConnection[Any], scope: Scope, url: str, kinds: list[str]
) -> dict[str, Any]:
    """A new subscription of a regulator (or admin); the secret is shown here only."""
    if scope.role not in ("regulator", "admin"):
        raise ActionNotPermittedError("only regulators subscribe webhooks / 仅监管用户可订阅")
    secret = secrets.token_hex(32)
    cur = await conn.execute(
        "INSERT INTO webhooks (username, url, secret, kinds, last_event_id)"
        " VALUES (%s, %s, %s, %s, (SELECT coalesce(max(id), 0) FROM events)) RETURNING id",
        (scope.username, url, secret, kinds),
    )
    row = await cur.fetchone()
    assert row is not None
    return {"id": int(row[0]), "url": url, "kinds": kinds, "secret": secret}


async def list_subscriptions(conn: AsyncConnection[Any], scope: Scope) -> list[dict[str, Any]]:
    """The caller's subscriptions and how their delivery stands (secrets not shown)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, url, kinds, created_at, last_event_id, failures, next_attempt_at,"
            " last_error FROM webhooks WHERE username = %s ORDER BY id",
            (scope.username,),
        )
        return list(await cur.fetchall())


async def unsubscribe(conn: AsyncConnection[Any], scope: Scope, webhook_id: int) -> None:
    """Remove one of the caller's subscriptions."""
    cur = await conn.execute(
        "DELETE FROM webhooks WHERE id = %s AND username = %s", (webhook_id, scope.username)
    )
    if cur.rowcount == 0:
        raise WebhookNotFoundError(f"no webhook {webhook_id} / 订阅不存在")


async def deliver(conn: AsyncConnection[Any], client: httpx.AsyncClient, now: datetime) -> int:
    """Deliver what is due to every subscription; returns the number of events delivered."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM webhooks WHERE NOT disabled AND next_attempt_at <= %s ORDER BY id",
            (now,),
        )
        hooks = await cur.fetchall()
    delivered = 0
    for hook in hooks:
        user = await load_user(conn, hook["username"])
        if user is None:
            continue
        scope = await scope_of(conn, user)
        events = await after(conn, int(hook["last_event_id"]), scope, limit=BATCH)
        last, error = int(hook["last_event_id"]), None
        for event in events:
            if not hook["kinds"] or event.kind in hook["kinds"]:
                error = await _post(client, hook, event)
                if error is not None:
                    break
                delivered += 1
            last = event.id
        if error is None:
            await conn.execute(
                "UPDATE webhooks SET last_event_id = %s, failures = 0, last_error = NULL,"
                " next_attempt_at = %s WHERE id = %s",
                (last, now, hook["id"]),
            )
        else:
            failures = int(hook["failures"]) + 1
            pause = min(MAX_BACKOFF, timedelta(seconds=10 * 2 ** (failures - 1)))
            if failures == 1:
                log.warning("webhook %s: delivery failing (%s); retrying", hook["id"], error)
            await conn.execute(
                "UPDATE webhooks SET last_event_id = %s, failures = %s, last_error = %s,"
                " next_attempt_at = %s WHERE id = %s",
                (last, failures, error, now + pause, hook["id"]),
            )
        await conn.commit()
    return delivered


async def _post(client: httpx.AsyncClient, hook: dict[str, Any], event: Event) -> str | None:
    body = json.dumps(event.as_json(), ensure_ascii=False, default=str).encode()
    try:
        reply = await client.post(
            hook["url"],
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Dusttwin-Event": event.kind,
                "X-Dusttwin-Delivery": str(event.id),
                "X-Dusttwin-Signature": sign(hook["secret"], body),
            },
        )
    except httpx.HTTPError as err:
        return f"{type(err).__name__}: {err}"
    if reply.status_code >= 300:
        return f"HTTP {reply.status_code}"
    return None
