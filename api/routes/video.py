"""Video (视频): signed live and playback URLs, the video proxy, alarm cameras, snapshots.

A browser never sees a camera's raw link (it may carry the video service's credentials): it asks
``/api/v1/cameras/{gb28181_id}/live`` or ``/playback`` and gets a short-lived signed URL to
``/api/v1/video/{token}``, which works without a login (a player cannot send one) until it
expires.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.deps import ConnDep, ScopeDep, SettingsDep, StoreDep
from connectors.video import (
    BROWSER_KINDS,
    LinkKind,
    VideoUpstreamError,
    check_playback_range,
    has_credentials,
    is_playlist,
    issue_grant,
    open_grant,
    open_upstream,
    pick_live_kind,
    read_playlist,
    require_playback,
    rewrite_playlist,
    strip_credentials,
    upstream_url,
    video_client,
)
from dusttwin.settings import Settings
from risk.video_alarms import cameras_for_alarm, get_snapshot
from twins.registry import thing_id
from twins.scope import Scope


@contextlib.asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[None]:
    # one HTTP client for the proxy, shared by every request and closed with the app
    async with video_client() as client:
        app.state.video_client = client
        yield


router = APIRouter(tags=["video / 视频"], lifespan=_client)


def get_video_client(request: Request) -> httpx.AsyncClient:
    """The HTTP client that talks to the video service."""
    client: httpx.AsyncClient = request.app.state.video_client
    return client


VideoClientDep = Annotated[httpx.AsyncClient, Depends(get_video_client)]
CameraId = Annotated[
    str, Path(pattern=r"^\d{20}$", description="GB/T 28181 编码 / GB/T 28181 id (20 digits)")
]
NO_STORE = {"Cache-Control": "no-store"}
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


class SignedLink(BaseModel):
    """A short-lived URL a browser may open (no credentials of the video service in it)."""

    url: str = Field(description="签名地址 / signed URL, valid until expires_at")
    kind: str = Field(description="hls, flv, webrtc or playback")
    expires_at: datetime
    start: datetime | None = None
    end: datetime | None = None


class AlarmCamera(BaseModel):
    """A camera that looks at an alarm, with its playback around the alarm time."""

    gb28181_id: str
    name: str | None
    system_code: str | None
    online: bool | None
    last_check: datetime | None
    error: str | None
    playback: SignedLink | None = Field(description="回放 / playback around the alarm, if any")


class Snapshot(BaseModel):
    """A snapshot of a video AI alarm (视频AI报警抓图)."""

    id: int
    gb28181_id: str
    alarm_kind: str
    taken_at: datetime
    size: int
    sha256: str
    url: str


class AlarmCameras(BaseModel):
    """The cameras of an alarm's dust-removal system (or its enterprise's) and its snapshots."""

    alarm_id: int
    same_system: bool = Field(description="False: none on the alarm's system, all the plant's")
    start: datetime
    end: datetime
    cameras: list[AlarmCamera]
    snapshots: list[Snapshot]


def _signed(
    request: Request,
    secret: str,
    camera: str,
    kind: str,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> SignedLink:
    settings: Settings = request.app.state.settings
    ttl = timedelta(seconds=settings.video_url_ttl_s)
    token, grant = issue_grant(secret, camera, kind, now, start=start, end=end, ttl=ttl)
    url = str(request.url_for("video_stream", token=token))
    return SignedLink(url=url, kind=kind, expires_at=grant.expires, start=start, end=end)


@router.get(
    "/api/v1/cameras/{gb28181_id}/live",
    summary="A signed live URL / 实时视频签名地址",
    response_model=SignedLink,
)
async def live(
    gb28181_id: CameraId,
    request: Request,
    store: StoreDep,
    scope: ScopeDep,
    settings: SettingsDep,
    kind: Annotated[
        LinkKind | None, Query(description=f"one of {', '.join(BROWSER_KINDS)}; default: the first")
    ] = None,
) -> SignedLink:
    """A URL to the camera's live stream, valid 5 minutes; "not found" outside the jurisdiction."""
    camera = await store.get(thing_id("camera", None, gb28181_id), scope)
    chosen = pick_live_kind(camera.attributes, kind)
    secret = settings.secret_key.get_secret_value()
    return _signed(request, secret, gb28181_id, chosen, datetime.now(UTC))


@router.get(
    "/api/v1/cameras/{gb28181_id}/playback",
    summary="A signed playback URL / 回放签名地址",
    response_model=SignedLink,
)
async def playback(
    gb28181_id: CameraId,
    request: Request,
    store: StoreDep,
    scope: ScopeDep,
    settings: SettingsDep,
    start: Annotated[datetime, Query(alias="from", description="开始 (ISO 8601, with offset)")],
    end: Annotated[datetime, Query(alias="to", description="结束 (ISO 8601, with offset)")],
) -> SignedLink:
    """A URL to the recording between from and to (at most a day), valid 5 minutes."""
    camera = await store.get(thing_id("camera", None, gb28181_id), scope)
    check_playback_range(start, end)
    require_playback(camera.attributes)
    secret = settings.secret_key.get_secret_value()
    return _signed(request, secret, gb28181_id, "playback", datetime.now(UTC), start, end)


