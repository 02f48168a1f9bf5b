"""``/api/v1/points/{credit_code}/{point_code}/readings``: a point's history, raw or bucketed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ConnDep, ScopeDep, StoreDep
from api.errors import ApiError
from connectors.protocol import QUALITY_CODES
from connectors.readings import (
    Fill,
    ReadingsQueryError,
    bucketed,
    parse_bucket,
    raw_readings,
    source_for,
)

router = APIRouter(tags=["readings / 历史数据"])
QUALITY_NAMES = {code: name for name, code in QUALITY_CODES.items()}
CHINA = timezone(timedelta(hours=8), "CST")


class RawReading(BaseModel):
    """One stored reading."""

    time: datetime
    value: float | None
    quality: str = Field(description="GOOD, FAULT, MAINT or OVER_RANGE (超量程)")


class BucketOut(BaseModel):
    """One time bucket of GOOD values."""

    time: datetime
    avg: float | None
    min: float | None
    max: float | None
    count: int = Field(
        description="读数个数（0：空桶）/ Readings in it (0: an empty, filled bucket)"
    )


class Readings(BaseModel):
    """A point's readings over a range."""

    point: str
    unit: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    bucket: str | None
    source: str = Field(description="readings, readings_1m or readings_1h")
    raw: list[RawReading] | None = None
    buckets: list[BucketOut] | None = None


@router.get(
    "/api/v1/points/{credit_code}/{point_code}/readings",
    summary="A point's readings / 点位历史数据",
    response_model_by_alias=True,
)
async def readings(
    credit_code: str,
    point_code: str,
    store: StoreDep,
    scope: ScopeDep,
    conn: ConnDep,
    start: Annotated[
        datetime | None, Query(alias="from", description="ISO 8601; default: an hour ago")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="ISO 8601; default: now")] = None,
    bucket: Annotated[
        str | None, Query(description="e.g. 1m, 15m, 1h, 1d; absent: raw readings")
    ] = None,
    fill: Annotated[Fill, Query(description="none, null or previous (gap filling)")] = "none",
) -> Readings:
    """Raw readings, or avg/min/max/count per bucket (from the rollups for long ranges)."""
    point = await store.get(f"dusttwin:point-{credit_code}-{point_code}", scope)
    end = _aware(end) or datetime.now(UTC)
    start = _aware(start) or end - timedelta(hours=1)
    if start >= end:
        raise ApiError(422, "from must be before to / 起始时间须早于结束时间")
    result = Readings(
        point=point.thing_id,
        unit=point.attributes.get("unit", ""),
        start=start,
        end=end,
        bucket=bucket,
        source="readings",
    )
    try:
        if bucket is None:
            rows = await raw_readings(conn, point.id, start, end)
            result.raw = [RawReading(time=t, value=v, quality=QUALITY_NAMES[q]) for t, v, q in rows]
            return result
        size = parse_bucket(bucket)
        result.source = source_for(end - start, size)
        found = await bucketed(conn, point.id, start, end, size, fill)
    except ReadingsQueryError as err:
        raise ApiError(422, str(err)) from err
    result.buckets = [
        BucketOut(time=b.time, avg=b.avg, min=b.min, max=b.max, count=b.count) for b in found
    ]
    return result


def _aware(value: datetime | None) -> datetime | None:
    """A time without an offset is taken as China Standard Time, as users type it."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=CHINA)
