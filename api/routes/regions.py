"""``/api/v1/regions``: a region (行政区划) and what lies under it, from the twin graph."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import GraphDep, ScopeDep, StoreDep
from twins.regions import children, region
from twins.registry import thing_id

router = APIRouter(prefix="/api/v1/regions", tags=["regions / 行政区划"])


class RegionSummary(BaseModel):
    """A region with the roll-up of everything connected under it."""

    adcode: str
    name: str
    level: str
    children: list[str] = Field(description="下级区划 / Regions below")
    enterprises: int = Field(description="接入企业数 / Connected enterprises")
    systems: int = Field(description="除尘系统数 / Dust-removal systems")
    points: int = Field(description="监测点位数 / Monitoring points")
    gateways: int
    cameras: int
    point_online_rate: float | None = Field(description="点位在线率 / Share of points online")
    open_alarms: int = Field(description="未消除报警 / Open alarms")
    worst_alarm: str | None = Field(description="最高报警级别 / Worst open alarm level")
    risk_levels: dict[str, int] = Field(description="各风险等级企业数 / Enterprises per risk level")


@router.get("/{adcode}", summary="Region summary / 区域汇总")
async def summary(adcode: str, store: StoreDep, scope: ScopeDep, graph: GraphDep) -> RegionSummary:
    """Counts, online rate, worst alarm and risk levels of everything under a region."""
    tid = thing_id("region", None, adcode)
    await store.get(tid, scope)  # 404 outside the caller's jurisdiction
    r = region(adcode)
    rollup = graph.rollup(tid)
    return RegionSummary(
        adcode=r.adcode,
        name=r.name,
        level=r.level,
        children=[c.adcode for c in children(adcode)],
        enterprises=rollup.counts["enterprise"],
        systems=rollup.counts["system"],
        points=rollup.counts["point"],
        gateways=rollup.counts["gateway"],
        cameras=rollup.counts["camera"],
        point_online_rate=rollup.point_online_rate,
        open_alarms=rollup.open_alarms,
        worst_alarm=rollup.worst_alarm,
        risk_levels=dict(rollup.risk_levels),
    )
