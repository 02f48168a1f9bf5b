"""``/api/v1/filings``: maintenance and shutdown filings (检修/停产报备).

The enterprise files and withdraws windows for its own plant; regulators of its jurisdiction see
them and may reject them (docs/workflows.md explains why filings are approved when filed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import ConnDep, ScopeDep, SettingsDep
from dusttwin.settings import Settings
from risk.filings import (
    FilingFilter,
    FilingRules,
    approve_filing,
    file_filing,
    get_filing,
    list_filings,
    reject_filing,
    withdraw_filing,
)

router = APIRouter(tags=["filings / 检修报备"])


def rules_of(settings: Settings) -> FilingRules:
    """The filing rules in force (settings: longest window, start grace, auto-approval)."""
    return FilingRules.of(settings)


class FilingCreate(BaseModel):
    """报备: a maintenance or shutdown window for one system or the whole plant."""

    system_code: str | None = Field(
        default=None, description="除尘系统编码；不填为全厂 / System code; absent: whole plant"
    )
    kind: Literal["maintenance", "shutdown"] = Field(description="检修 maintenance / 停产 shutdown")
    starts_at: AwareDatetime = Field(description="开始时间 / Start")
    ends_at: AwareDatetime = Field(description="结束时间 / End")
    reason: str = Field(min_length=1, max_length=2000, description="事由 / Reason")


class Remark(BaseModel):
    """An optional remark with a decision or a withdrawal."""

    remark: str | None = Field(default=None, max_length=2000)


class Rejection(BaseModel):
    """驳回: why a regulator does not accept the filing."""

    reason: str = Field(min_length=1, max_length=2000, description="驳回原因 / Why")


class FilingList(BaseModel):
    """A page of filings."""

    total: int
    items: list[dict[str, Any]]


@router.post(
    "/api/v1/enterprises/{credit_code}/filings",
    status_code=201,
    summary="File a maintenance window / 检修停产报备",
)
async def create_filing(
    credit_code: str, body: FilingCreate, conn: ConnDep, scope: ScopeDep, settings: SettingsDep
) -> dict[str, Any]:
    """The enterprise files a window; alarms of the system (or plant) are suppressed during it."""
    return await file_filing(
        conn,
        scope,
        credit_code,
        system_code=body.system_code,
        kind=body.kind,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        reason=body.reason,
        now=datetime.now(UTC),
        rules=rules_of(settings),
    )


@router.get("/api/v1/filings", summary="Filings of the jurisdiction / 报备列表")
async def filings(
    conn: ConnDep,
    scope: ScopeDep,
    credit_code: str | None = None,
    system_code: str | None = None,
    adcode: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    state: Annotated[
        list[str] | None, Query(description="FILED, APPROVED, REJECTED, WITHDRAWN")
    ] = None,
    kind: Literal["maintenance", "shutdown"] | None = None,
    active_at: Annotated[
        datetime | None, Query(description="只看此刻生效的 / in force at this time")
    ] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FilingList:
    """List and filter (enterprise, system, region, state, kind, time), latest window first."""
    f = FilingFilter(
        credit_code=credit_code,
        system_code=system_code,
        adcode=adcode,
        states=tuple(state or ()),
        kind=kind,
        active_at=active_at,
        since=start,
        until=end,
    )
    total, items = await list_filings(conn, scope, f, limit=limit, offset=offset)
    return FilingList(total=total, items=items)


@router.get("/api/v1/filings/{filing_id}", summary="One filing with its history / 报备详情")
async def filing(filing_id: int, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The filing and every step of its life."""
    return await get_filing(conn, scope, filing_id)


@router.post("/api/v1/filings/{filing_id}/withdraw", summary="Withdraw / 撤回报备")
async def withdraw(filing_id: int, body: Remark, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The enterprise withdraws a filing; during its window, the window ends now."""
    return await withdraw_filing(conn, scope, filing_id, datetime.now(UTC), body.remark)


@router.post("/api/v1/filings/{filing_id}/reject", summary="Reject / 驳回报备")
async def reject(filing_id: int, body: Rejection, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """A regulator rejects a filing: its alarms are raised again and its offline time counts."""
    return await reject_filing(conn, scope, filing_id, datetime.now(UTC), body.reason)


@router.post("/api/v1/filings/{filing_id}/approve", summary="Approve / 同意报备")
async def approve(filing_id: int, body: Remark, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """A regulator approves a filing that waits for approval (when auto-approval is off)."""
    return await approve_filing(conn, scope, filing_id, datetime.now(UTC), body.remark)
