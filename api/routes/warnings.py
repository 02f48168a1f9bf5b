"""``/api/v1/warnings``: warnings (预警) of the caller's jurisdiction and their handling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, ScopeDep
from risk.warnings_store import WarningFilter, act, get_warning, list_warnings

router = APIRouter(tags=["warnings / 预警"])


class Remark(BaseModel):
    """A remark with an action."""

    remark: str | None = Field(default=None, max_length=2000)


class WarningFeedback(BaseModel):
    """预警反馈: what the enterprise did about it."""

    cause: str = Field(min_length=1, max_length=2000, description="原因 / Cause")
    measures: str = Field(min_length=1, max_length=4000, description="整改措施 / Measures")
    photos: list[str] = Field(default_factory=list, max_length=9)


@router.get("/api/v1/warnings", summary="Warnings of the jurisdiction / 预警列表")
async def warnings(
    conn: ConnDep,
    scope: ScopeDep,
    credit_code: str | None = None,
    state: Annotated[list[str] | None, Query()] = None,
    level: Annotated[list[str] | None, Query(description="red, orange, yellow, blue")] = None,
    trigger: str | None = None,
    tier: Annotated[str | None, Query(description="county, city, province, ...")] = None,
    open: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """List and filter, newest first, with deadlines and overdue flags."""
    f = WarningFilter(credit_code, tuple(state or ()), tuple(level or ()), trigger, tier, open)
    total, items = await list_warnings(
        conn, scope, f, datetime.now(UTC), limit=limit, offset=offset
    )
    return {"total": total, "items": items}


@router.get("/api/v1/warnings/{warning_id}", summary="One warning / 预警详情")
async def warning(warning_id: int, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The warning with every step (raised, upgraded, escalated, acknowledged, ...)."""
    return await get_warning(conn, scope, warning_id, datetime.now(UTC))


@router.post("/api/v1/warnings/{warning_id}/acknowledge", summary="Acknowledge / 预警签收")
async def acknowledge(
    warning_id: int, body: Remark, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """The enterprise confirms it has received the warning."""
    detail = body.model_dump(exclude_none=True)
    return await act(conn, scope, warning_id, "acknowledge", datetime.now(UTC), detail)


@router.post("/api/v1/warnings/{warning_id}/feedback", summary="Feed back / 预警反馈")
async def feedback(
    warning_id: int, body: WarningFeedback, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """The enterprise reports cause and measures."""
    return await act(conn, scope, warning_id, "feedback", datetime.now(UTC), body.model_dump())


@router.post("/api/v1/warnings/{warning_id}/clear", summary="Clear / 消警")
async def clear(warning_id: int, body: Remark, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """A regulator clears it: only once the level is back and feedback exists."""
    detail = body.model_dump(exclude_none=True)
    return await act(conn, scope, warning_id, "clear", datetime.now(UTC), detail)
