"""``/api/v1/alarms``: alarms of the caller's jurisdiction and their closed loop (报警闭环)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, ScopeDep
from risk.alarms import AlarmFilter, act, get_alarm, list_alarms

router = APIRouter(tags=["alarms / 报警"])

Verification = Literal["REAL", "FALSE_ALARM", "DEVICE_FAULT", "MAINTENANCE"]


class Acknowledge(BaseModel):
    """确认报警: the verification result of an on-site check."""

    verification: Verification = Field(
        description=(
            "核实结果: REAL 真实报警, FALSE_ALARM 误报, DEVICE_FAULT 设备故障, MAINTENANCE 检修"
        )
    )
    remark: str | None = Field(default=None, max_length=2000)


class Feedback(BaseModel):
    """处置反馈: what caused it and what was done."""

    cause: str = Field(min_length=1, max_length=2000, description="原因 / Cause")
    measures: str = Field(min_length=1, max_length=4000, description="处置措施 / Measures taken")
    photos: list[str] = Field(
        default_factory=list, max_length=9, description="照片 (stored photo references)"
    )


class Close(BaseModel):
    """闭环: a regulator agrees the handling."""

    remark: str | None = Field(default=None, max_length=2000)


class Reject(BaseModel):
    """驳回: a regulator sends the feedback back."""

    reason: str = Field(min_length=1, max_length=2000, description="驳回原因 / Why")


class AlarmList(BaseModel):
    """A page of alarms."""

    total: int
    items: list[dict[str, Any]]


@router.get("/api/v1/alarms", summary="Alarms of the jurisdiction / 报警列表")
async def alarms(
    conn: ConnDep,
    scope: ScopeDep,
    credit_code: str | None = None,
    system_code: str | None = None,
    adcode: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    state: Annotated[list[str] | None, Query(description="ACTIVE, HANDLING, FED_BACK, ...")] = None,
    level: Annotated[
        list[str] | None, Query(description="EXPLOSION, HHA, HA, LA, LLA, ...")
    ] = None,
    indicator: str | None = None,
    alarm_type: str | None = None,
    open: Annotated[bool, Query(description="only alarms whose loop is not closed")] = False,
    overdue: Annotated[bool, Query(description="only alarms past a deadline")] = False,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AlarmList:
    """List and filter (enterprise, region, state, level, indicator, time), newest first."""
    f = AlarmFilter(
        credit_code=credit_code,
        system_code=system_code,
        adcode=adcode,
        states=tuple(state or ()),
        levels=tuple(level or ()),
        indicator=indicator,
        alarm_type=alarm_type,
        open_only=open,
        overdue_only=overdue,
        since=start,
        until=end,
    )
    total, items = await list_alarms(conn, scope, f, datetime.now(UTC), limit=limit, offset=offset)
    return AlarmList(total=total, items=items)


@router.get("/api/v1/alarms/{alarm_id}", summary="One alarm with its history / 报警详情")
async def alarm(alarm_id: int, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The alarm, its deadlines and overdue flags, and every step of its life."""
    return await get_alarm(conn, scope, alarm_id, datetime.now(UTC))


@router.post("/api/v1/alarms/{alarm_id}/acknowledge", summary="Acknowledge / 确认报警")
async def acknowledge(
    alarm_id: int, body: Acknowledge, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """The enterprise confirms it has seen the alarm and says what it found on site."""
    detail = body.model_dump(exclude_none=True)
    return await act(conn, scope, alarm_id, "acknowledge", datetime.now(UTC), detail)


@router.post("/api/v1/alarms/{alarm_id}/feedback", summary="Feed back / 处置反馈")
async def feedback(alarm_id: int, body: Feedback, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The enterprise reports the cause and the measures taken (after acknowledging)."""
    return await act(conn, scope, alarm_id, "feedback", datetime.now(UTC), body.model_dump())


@router.post("/api/v1/alarms/{alarm_id}/close", summary="Close / 闭环")
async def close(alarm_id: int, body: Close, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """A regulator closes the loop of a fed-back alarm whose condition has cleared."""
    detail = body.model_dump(exclude_none=True)
    return await act(conn, scope, alarm_id, "close", datetime.now(UTC), detail)


@router.post("/api/v1/alarms/{alarm_id}/reject", summary="Send back / 驳回")
async def reject(alarm_id: int, body: Reject, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """A regulator sends the feedback back; the enterprise feeds back again."""
    return await act(conn, scope, alarm_id, "reject", datetime.now(UTC), body.model_dump())
