"""``GET /api/v1/events``: live events of the caller's jurisdiction as server-sent events.

Alarm raised/escalated/cleared/acknowledged/…, warning raised/escalated/cleared, risk level
changed, twin online/offline. A client that reconnects with ``Last-Event-ID`` gets everything
after that id (events are kept a day); one that connects without it gets only what comes next,
or the last ``replay_s`` seconds when it asks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import StreamingScopeDep, get_pool
from risk.events import Bell, Event, after, first_id_since, newest_id
from twins.scope import Scope

router = APIRouter(tags=["events / 实时事件"])
KEEPALIVE_S = 15.0


def get_bell(request: Request) -> Bell:
    """The process's event bell."""
    bell: Bell = request.app.state.event_bell
    return bell


@router.get(
    "/api/v1/events",
    summary="Live events (server-sent events) / 实时事件推送",
    response_class=StreamingResponse,
)
async def events(
    request: Request,
    scope: StreamingScopeDep,
    last_event_id: Annotated[str | None, Header()] = None,
    replay_s: Annotated[
        int, Query(ge=0, le=3600, description="without Last-Event-ID: replay this many seconds")
    ] = 0,
    kinds: Annotated[
        list[str] | None, Query(description="only these kinds, e.g. alarm.raised")
    ] = None,
) -> StreamingResponse:
    """Stream events as they happen (``text/event-stream``)."""
    pool = get_pool(request)
    async with pool.connection() as conn:
        if last_event_id is not None and last_event_id.strip().isdigit():
            start = int(last_event_id)
        elif replay_s:
            start = await first_id_since(conn, datetime.now(UTC) - timedelta(seconds=replay_s))
        else:
            start = await newest_id(conn)
    wanted = frozenset(kinds or ())
    return StreamingResponse(
        _stream(request, scope, start, wanted),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request, scope: Scope, last: int, kinds: frozenset[str]
) -> AsyncIterator[str]:
    pool = get_pool(request)
    bell = get_bell(request)
    yield "retry: 2000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        seen = bell.rung
        async with pool.connection() as conn:
            batch = await after(conn, last, scope)
        for event in batch:
            last = event.id
            if not kinds or event.kind in kinds:
                yield _frame(event)
        if batch:
            idle = 0.0
            continue
        await bell.wait(seen, 1.0)
        idle += 1.0
        if idle >= KEEPALIVE_S:
            idle = 0.0
            yield ": keep-alive\n\n"


def _frame(event: Event) -> str:
    body = json.dumps(event.as_json(), ensure_ascii=False, default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {body}\n\n"
