"""Dust cleaning (粉尘清扫打卡): plans, tasks, check-ins with photos, KPIs; photos served.

The enterprise (and an administrator) writes its plans and checks in its tasks; regulators of
its jurisdiction read them. Photos are served only within the caller's jurisdiction.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from api.deps import ConnDep, ScopeDep, SettingsDep
from risk.cleaning import (
    PhotoUpload,
    PlanSpec,
    Side,
    check_in,
    create_plan,
    daily_kpis,
    day_range,
    deactivate_plan,
    enterprise_kpi,
    get_plan,
    get_task,
    list_plans,
    list_tasks,
    update_plan,
)
from risk.statistics import china_day
from twins.photos import PhotoStore, get_photo, photo_store_from
from twins.regions import scope_prefix

router = APIRouter(tags=["cleaning / 粉尘清扫"])
PLANS = "/api/v1/enterprises/{credit_code}/cleaning/plans"
AreaKind = Literal["workshop", "station", "equipment", "collector", "duct", "beams", "other"]


def get_photo_store(request: Request, settings: SettingsDep) -> PhotoStore:
    """The application's photo store, made from the settings on first use."""
    store: PhotoStore | None = getattr(request.app.state, "photo_store", None)
    if store is None:
        store = photo_store_from(settings)
        request.app.state.photo_store = store
    return store


PhotoStoreDep = Annotated[PhotoStore, Depends(get_photo_store)]


class PlanIn(BaseModel):
    """A cleaning plan (清扫计划) as the enterprise writes it."""

    area: str = Field(min_length=1, max_length=200, description="清扫部位 / Area, e.g. 1#车间梁架")
    area_kind: Literal[
        "workshop", "station", "equipment", "collector", "duct", "beams", "other"
    ] = Field(default="other", description="车间/工位/设备/除尘器/管道/梁架/其他")
    system_code: str | None = Field(
        default=None, max_length=64, description="所属除尘系统 / Dust-removal system"
    )
    zone: int = Field(description="粉尘爆炸危险区域 / Dust zone: 20, 21 or 22")
    frequency: Literal["per_shift", "daily", "weekly", "monthly", "maintenance"] = Field(
        description="清扫频次: per_shift 每班, daily 每天, weekly 每周, monthly 每月, "
        "maintenance 检修前后"
    )
    window_start: time | None = Field(
        default=None, description="时段开始 (China time); default 08:00; none for per_shift"
    )
    window_minutes: int | None = Field(
        default=None, ge=1, description="时段长度 / Window length in minutes; default 480"
    )
    weekday: int | None = Field(default=None, description="weekly: 1 Monday … 7 Sunday")
    month_day: int | None = Field(default=None, description="monthly: day 1–28")
    method: str = Field(
        min_length=1,
        max_length=64,
        description="清扫方式: explosion_proof_vacuum 防爆吸尘器 or wet 湿式; never compressed air",
    )
    responsible: str = Field(min_length=1, max_length=100, description="责任人 / Responsible")
    responsible_phone: str | None = Field(default=None, max_length=32)
    photos_required: bool = Field(default=True, description="需拍照 / Photos before and after")

    def spec(self) -> PlanSpec:
        """The domain's plan."""
        return PlanSpec(**self.model_dump())


class TaskPage(BaseModel):
    """A page of cleaning tasks."""

    total: int
    items: list[dict[str, Any]]


def _today() -> date:
    return china_day(datetime.now(UTC))


@router.get(PLANS, summary="Cleaning plans / 清扫计划")
async def plans(
    credit_code: str, conn: ConnDep, scope: ScopeDep, include_inactive: bool = False
) -> list[dict[str, Any]]:
    """The enterprise's cleaning plans (withdrawn ones on request)."""
    return await list_plans(conn, scope, credit_code, include_inactive=include_inactive)


