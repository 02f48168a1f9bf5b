"""``/api/v1/catalog``: the device catalog in force — indicators with their default limits."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CatalogDep, UserDep

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog / 设备目录"])


class IndicatorOut(BaseModel):
    """One monitoring indicator (监测指标) and the defaults a new point gets."""

    code: str
    name_zh: str
    name_en: str
    unit: str
    kind: str = Field(description="analog / switch / count")
    collectors: list[str] = Field(description="适用除尘器 / Collector types")
    mandatory_for: list[str] = Field(description="必测于 / Mandatory for")
    measuring_range: tuple[float, float] = Field(description="默认量程 / Default range")
    limits: dict[str, float | None] = Field(description="默认限值 / Default limits")
    basis: list[str] = Field(description="依据 / Where the defaults come from (SEED/FOUND/DEFAULT)")
    note_zh: str | None
    note_en: str | None


class CatalogOut(BaseModel):
    """The catalog version and its indicators."""

    version: str
    indicators: list[IndicatorOut]


@router.get("", summary="Device catalog / 设备目录")
async def catalog(catalog: CatalogDep, _user: UserDep) -> CatalogOut:
    """Every indicator a point may measure, with its unit, range and default limits."""
    return CatalogOut(
        version=catalog.version,
        indicators=[
            IndicatorOut(
                code=i.code,
                name_zh=i.name_zh,
                name_en=i.name_en,
                unit=i.unit,
                kind=i.kind,
                collectors=list(i.collectors),
                mandatory_for=list(i.mandatory_for),
                measuring_range=i.measuring_range,
                limits={
                    "hha": i.limits.hha,
                    "ha": i.limits.ha,
                    "la": i.limits.la,
                    "lla": i.limits.lla,
                    "deadband": i.limits.deadband,
                    "persistence_s": i.limits.persistence_s,
                },
                basis=list(i.basis),
                note_zh=i.note_zh,
                note_en=i.note_en,
            )
            for i in catalog.indicators.values()
        ],
    )
