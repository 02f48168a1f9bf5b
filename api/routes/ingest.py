"""``/api/v1/ingest/...`` (protocol v1 §7) and ``/api/v1/gateways/.../diagnostics``.

HTTP ingest goes through the same checks, the same writer and the same replies as MQTT.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import ConnDep, ScopeDep, StoreDep
from api.errors import ApiError
from connectors.diagnostics import gateway_diagnostics
from connectors.gateway_auth import GatewayPasswords
from connectors.pipeline import IngestPipeline, RawMessage
from connectors.protocol import MAX_MESSAGE_BYTES

router = APIRouter(tags=["ingest / 数据接入"])


def get_pipeline(request: Request) -> IngestPipeline:
    """The API process's ingest pipeline."""
    pipeline: IngestPipeline = request.app.state.pipeline
    return pipeline


def get_passwords(request: Request) -> GatewayPasswords:
    """The gateway password checker."""
    passwords: GatewayPasswords = request.app.state.gateway_passwords
    return passwords


class IngestReply(BaseModel):
    """What became of a posted message (protocol v1 §7)."""

    accepted: int = Field(description="接收条数 / Entries accepted")
    rejected: list[dict[str, Any]] = Field(
        description="拒收条目 / Entries refused: index, code, reason"
    )


def _basic(request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise ApiError(401, "gateway credentials required (HTTP Basic) / 需要网关凭据")
    try:
        username, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise ApiError(401, "malformed HTTP Basic credentials") from err
    return username, password


@router.post(
    "/api/v1/ingest/{credit_code}/{gateway_id}/{kind}",
    summary="Gateway data over HTTP / HTTP 数据接入",
    responses={
        400: {"description": "not a valid message"},
        401: {"description": "bad credentials"},
        403: {"description": "another gateway's path"},
        413: {"description": "over 256 KiB"},
    },
)
async def ingest(
    credit_code: str,
    gateway_id: str,
    kind: Annotated[Literal["rts", "event", "heartbeat"], Path()],
    request: Request,
    conn: ConnDep,
    pipeline: Annotated[IngestPipeline, Depends(get_pipeline)],
    passwords: Annotated[GatewayPasswords, Depends(get_passwords)],
) -> IngestReply:
    """The same JSON bodies as MQTT; answered once stored (or refused)."""
    username, password = _basic(request)
    if not await passwords.verify(conn, username, password):
        raise ApiError(401, "wrong gateway username or password / 网关凭据错误")
    if username != f"{credit_code}.{gateway_id}":
        raise ApiError(403, "a gateway posts only under its own path / 只能上报本网关数据")
    body = await request.body()
    if len(body) > MAX_MESSAGE_BYTES:
        raise ApiError(413, f"message of {len(body)} bytes is over the 256 KiB limit")
    future = await pipeline.submit(RawMessage(credit_code, gateway_id, kind, body, "http"))
    outcome = await future
    if outcome.refused:
        raise ApiError(400, outcome.refused, error="ingest:message.invalid")
    return IngestReply(accepted=outcome.accepted, rejected=[r.as_json() for r in outcome.rejected])


@router.get(
    "/api/v1/gateways/{credit_code}/{gateway_id}/diagnostics",
    summary="Gateway diagnostics / 网关诊断",
)
async def diagnostics(
    credit_code: str, gateway_id: str, store: StoreDep, scope: ScopeDep, conn: ConnDep
) -> JSONResponse:
    """Last message, last error, accepted and refused counts in the last hour and day."""
    gateway = await store.get(f"dusttwin:gateway-{credit_code}-{gateway_id}", scope)
    result = await gateway_diagnostics(conn, f"{credit_code}.{gateway_id}", datetime.now(UTC))
    body = {
        "gateway": f"{credit_code}.{gateway_id}",
        "connectivity": gateway.features.get("connectivity", {}).get("properties", {}),
        **asdict(result),
    }
    if body["last_message_at"] is not None:
        body["last_message_at"] = body["last_message_at"].isoformat()
    return JSONResponse(body)
