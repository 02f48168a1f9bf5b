"""Errors at the HTTP edge: problem-detail JSON under /api/v1, Ditto's error JSON under /api/2.

Every domain error is translated here, once; routers raise the domain's own exceptions.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectors.broker_admin import BrokerAdminError
from connectors.video import (
    VideoLinkNotFoundError,
    VideoRangeError,
    VideoTokenError,
    VideoUpstreamError,
)
from device_catalog import DeviceCatalogError
from risk.cleaning import (
    CheckInInvalidError,
    CheckInRefusedError,
    CleaningNotFoundError,
    CleaningPlanInvalidError,
)
from risk.errors import (
    ActionNotPermittedError,
    AlarmNotFoundError,
    LifecycleError,
    RiskError,
    WarningNotFoundError,
)
from risk.filings import (
    FilingNotFoundError,
    FilingNotPermittedError,
    FilingOverlapError,
    FilingStateError,
    InvalidFilingError,
)
from risk.hazards import (
    HazardExistsError,
    HazardNotFoundError,
    HazardNotPermittedError,
    HazardStateError,
    InvalidHazardError,
)
from risk.video_alarms import SnapshotNotFoundError, SnapshotRefusedError, UnknownCameraError
from risk.webhooks import WebhookNotFoundError
from twins.ditto import PartNotFoundError
from twins.errors import (
    InvalidThingError,
    ThingConflictError,
    ThingExistsError,
    ThingNotFoundError,
    TwinsError,
)
from twins.photos import (
    NotAnImageError,
    PhotoNotFoundError,
    PhotoStoreError,
    PhotoTooLargeError,
)
from twins.rql import RqlSyntaxError
from twins.search_sql import InvalidCursorError
from twins.store import NotAllowedError
from twins.tokens import InvalidTokenError
from twins.users import UserError

# domain error -> (HTTP status, Ditto error code, title)
_MAP: list[tuple[type[Exception], int, str, str]] = [
    (RqlSyntaxError, 400, "rql.expression.invalid", "Invalid search / 检索条件无效"),
    (InvalidCursorError, 400, "thing-search:cursor.invalid", "Invalid cursor / 游标无效"),
    (ThingExistsError, 409, "things:thing.conflict", "Exists already / 已存在"),
    (ThingNotFoundError, 404, "things:thing.notfound", "Not found / 未找到"),
    (NotAllowedError, 403, "things:thing.notmodifiable", "Not allowed / 无权操作"),
    (ThingConflictError, 412, "things:precondition.failed", "Conflict / 冲突"),
    (InvalidTokenError, 401, "gateway:authentication.failed", "Not authenticated / 未认证"),
    (InvalidThingError, 400, "things:thing.invalid", "Invalid / 数据无效"),
    (UserError, 400, "users:user.invalid", "Invalid user / 用户无效"),
    (DeviceCatalogError, 400, "things:thing.invalid", "Invalid / 数据无效"),
    (AlarmNotFoundError, 404, "alarms:alarm.notfound", "Not found / 未找到"),
    (WarningNotFoundError, 404, "warnings:warning.notfound", "Not found / 未找到"),
    (WebhookNotFoundError, 404, "webhooks:webhook.notfound", "Not found / 未找到"),
    (LifecycleError, 409, "alarms:lifecycle.conflict", "Not in this state / 当前状态不允许"),
    (ActionNotPermittedError, 403, "alarms:action.forbidden", "Not allowed / 无权操作"),
    (InvalidFilingError, 400, "filings:filing.invalid", "Invalid filing / 报备无效"),
    (FilingOverlapError, 409, "filings:filing.overlap", "Overlapping filing / 报备时间重叠"),
    (FilingNotFoundError, 404, "filings:filing.notfound", "Not found / 未找到"),
    (FilingStateError, 409, "filings:state.conflict", "Not in this state / 当前状态不允许"),
    (FilingNotPermittedError, 403, "filings:action.forbidden", "Not allowed / 无权操作"),
    (InvalidHazardError, 400, "hazards:hazard.invalid", "Invalid hidden danger / 隐患数据无效"),
    (HazardExistsError, 409, "hazards:hazard.conflict", "Already recorded / 隐患已登记"),
    (HazardNotFoundError, 404, "hazards:hazard.notfound", "Not found / 未找到"),
    (HazardStateError, 409, "hazards:state.conflict", "Not in this state / 当前状态不允许"),
    (HazardNotPermittedError, 403, "hazards:action.forbidden", "Not allowed / 无权操作"),
    (VideoTokenError, 403, "video:link.forbidden", "Video link not valid / 视频链接无效"),
    (VideoLinkNotFoundError, 404, "video:link.notfound", "Not found / 未找到"),
    (VideoRangeError, 400, "video:range.invalid", "Invalid time range / 时间范围无效"),
    (VideoUpstreamError, 502, "video:upstream.failed", "Video service failed / 视频服务无应答"),
    (SnapshotNotFoundError, 404, "video:snapshot.notfound", "Not found / 未找到"),
    (SnapshotRefusedError, 400, "video:snapshot.invalid", "Invalid snapshot / 抓图无效"),
    (UnknownCameraError, 404, "video:camera.notfound", "Camera not registered / 摄像机未登记"),
    (BrokerAdminError, 503, "gateway:service.unavailable", "Broker unavailable / 消息服务不可用"),
    (CleaningNotFoundError, 404, "cleaning:notfound", "Not found / 未找到"),
    (CleaningPlanInvalidError, 422, "cleaning:plan.invalid", "Invalid plan / 清扫计划无效"),
    (CheckInRefusedError, 409, "cleaning:checkin.refused", "Check-in refused / 不能打卡"),
    (CheckInInvalidError, 422, "cleaning:checkin.invalid", "Invalid check-in / 打卡信息不全"),
    (NotAnImageError, 422, "photos:photo.invalid", "Not a JPEG or PNG image / 不是有效图片"),
    (PhotoTooLargeError, 413, "photos:photo.toolarge", "Photo too large / 照片过大"),
    (PhotoNotFoundError, 404, "photos:photo.notfound", "Not found / 未找到"),
    (PhotoStoreError, 503, "photos:store.unavailable", "Photo store unavailable / 照片存储不可用"),
]


class ApiError(Exception):
    """An error a router raises with its own status (e.g. 409 for a taken code)."""

    def __init__(
        self, status: int, message: str, *, error: str = "api:error", **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.extra = extra


def _ditto(request: Request) -> bool:
    return request.url.path.startswith("/api/2")


def error_response(
    request: Request, status: int, error: str, title: str, message: str, **extra: Any
) -> JSONResponse:
    """The error body in the shape the path's clients expect."""
    headers = {"WWW-Authenticate": 'Bearer, Basic realm="dusttwin"'} if status == 401 else None
    if _ditto(request):
        body: dict[str, Any] = {
            "status": status,
            "error": error,
            "message": message,
            "description": extra.pop("description", title),
            **extra,
        }
    else:
        body = {"type": "about:blank", "title": title, "status": status, "detail": message, **extra}
    media = "application/json" if _ditto(request) else "application/problem+json"
    return JSONResponse(body, status_code=status, headers=headers, media_type=media)


def install(app: FastAPI) -> None:
    """Register the translations on an application."""

    async def domain(request: Request, exc: Exception) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, RqlSyntaxError):
            extra["position"] = exc.position
        for kind, status, error, title in _MAP:
            if isinstance(exc, kind):
                code = exc.error if isinstance(exc, PartNotFoundError) else error
                # /api/v1 answers every invalid record with 422, as FastAPI does for bodies
                shown = 422 if status == 400 and not _ditto(request) else status
                return error_response(request, shown, code, title, str(exc), **extra)
        raise exc

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(request, exc.status, exc.error, exc.message, exc.message, **exc.extra)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        message = "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems)
        return error_response(
            request,
            400 if _ditto(request) else 422,
            "things:request.invalid",
            "Invalid request / 请求无效",
            message,
            errors=problems,
        )

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(
            request, exc.status_code, f"http:{exc.status_code}", str(exc.detail), str(exc.detail)
        )

    for kind in (TwinsError, DeviceCatalogError, BrokerAdminError, RiskError):
        app.add_exception_handler(kind, domain)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
