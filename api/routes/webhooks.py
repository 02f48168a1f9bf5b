"""``/api/v1/webhooks``: a regulator's subscriptions to the live events, pushed to its URL."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, HttpUrl

from api.deps import ConnDep, ScopeDep
from api.errors import ApiError
from risk.events import KINDS
from risk.webhooks import list_subscriptions, subscribe, unsubscribe

router = APIRouter(tags=["webhooks / 事件推送订阅"])


class WebhookCreate(BaseModel):
    """Where to push, and which kinds (none: every kind the caller may see)."""

    url: HttpUrl
    kinds: list[str] = Field(default_factory=list, description=f"of: {', '.join(KINDS)}")


@router.post("/api/v1/webhooks", status_code=201, summary="Subscribe / 订阅事件推送")
async def create(body: WebhookCreate, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """A new subscription; its signing secret is shown in this answer only."""
    unknown = sorted(set(body.kinds) - set(KINDS))
    if unknown:
        raise ApiError(422, f"unknown event kinds: {', '.join(unknown)}")
    return await subscribe(conn, scope, str(body.url), body.kinds)


@router.get("/api/v1/webhooks", summary="My subscriptions / 我的订阅")
async def mine(conn: ConnDep, scope: ScopeDep) -> list[dict[str, Any]]:
    """The caller's subscriptions with their delivery state (failures, next attempt)."""
    return await list_subscriptions(conn, scope)


@router.delete("/api/v1/webhooks/{webhook_id}", status_code=204, summary="Unsubscribe / 取消订阅")
async def delete(webhook_id: int, conn: ConnDep, scope: ScopeDep) -> Response:
    """Remove a subscription."""
    await unsubscribe(conn, scope, webhook_id)
    return Response(status_code=204)
