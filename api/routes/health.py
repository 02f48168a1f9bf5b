"""``/healthz``: database (with the time-series mode), Redis and the MQTT broker."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import SettingsDep
from dusttwin import __version__
from dusttwin.health import check_all

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Platform health / 平台健康检查",
    description=(
        "Every service the platform runs on, with the time-series mode (TimescaleDB or plain "
        "PostgreSQL). 200 when all are usable, 503 otherwise. "
        "各依赖服务状态及时序存储模式；全部可用时返回 200，否则 503。"
    ),
    responses={503: {"description": "A service is down / 有服务不可用"}},
)
async def healthz(settings: SettingsDep) -> JSONResponse:
    """Report every check; 503 when any fails."""
    report = await check_all(settings)
    body: dict[str, Any] = {"version": __version__, **report.as_dict()}
    return JSONResponse(body, status_code=200 if report.ok else 503)