@router.post(PLANS, status_code=201, summary="Create a cleaning plan / 新建清扫计划")
async def new_plan(
    credit_code: str, body: PlanIn, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """Create a plan; its tasks of the next two days appear at once."""
    return await create_plan(conn, scope, credit_code, body.spec(), datetime.now(UTC))


@router.get(PLANS + "/{plan_id}", summary="One cleaning plan / 清扫计划详情")
async def plan(credit_code: str, plan_id: int, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """One plan."""
    return await get_plan(conn, scope, credit_code, plan_id)


@router.put(PLANS + "/{plan_id}", summary="Replace a cleaning plan / 修改清扫计划")
async def replace_plan(
    credit_code: str, plan_id: int, body: PlanIn, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """Replace a plan; tasks not yet begun follow the new schedule."""
    return await update_plan(conn, scope, credit_code, plan_id, body.spec(), datetime.now(UTC))


@router.delete(PLANS + "/{plan_id}", status_code=204, summary="Withdraw a plan / 停用清扫计划")
async def withdraw_plan(credit_code: str, plan_id: int, conn: ConnDep, scope: ScopeDep) -> None:
    """Withdraw a plan: no more tasks; its history stays."""
    await deactivate_plan(conn, scope, credit_code, plan_id, datetime.now(UTC))


@router.get(
    "/api/v1/enterprises/{credit_code}/cleaning/tasks", summary="A day's tasks / 当日清扫任务"
)
async def tasks(
    credit_code: str,
    conn: ConnDep,
    scope: ScopeDep,
    day: Annotated[date | None, Query(description="China day; default today")] = None,
) -> TaskPage:
    """The tasks whose window overlaps the day (default today), in window order."""
    start, end = day_range(day or _today())
    total, items = await list_tasks(
        conn, scope, credit_code, start, end, datetime.now(UTC), limit=1000
    )
    return TaskPage(total=total, items=items)


@router.get("/api/v1/enterprises/{credit_code}/cleaning/history", summary="Task history / 清扫记录")
async def history(
    credit_code: str,
    conn: ConnDep,
    scope: ScopeDep,
    start: Annotated[date | None, Query(alias="from", description="first China day")] = None,
    end: Annotated[date | None, Query(alias="to", description="last China day")] = None,
    state: Annotated[list[str] | None, Query(description="PENDING, DONE, LATE, OVERDUE")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TaskPage:
    """Tasks of a period (default the last 30 days), newest first, with check-ins and photos."""
    last = end or _today()
    first = start or last - timedelta(days=29)
    total, items = await list_tasks(
        conn,
        scope,
        credit_code,
        day_range(first)[0],
        day_range(last)[1],
        datetime.now(UTC),
        states=tuple(state or ()),
        newest_first=True,
        limit=limit,
        offset=offset,
    )
    return TaskPage(total=total, items=items)


@router.get("/api/v1/cleaning/tasks/{task_id}", summary="One task / 清扫任务详情")
async def task(task_id: int, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """One task with its check-in and photos."""
    return await get_task(conn, scope, task_id, datetime.now(UTC))


@router.post(
    "/api/v1/cleaning/tasks/{task_id}/checkin",
    status_code=201,
    summary="Check in / 清扫打卡",
)
async def checkin(
    task_id: int,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    store: PhotoStoreDep,
    before: Annotated[
        list[UploadFile] | None, File(description="清扫前照片 / Before (JPEG or PNG)")
    ] = None,
    after: Annotated[
        list[UploadFile] | None, File(description="清扫后照片 / After (JPEG or PNG)")
    ] = None,
    operator: Annotated[
        str | None, Form(max_length=100, description="清扫人; default the logged-in user")
    ] = None,
    remarks: Annotated[str | None, Form(max_length=2000, description="备注 / Remarks")] = None,
) -> dict[str, Any]:
    """Check a task in at server time: after its window it is accepted and marked late."""
    uploads: list[PhotoUpload] = []
    sides: tuple[tuple[Side, list[UploadFile]], ...] = (
        ("before", before or []),
        ("after", after or []),
    )
    for side, files in sides:
        for f in files:
            # one byte over the limit is enough to refuse it; never read a huge upload whole
            data = await f.read(settings.photo_max_bytes + 1)
            uploads.append(PhotoUpload(side, data, f.content_type))
    return await check_in(
        conn,
        scope,
        task_id,
        photos=uploads,
        store=store,
        now=datetime.now(UTC),
        operator=operator,
        remarks=remarks,
        max_photo_bytes=settings.photo_max_bytes,
    )


@router.get(
    "/api/v1/enterprises/{credit_code}/cleaning/kpis", summary="Enterprise KPIs / 企业清扫考核"
)
async def enterprise_kpis(
    credit_code: str,
    conn: ConnDep,
    scope: ScopeDep,
    day: Annotated[date | None, Query(description="China day; default today")] = None,
) -> dict[str, Any]:
    """A day's completion, on-time and overdue counts and rates of one enterprise."""
    kpi = await enterprise_kpi(conn, scope, credit_code, day or _today(), datetime.now(UTC))
    return asdict(kpi)


@router.get("/api/v1/cleaning/kpis", summary="KPIs by enterprise and region / 清扫考核统计")
async def kpis(
    conn: ConnDep,
    scope: ScopeDep,
    day: Annotated[date | None, Query(description="China day; default today")] = None,
    adcode: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="only under this region")
    ] = None,
    scope_kind: Annotated[Literal["enterprise", "region"] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """A day's KPIs of every enterprise and region of the caller's jurisdiction."""
    found = await daily_kpis(conn, day or _today(), now=datetime.now(UTC), scope=scope)
    return [
        asdict(k)
        for k in found
        if (scope_kind is None or k.scope_kind == scope_kind)
        and (adcode is None or k.adcode.startswith(scope_prefix(adcode)))
    ]


@router.get("/api/v1/photos/{photo_id}", summary="A photo / 照片")
async def photo(photo_id: int, conn: ConnDep, scope: ScopeDep, store: PhotoStoreDep) -> Response:
    """The photo's bytes, only within the caller's jurisdiction (otherwise not found)."""
    found = await get_photo(conn, scope, photo_id)
    data = await asyncio.to_thread(store.get, found.key)
    return Response(
        data,
        media_type=found.content_type,
        headers={
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{found.sha256}"',
        },
    )