@router.get(
    "/api/v1/video/snapshots/{snapshot_id}",
    summary="A video alarm's snapshot / 视频报警抓图",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def snapshot(snapshot_id: int, conn: ConnDep, scope: ScopeDep) -> Response:
    """The JPEG of a video AI alarm; "not found" outside the jurisdiction."""
    row = await get_snapshot(conn, scope, snapshot_id)
    return Response(
        bytes(row["bytes"]),
        media_type=row["content_type"],
        headers={"Cache-Control": "private, max-age=3600", "ETag": f'"{row["sha256"]}"'},
    )


@router.get(
    "/api/v1/video/{token}",
    name="video_stream",
    summary="Open a signed video URL / 打开签名视频地址",
    response_class=Response,
    responses={
        200: {"description": "the playlist (rewritten) or the stream, proxied"},
        307: {"description": "to the video service, when its link carries no credentials"},
        403: {"description": "tampered with or expired"},
    },
)
async def video_stream(
    token: str, request: Request, store: StoreDep, settings: SettingsDep, client: VideoClientDep
) -> Response:
    """Redirect to the video service, or proxy it when its link carries credentials."""
    secret = settings.secret_key.get_secret_value()
    now = datetime.now(UTC)
    grant = open_grant(secret, token, now)
    # the signature is the authorization: it was issued to a user whose jurisdiction covers it
    camera = await store.get(thing_id("camera", None, grant.camera), Scope.admin())
    url = upstream_url(camera.attributes, grant)
    if not has_credentials(url):
        return RedirectResponse(url, status_code=307, headers=NO_STORE)
    upstream = await open_upstream(client, url)
    if not is_playlist(upstream):
        return StreamingResponse(
            upstream.aiter_bytes(),
            media_type=upstream.headers.get("content-type", "application/octet-stream"),
            headers=NO_STORE,
            background=BackgroundTask(upstream.aclose),
        )
    try:
        text = await read_playlist(upstream)
    except (ValueError, UnicodeError) as err:
        raise VideoUpstreamError(f"the video service sent a broken playlist: {err}") from err
    finally:
        await upstream.aclose()

    def sign(entry: str) -> str:
        # relative to this URL, so it works behind a reverse proxy's path prefix too
        entry_token, _ = issue_grant(
            secret,
            grant.camera,
            grant.kind,
            now,
            start=grant.start,
            end=grant.end,
            ref=strip_credentials(entry),
        )
        return entry_token

    body = rewrite_playlist(text, str(upstream.url), sign)
    return Response(body, media_type=PLAYLIST_TYPE, headers=NO_STORE)


@router.get(
    "/api/v1/alarms/{alarm_id}/cameras",
    summary="Cameras that look at an alarm / 报警关联视频",
    response_model=AlarmCameras,
)
async def alarm_cameras(
    alarm_id: int, request: Request, conn: ConnDep, scope: ScopeDep, settings: SettingsDep
) -> AlarmCameras:
    """The cameras on the alarm's dust-removal system, each with a signed playback link from 2
    minutes before the alarm to 5 minutes after it was last seen; and the alarm's snapshots."""
    now = datetime.now(UTC)
    found = await cameras_for_alarm(conn, scope, alarm_id, now)
    secret = settings.secret_key.get_secret_value()
    cameras = []
    gb_of: dict[str, str] = {}
    for c in found.cameras:
        gb_of[c["thing_id"]] = c["gb28181_id"]
        link = (
            _signed(request, secret, c["gb28181_id"], "playback", now, found.start, found.end)
            if c["has_playback"]
            else None
        )
        cameras.append(
            AlarmCamera(
                gb28181_id=c["gb28181_id"],
                name=c["name"],
                system_code=c["system_code"],
                **c["connectivity"],
                playback=link,
            )
        )
    snapshots = [
        Snapshot(
            id=s["id"],
            gb28181_id=gb_of.get(s["thing_id"], s["thing_id"].rpartition("-")[2]),
            alarm_kind=s["alarm_kind"],
            taken_at=s["taken_at"],
            size=s["size"],
            sha256=s["sha256"],
            url=str(request.url_for("snapshot", snapshot_id=s["id"])),
        )
        for s in found.snapshots
    ]
    return AlarmCameras(
        alarm_id=alarm_id,
        same_system=found.same_system,
        start=found.start,
        end=found.end,
        cameras=cameras,
        snapshots=snapshots,
    )
