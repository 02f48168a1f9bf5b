"""``/api/v1/adapters/{hebei,mem}/{rtsData,eventsData,videosData}``: provincial envelopes (§9).

Gateways configured for the Hebei V1.1 or the MEM/Tianjin platform post here unchanged; the
envelope is opened by ``connectors.adapters`` and goes through the same pipeline as HTTP ingest.
Replies are in the provincial platforms' shape, ``{"code", "msg", "data"}``, with ``code`` equal
to the HTTP status, because those gateways read ``code``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse

from api.routes.ingest import get_pipeline
from connectors.adapters import (
    AdapterConfig,
    AdapterKind,
    AdapterRefusedError,
    Mapped,
    deliver,
    load_adapter_config,
    open_hebei,
    open_mem,
    record_refusal,
)
from connectors.pipeline import IngestPipeline
from dusttwin.settings import Settings
from risk.video_alarms import SnapshotRefusedError, UnknownCameraError, record_video_alarm

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def _load_config(app: FastAPI) -> AsyncIterator[None]:
    # read once at start-up (FastAPI merges a router's lifespan into the app's), so a wrong
    # adapters file stops the API with its reason instead of failing the first provincial post
    settings: Settings = app.state.settings
    app.state.adapters = load_adapter_config(settings.adapters_file)
    yield


router = APIRouter(tags=["adapters / 省级平台接入"], lifespan=_load_config)


def get_adapters(request: Request) -> AdapterConfig:
    """The adapters' configuration (keys and ids), loaded at start-up."""
    adapters: AdapterConfig = request.app.state.adapters
    return adapters


AdaptersDep = Annotated[AdapterConfig, Depends(get_adapters)]
PipelineDep = Annotated[IngestPipeline, Depends(get_pipeline)]
KindPath = Annotated[
    AdapterKind, Path(description="rtsData 实时数据, eventsData 报警, videosData 视频报警")
]
REPLIES: dict[int | str, dict[str, Any]] = {
    400: {"description": "envelope refused: not decryptable, malformed, not a valid message"},
    401: {"description": "unknown qybm or appid, wrong appsecret"},
    413: {"description": "envelope over 4 MiB"},
}


def _reply(code: int, msg: str, data: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "data": data}, status_code=code)


async def _ingest(
    pipeline: IngestPipeline, kind: AdapterKind, opened: Mapped | AdapterRefusedError
) -> JSONResponse:
    if isinstance(opened, AdapterRefusedError):
        log.debug("adapters: %s refused: %s", kind, opened.reason)
        await record_refusal(pipeline, opened, kind)
        return _reply(opened.status, opened.reason)
    outcome = await deliver(pipeline, opened)
    if outcome.refused:
        return _reply(400, outcome.refused)
    rejected = [r.as_json() for r in outcome.rejected]
    if opened.videos:
        rejected += await _video_alarms(pipeline, opened)
    data = {"accepted": outcome.accepted, "rejected": rejected}
    return _reply(200, "成功 / ok", data)


async def _video_alarms(pipeline: IngestPipeline, opened: Mapped) -> list[dict[str, Any]]:
    """Each video AI alarm becomes an alarm of its camera, with its snapshot (视频AI报警)."""
    problems: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    async with pipeline.pool.connection() as conn:
        for video in opened.videos:
            reason = video.problem
            if reason is None:
                try:
                    await record_video_alarm(
                        conn,
                        f"dusttwin:camera-{video.camera}",
                        video.alarm_type,
                        video.at or now,
                        video.snapshot,
                        now,
                        credit_code=opened.gateway.credit_code,
                        content=video.content,
                    )
                except (SnapshotRefusedError, UnknownCameraError) as err:
                    reason = str(err)
            if reason is not None:
                problems.append(
                    {"index": video.index, "code": video.camera, "reason": f"video alarm: {reason}"}
                )
    return problems


@router.post(
    "/api/v1/adapters/hebei/{kind}",
    summary="Hebei V1.1 gateways / 河北省平台格式接入",
    responses=REPLIES,
)
async def hebei(
    kind: KindPath, request: Request, pipeline: PipelineDep, adapters: AdaptersDep
) -> JSONResponse:
    """``{"qybm", "data"}`` (JSON or form), data = hex(Base64(DES-CBC(JSON)))."""
    body = await request.body()
    try:
        opened: Mapped | AdapterRefusedError = open_hebei(adapters, kind, body)
    except AdapterRefusedError as err:
        opened = err
    return await _ingest(pipeline, kind, opened)


@router.post(
    "/api/v1/adapters/mem/{kind}",
    summary="MEM / Tianjin gateways / 应急管理部（天津）格式接入",
    responses=REPLIES,
)
async def mem(
    kind: KindPath,
    request: Request,
    pipeline: PipelineDep,
    adapters: AdaptersDep,
    appsecret: Annotated[str | None, Header(description="应急管理部下发的 appsecret")] = None,
) -> JSONResponse:
    """``{"appid", "data"}`` with the ``appsecret`` header, data = hex(SM4-CBC(JSON))."""
    body = await request.body()
    try:
        opened: Mapped | AdapterRefusedError = open_mem(adapters, kind, body, appsecret)
    except AdapterRefusedError as err:
        opened = err
    return await _ingest(pipeline, kind, opened)
