"""``/api/v1/enterprises/{credit_code}/changes``: an enterprise's audit trail (配置变更记录)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ConnDep, ScopeDep
from risk.filings import audit_trail

router = APIRouter(tags=["changes / 变更记录"])


@router.get(
    "/api/v1/enterprises/{credit_code}/changes",
    summary="Audit trail / 配置变更记录",
)
async def changes(
    credit_code: str,
    conn: ConnDep,
    scope: ScopeDep,
    thing: Annotated[
        str | None, Query(description="只看此孪生体 / one twin's changes (thingId)")
    ] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Who changed what and when, newest first: configuration (old and new value of each changed
    field), maintenance filings and major hidden dangers. 404 outside the caller's jurisdiction."""
    return await audit_trail(
        conn,
        scope,
        credit_code,
        since=start,
        until=end,
        thing=thing,
        limit=limit,
        offset=offset,
    )
