"""``/api/v1/hazards``: major hidden dangers (重大事故隐患) and their rectification (整改).

Regulators and the enterprise record them; the enterprise reports its rectification; a regulator
verifies it (销号). Until then the danger keeps the enterprise at least orange.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import ConnDep, ScopeDep
from risk.hazards import (
    HAZARD_ITEMS,
    HazardAction,
    HazardFilter,
    act_on_hazard,
    get_hazard,
    list_hazards,
    record_hazard,
)

router = APIRouter(tags=["hazards / 重大事故隐患"])


class HazardCreate(BaseModel):
    """登记重大事故隐患: one item of the list, on a system or the plant."""

    item: str = Field(description="隐患清单编码 / Item code (GET /api/v1/hazards/items)")
    system_code: str | None = Field(
        default=None, description="除尘系统编码；不填为全厂 / System code; absent: plant"
    )
    description: str = Field(min_length=1, max_length=4000, description="隐患描述 / What was found")
    found_at: AwareDatetime = Field(description="发现时间 / Found at")
    deadline: AwareDatetime = Field(description="整改期限 / Rectify by")


class HazardStep(BaseModel):
    """A step of the rectification loop, with a remark (measures taken, why sent back ...)."""

    remark: str | None = Field(default=None, max_length=4000)


class Extension(BaseModel):
    """A regulator sets a new deadline."""

    deadline: AwareDatetime = Field(description="新的整改期限 / New deadline")
    remark: str | None = Field(default=None, max_length=4000)


class HazardList(BaseModel):
    """A page of hidden dangers."""

    total: int
    items: list[dict[str, Any]]


@router.get("/api/v1/hazards/items", summary="The list of major hidden dangers / 隐患清单")
async def items() -> list[dict[str, str]]:
    """The items a danger is recorded against (dust-explosion criteria, 2023)."""
    return [
        {
            "code": i.code,
            "name_zh": i.name_zh,
            "name_en": i.name_en,
            "description": i.description,
            "basis": i.basis,
        }
        for i in HAZARD_ITEMS.values()
    ]


@router.post(
    "/api/v1/enterprises/{credit_code}/hazards",
    status_code=201,
    summary="Record a major hidden danger / 登记重大事故隐患",
)
async def create_hazard(
    credit_code: str, body: HazardCreate, conn: ConnDep, scope: ScopeDep
) -> dict[str, Any]:
    """A regulator of the enterprise, or the enterprise itself, records a danger from the list."""
    return await record_hazard(
        conn,
        scope,
        credit_code,
        item=body.item,
        system_code=body.system_code,
        description=body.description,
        found_at=body.found_at,
        deadline=body.deadline,
        now=datetime.now(UTC),
    )


@router.get("/api/v1/hazards", summary="Hidden dangers of the jurisdiction / 隐患列表")
async def hazards(
    conn: ConnDep,
    scope: ScopeDep,
    credit_code: str | None = None,
    system_code: str | None = None,
    adcode: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    status: Annotated[
        list[str] | None, Query(description="OPEN, RECTIFYING, RECTIFIED, VERIFIED")
    ] = None,
    item: str | None = None,
    open: Annotated[bool, Query(description="only those not yet verified")] = False,
    overdue: Annotated[bool, Query(description="only those past their deadline")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HazardList:
    """List and filter, newest first; each with its overdue flag."""
    f = HazardFilter(
        credit_code=credit_code,
        system_code=system_code,
        adcode=adcode,
        statuses=tuple(status or ()),
        item=item,
        open_only=open,
        overdue_only=overdue,
    )
    total, rows = await list_hazards(conn, scope, f, datetime.now(UTC), limit=limit, offset=offset)
    return HazardList(total=total, items=rows)


@router.get("/api/v1/hazards/{hazard_id}", summary="One hidden danger / 隐患详情")
async def hazard(hazard_id: int, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The danger, its deadline and overdue flag, and every step of its rectification."""
    return await get_hazard(conn, scope, hazard_id, datetime.now(UTC))


def _step(action: HazardAction, summary: str, doc: str) -> None:
    async def step(
        hazard_id: int, body: HazardStep, conn: ConnDep, scope: ScopeDep
    ) -> dict[str, Any]:
        return await act_on_hazard(
            conn, scope, hazard_id, action, datetime.now(UTC), remark=body.remark
        )

    step.__doc__ = doc
    router.add_api_route(
        f"/api/v1/hazards/{{hazard_id}}/{action}", step, methods=["POST"], summary=summary
    )


_step("start", "Start rectifying / 开始整改", "The enterprise starts the rectification.")
_step("rectify", "Report rectified / 整改完成", "The enterprise reports the danger rectified.")
_step("verify", "Verify / 验收销号", "A regulator verifies the rectification: the danger closes.")
_step("reopen", "Send back / 退回整改", "A regulator finds the rectification not done.")


@router.post("/api/v1/hazards/{hazard_id}/extend", summary="New deadline / 延期")
async def extend(hazard_id: int, body: Extension, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """A regulator sets a new deadline for an open danger."""
    return await act_on_hazard(
        conn,
        scope,
        hazard_id,
        "extend",
        datetime.now(UTC),
        remark=body.remark,
        deadline=body.deadline,
    )
