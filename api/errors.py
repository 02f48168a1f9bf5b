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
from device_catalog import DeviceCatalogError
from risk.errors import (
    ActionNotPermittedError,
    AlarmNotFoundError,
    LifecycleError,
    RiskError,
    WarningNotFoundError,
)
from risk.webhooks import WebhookNotFoundError
from twins.ditto import PartNotFoundError
from twins.errors import (
    InvalidThingError,
    ThingConflictError,
    ThingExistsError,
    ThingNotFoundError,
    TwinsError,
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
    (BrokerAdminError, 503, "gateway:service.unavailable", "Broker unavailable / 消息服务不可用"),
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
