"""Video (视频, domain.md §7): cameras' links probed, and handed to browsers as signed URLs.

A camera twin holds the links its video service gave it (``attributes.live``: HLS, HTTP-FLV,
WebRTC signalling, RTSP; ``attributes.playback_template`` with ``{start}`` and ``{end}``). Two
things happen to them here:

- **Probing** (``probe_cameras``, every minute from ``connectors.video_jobs``): each live link is
  asked whether it answers (HLS: the playlist and one segment; FLV and WebRTC: an HTTP request
  answering 2xx; RTSP: OPTIONS then DESCRIBE). A link that does not answer is state, not an
  exception: the camera's ``connectivity`` feature says ``online`` false with the reason, and the
  transition goes to ``connectivity_events`` like any twin's.
- **Signed URLs**: a browser never receives a raw link, which may carry the video service's
  credentials (``user:pass@`` or a token in the query). It gets ``/api/v1/video/{token}``, an
  HMAC-signed grant (camera, link kind, time range, expiry) that the platform opens: a link without
  credentials is a redirect, a credentialed one is proxied (HLS playlists rewritten so that each
  segment is itself a signed grant).

Credentials are never logged and never put into an error message: errors name the link kind and
the host, never the URL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from twins.errors import TwinsError
from twins.links import has_credentials, is_credential_param, strip_credentials

__all__ = [
    "BROWSER_KINDS",
    "LIVE_KINDS",
    "PROBE_TIMEOUT_S",
    "SIGNED_URL_TTL",
    "CameraProbe",
    "LinkKind",
    "ProbeReport",
    "VideoError",
    "VideoGrant",
    "VideoLinkNotFoundError",
    "VideoRangeError",
    "VideoTokenError",
    "VideoUpstreamError",
    "check_playback_range",
    "has_credentials",
    "is_playlist",
    "issue_grant",
    "open_grant",
    "open_upstream",
    "pick_live_kind",
    "probe_camera",
    "probe_cameras",
    "probe_link",
    "read_playlist",
    "require_playback",
    "rewrite_playlist",
    "strip_credentials",
    "upstream_url",
    "video_client",
    "with_credentials",
]

log = logging.getLogger(__name__)

LinkKind = Literal["hls", "flv", "webrtc", "rtsp"]
LIVE_KINDS: Final[tuple[LinkKind, ...]] = ("hls", "flv", "webrtc", "rtsp")
# what a browser can play, in the order a player prefers them; RTSP never reaches a browser
BROWSER_KINDS: Final[tuple[LinkKind, ...]] = ("hls", "flv", "webrtc")
PROBE_TIMEOUT_S: Final = 5.0  # [DEFAULT] per request of a probe
PROBE_CONCURRENCY: Final = 20  # cameras probed at once
PROBE_BATCH: Final = 500  # cameras written per statement
SIGNED_URL_TTL: Final = timedelta(minutes=5)  # [DEFAULT] how long a signed video URL works
MAX_PLAYBACK_SPAN: Final = timedelta(hours=24)  # [DEFAULT] the longest playback asked at once
MAX_PLAYLIST_BYTES: Final = 1024 * 1024
_PURPOSE: Final = b"dusttwin/video-link/v1"  # the signing key is the secret key's, for this use


# ---------------------------------------------------------------- errors


class VideoError(TwinsError):
    """Base of the video errors (a camera is a twin; the API translates this tree)."""


class VideoLinkNotFoundError(VideoError):
    """The camera has no link of the kind asked for (or no playback template)."""


class VideoTokenError(VideoError):
    """A signed video URL that is malformed, tampered with or expired."""


class VideoRangeError(VideoError):
    """A playback time range that is empty, too long or without a time zone."""


class NotRtspError(ValueError):
    """An RTSP server's answer that is not RTSP (a probe's reason, never leaves this module)."""


class VideoUpstreamError(VideoError):
    """The video service did not answer the proxied request (says how, never the URL)."""


# ---------------------------------------------------------------- links and their credentials


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def with_credentials(url: str, link: str) -> str:
    """``url`` with the credentials of ``link`` added, when both are on the same origin.

    A playlist names its segments relative to itself, without the token that opened it; the
    video service expects the same credentials on them. Another origin (a CDN) gets none.
    """
    if _origin(url) != _origin(link):
        return url
    source = urlsplit(link)
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if source.username is not None:
        userinfo = source.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    present = {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    added = [
        (k, v)
        for k, v in parse_qsl(source.query, keep_blank_values=True)
        if is_credential_param(k) and k not in present
    ]
    query = "&".join(q for q in (parts.query, urlencode(added)) if q)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _where(url: str) -> str:
    """Host and port of a link, for messages: never its user info, path or query."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "?"
    return f"{host}:{port}" if port else host


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_playback_range(start: datetime, end: datetime) -> None:
    """A playback range must have time zones, start before it ends and last at most a day."""
    if start.tzinfo is None or end.tzinfo is None:
        raise VideoRangeError(
            "from and to need a time zone, e.g. 2024-05-01T08:00:00+08:00 / 时间需带时区"
        )
    if end <= start:
        raise VideoRangeError("to must be after from / 结束时间须晚于开始时间")
    if end - start > MAX_PLAYBACK_SPAN:
        raise VideoRangeError(
            f"a playback lasts at most {MAX_PLAYBACK_SPAN} / 回放时长不超过 24 小时"
        )


def require_playback(attributes: Mapping[str, Any]) -> None:
    """VideoLinkNotFoundError when the camera has no playback template."""
    if not attributes.get("playback_template"):
        raise VideoLinkNotFoundError("the camera has no playback link / 无回放地址")


def pick_live_kind(attributes: Mapping[str, Any], wanted: LinkKind | None = None) -> LinkKind:
    """The live link kind to hand a browser: the one asked for, else the first it can play."""
    live = attributes.get("live") or {}
    if wanted is not None:
        if wanted not in BROWSER_KINDS or not live.get(wanted):
            raise VideoLinkNotFoundError(
                f"the camera has no {wanted} live link a browser can play / 无此类实时视频地址"
            )
        return wanted
    for kind in BROWSER_KINDS:
        if live.get(kind):
            return kind
    raise VideoLinkNotFoundError(
        "the camera has no live link a browser can play (RTSP is only probed)"
        " / 无可播放的实时视频地址"
    )


# ---------------------------------------------------------------- signed grants


@dataclass(frozen=True)
class VideoGrant:
    """What a signed video URL lets its holder open until it expires."""

    camera: str  # GB/T 28181 id
    kind: str  # hls | flv | webrtc | playback
    expires: datetime
    start: datetime | None = None  # playback range
    end: datetime | None = None
    ref: str | None = None  # an entry of a proxied playlist, without credentials


def _key(secret: str) -> bytes:
    if not secret:
        raise VideoTokenError("no secret key configured (DUSTTWIN_SECRET_KEY)")
    return hmac.new(secret.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_grant(
    secret: str,
    camera: str,
    kind: str,
    now: datetime,
    *,
    ttl: timedelta = SIGNED_URL_TTL,
    start: datetime | None = None,
    end: datetime | None = None,
    ref: str | None = None,
) -> tuple[str, VideoGrant]:
    """A signed token for a camera's link (range, playlist entry); returns it and its grant."""
    grant = VideoGrant(camera, kind, now + ttl, start, end, ref)
    payload: dict[str, Any] = {"c": camera, "k": kind, "x": int(grant.expires.timestamp())}
    if start is not None and end is not None:
        payload["s"], payload["e"] = _utc(start), _utc(end)
    if ref is not None:
        payload["r"] = ref
    body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    mac = _b64(hmac.new(_key(secret), body.encode("ascii"), hashlib.sha256).digest())
    return f"{body}.{mac}", grant


def open_grant(secret: str, token: str, now: datetime) -> VideoGrant:
    """The grant a token carries; VideoTokenError when forged, tampered with or expired."""
    body, _, mac = token.partition(".")
    expected = _b64(
        hmac.new(_key(secret), body.encode("ascii", "replace"), hashlib.sha256).digest()
    )
    if not mac or not hmac.compare_digest(mac.encode("ascii", "replace"), expected.encode("ascii")):
        raise VideoTokenError("the video link is not valid; ask for a new one / 视频链接无效")
    try:
        payload = json.loads(_unb64(body))
        expires = datetime.fromtimestamp(int(payload["x"]), UTC)
        start = datetime.fromisoformat(payload["s"]) if "s" in payload else None
        end = datetime.fromisoformat(payload["e"]) if "e" in payload else None
        grant = VideoGrant(
            str(payload["c"]), str(payload["k"]), expires, start, end, payload.get("r")
        )
    except (binascii.Error, ValueError, KeyError, TypeError) as err:
        raise VideoTokenError("the video link is not valid / 视频链接无效") from err
    if now >= grant.expires:
        raise VideoTokenError("the video link has expired; ask for a new one / 视频链接已过期")
    return grant


def upstream_url(attributes: Mapping[str, Any], grant: VideoGrant) -> str:
    """The raw (possibly credentialed) URL a grant stands for, from the camera's attributes now."""
    if grant.kind == "playback":
        template = attributes.get("playback_template")
        if not template or grant.start is None or grant.end is None:
            raise VideoLinkNotFoundError("the camera has no playback link / 无回放地址")
        link = str(template).replace("{start}", _utc(grant.start)).replace("{end}", _utc(grant.end))
    else:
        live = (attributes.get("live") or {}).get(grant.kind)
        if not live:
            raise VideoLinkNotFoundError(f"the camera has no {grant.kind} link any more")
        link = str(live)
    return link if grant.ref is None else with_credentials(grant.ref, link)


# ---------------------------------------------------------------- HLS playlists


def _uris(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


_URI_ATTR: Final = re.compile(r'URI="([^"]*)"')


def rewrite_playlist(text: str, base_url: str, sign: Callable[[str], str]) -> str:
    """An HLS playlist whose every URI (segments, variants, keys, maps) is ``sign(absolute)``."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append(sign(urljoin(base_url, stripped)))
        elif stripped.startswith("#") and 'URI="' in stripped:
            out.append(
                _URI_ATTR.sub(lambda m: f'URI="{sign(urljoin(base_url, m.group(1)))}"', stripped)
            )
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def is_playlist(response: httpx.Response) -> bool:
    """Whether an answer of the video service is an HLS playlist (by its type or its name)."""
    kind = response.headers.get("content-type", "").lower()
    return "mpegurl" in kind or urlsplit(str(response.url)).path.lower().endswith(".m3u8")


async def read_playlist(response: httpx.Response) -> str:
    """The text of a streamed playlist answer, at most 1 MiB; ValueError when it is not one."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > MAX_PLAYLIST_BYTES:
            raise ValueError("the playlist is larger than 1 MiB")
    text = data.decode("utf-8").lstrip("\ufeff")
    if not text.startswith("#EXTM3U"):
        raise ValueError("not an HLS playlist (no #EXTM3U)")
    return text


# ---------------------------------------------------------------- proxying


def video_client(wait_s: float = PROBE_TIMEOUT_S, read_s: float = 30.0) -> httpx.AsyncClient:
    """The HTTP client for the video service (probes and the proxy)."""
    # The video service sits on the platform's own network: a proxy set for the internet
    # (HTTP_PROXY) must not come in between.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(wait_s, read=read_s),
        follow_redirects=True,
        trust_env=False,
        headers={"User-Agent": "dusttwin-video/1"},
    )


async def open_upstream(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """A streamed GET to the video service; VideoUpstreamError (without the URL) when it fails."""
    try:
        response = await client.send(client.build_request("GET", url), stream=True)
    except (httpx.HTTPError, OSError, ValueError) as err:
        raise VideoUpstreamError(
            f"the video service at {_where(url)} did not answer: {_failure(err)}"
        ) from err
    if not response.is_success:
        await response.aclose()
        raise VideoUpstreamError(
            f"the video service at {_where(url)} answered HTTP {response.status_code}"
        )
    return response


# ---------------------------------------------------------------- probing


# why a request failed, by the exception's class, first match wins
_FAILURES: Final[tuple[tuple[tuple[type[BaseException], ...], str], ...]] = (
    ((httpx.ConnectError, ConnectionRefusedError), "connection refused or host unreachable"),
    ((httpx.RemoteProtocolError, httpx.DecodingError), "the answer is not valid HTTP"),
    ((NotRtspError, EOFError), "the answer is not RTSP"),
    ((httpx.UnsupportedProtocol, httpx.InvalidURL, ValueError), "not a valid link"),
    ((ssl.SSLError,), "TLS handshake failed"),
)


def _failure(err: BaseException, wait_s: float = PROBE_TIMEOUT_S) -> str:
    """A readable reason for a failed request; never ``str(err)``, which may hold the URL."""
    if isinstance(err, httpx.TimeoutException | TimeoutError):
        return f"no answer within {wait_s:g} s"
    reason = next((text for kinds, text in _FAILURES if isinstance(err, kinds)), None)
    if reason is not None:
        return reason
    if isinstance(err, OSError):
        return f"network error ({err.strerror or type(err).__name__})"
    return f"request failed ({type(err).__name__})"


async def probe_link(
    client: httpx.AsyncClient, kind: LinkKind, url: str, *, wait_s: float = PROBE_TIMEOUT_S
) -> str | None:
    """Whether one link answers: None when it does, else the reason (never raises for the link)."""
    try:
        # a whole probe (playlist, variant, segment; or two RTSP requests) within 4 timeouts
        async with asyncio.timeout(wait_s * 4):
            if kind == "hls":
                return await _probe_hls(client, url)
            if kind == "rtsp":
                return await _probe_rtsp(url, wait_s)
            # WebRTC signalling (WHEP) answers OPTIONS for every client; FLV streams on a GET
            return await _probe_http(client, "OPTIONS" if kind == "webrtc" else "GET", url)
    except (
        httpx.HTTPError,
        httpx.InvalidURL,
        OSError,
        EOFError,
        ValueError,
        TimeoutError,
        UnicodeError,
    ) as err:
        return _failure(err, wait_s)


async def _probe_http(client: httpx.AsyncClient, method: str, url: str) -> str | None:
    async with client.stream(method, url) as response:
        if not response.is_success:
            return f"HTTP {response.status_code}"
    return None


async def _probe_hls(client: httpx.AsyncClient, url: str) -> str | None:
    playlist_url = url
    for _depth in range(2):  # a master playlist, then the first of its variants
        async with client.stream("GET", playlist_url) as response:
            if not response.is_success:
                return f"playlist: HTTP {response.status_code}"
            try:
                text = await read_playlist(response)
            except UnicodeError:
                return "playlist: not text"
            except ValueError as err:
                return f"playlist: {err}"
            base = str(response.url)
        uris = _uris(text)
        if "#EXT-X-STREAM-INF" not in text or not uris:
            if not uris:
                return "the playlist lists no segments"
            # the newest segment: the oldest may be deleted already (a sliding live window)
            return await _probe_segment(client, with_credentials(urljoin(base, uris[-1]), url))
        playlist_url = with_credentials(urljoin(base, uris[0]), url)
    return "the master playlist names only other master playlists"


async def _probe_segment(client: httpx.AsyncClient, segment: str) -> str | None:
    async with client.stream("GET", segment) as response:
        if not response.is_success:
            return f"segment: HTTP {response.status_code}"
        async for chunk in response.aiter_bytes():
            if chunk:
                return None  # one chunk proves it is served; the rest need not be read
    return "segment: empty"


async def _probe_rtsp(url: str, wait_s: float) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
        return "not a valid link"
    port = parts.port or (322 if parts.scheme == "rtsps" else 554)
    context = ssl.create_default_context() if parts.scheme == "rtsps" else None
    async with asyncio.timeout(wait_s):
        reader, writer = await asyncio.open_connection(parts.hostname, port, ssl=context)
    try:
        clean = strip_credentials(url)
        status, _headers = await _rtsp(reader, writer, wait_s, "OPTIONS", clean, 1, {})
        if not 200 <= status < 300:
            return f"RTSP OPTIONS answered {status}"
        describe = {"Accept": "application/sdp"}
        status, headers = await _rtsp(reader, writer, wait_s, "DESCRIBE", clean, 2, describe)
        if status == 401 and parts.username is not None:
            auth = _rtsp_auth(headers.get("www-authenticate", ""), parts, clean)
            if auth is None:
                return "RTSP asks for an authentication scheme the platform does not speak"
            describe["Authorization"] = auth
            status, _headers = await _rtsp(reader, writer, wait_s, "DESCRIBE", clean, 3, describe)
        if status == 401:
            return "RTSP refused the credentials (401)"
        if not 200 <= status < 300:
            return f"RTSP DESCRIBE answered {status}"
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # the server closed first: nothing left to release
            await writer.wait_closed()


async def _rtsp(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    wait_s: float,
    method: str,
    url: str,
    cseq: int,
    headers: Mapping[str, str],
) -> tuple[int, dict[str, str]]:
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", "User-Agent: dusttwin-video/1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    await writer.drain()
    async with asyncio.timeout(wait_s):
        status_line = (await reader.readline()).decode("latin-1").strip()
        match = re.fullmatch(r"RTSP/\d\.\d (\d{3})(?: .*)?", status_line)
        if match is None:
            raise NotRtspError(status_line[:40])
        answer: dict[str, str] = {}
        for _ in range(100):
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        length = int(answer.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(min(length, 65536))
    return int(match.group(1)), answer


def _rtsp_auth(challenge: str, parts: Any, uri: str) -> str | None:
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    scheme, _, params = challenge.partition(" ")
    if scheme.lower() == "basic":
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    if scheme.lower() != "digest":
        return None
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', params))
    realm, nonce = fields.get("realm", ""), fields.get("nonce", "")

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    # RFC 2069 digest, what IP cameras answer RTSP with (no qop)
    response = md5(f"{md5(f'{user}:{realm}:{password}')}:{nonce}:{md5(f'DESCRIBE:{uri}')}")
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}",'
        f' response="{response}"'
    )


@dataclass(frozen=True)
class CameraProbe:
    """What one probe of a camera found: online when any live link answers."""

    thing_id: str
    online: bool
    error: str | None  # why it is offline; None when online
    links: dict[str, str | None] = field(default_factory=dict)  # kind -> None (answers) or why not


async def probe_camera(
    client: httpx.AsyncClient,
    thing_id: str,
    live: Mapping[str, Any],
    *,
    wait_s: float = PROBE_TIMEOUT_S,
) -> CameraProbe:
    """Probe every live link of one camera at once."""
    kinds = [k for k in LIVE_KINDS if live.get(k)]
    if not kinds:
        return CameraProbe(thing_id, False, "no live link registered / 未登记实时视频地址")
    results = await asyncio.gather(
        *(probe_link(client, k, str(live[k]), wait_s=wait_s) for k in kinds)
    )
    links: dict[str, str | None] = dict(zip(kinds, results, strict=True))
    online = any(r is None for r in results)
    error = None if online else "; ".join(f"{k}: {r}" for k, r in links.items())
    return CameraProbe(thing_id, online, error, links)


@dataclass(frozen=True)
class ProbeReport:
    """What one probing pass found."""

    probed: int = 0
    online: int = 0
    offline: int = 0
    went_online: int = 0
    went_offline: int = 0

    def as_dict(self) -> dict[str, int]:
        """The report as JSON (the job's result)."""
        return asdict(self)


_WRITE: Final = """
WITH probed AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
        AS p(thing_id text, online boolean, error text, links jsonb)
), old AS (
    SELECT t.thing_id, (t.features #>> '{connectivity,properties,online}')::boolean AS was,
           t.features #> '{connectivity,properties,changed_at}' AS changed_at
    FROM things t JOIN probed p USING (thing_id)
    WHERE t.kind = 'camera' AND t.deleted_at IS NULL
    ORDER BY t.thing_id
    FOR UPDATE OF t
), updated AS (
    UPDATE things t
    SET features = jsonb_set(t.features, '{connectivity}', jsonb_build_object('properties',
            coalesce(t.features #> '{connectivity,properties}', '{}'::jsonb)
            || jsonb_build_object(
                'online', p.online, 'last_check', %(now)s::timestamptz, 'error', p.error,
                'links', p.links,
                'changed_at', CASE WHEN o.was IS DISTINCT FROM p.online
                                   THEN to_jsonb(%(now)s::timestamptz)
                                   ELSE coalesce(o.changed_at, 'null'::jsonb) END))),
        revision = t.revision + 1, modified_at = now()
    FROM probed p JOIN old o USING (thing_id)
    WHERE t.thing_id = p.thing_id
), recorded AS (
    INSERT INTO connectivity_events (thing_id, at, online)
    SELECT o.thing_id, %(now)s, p.online FROM old o JOIN probed p USING (thing_id)
    WHERE o.was IS DISTINCT FROM p.online
    ON CONFLICT DO NOTHING
    RETURNING thing_id, online
)
SELECT thing_id, online FROM recorded ORDER BY thing_id
"""


async def probe_cameras(
    conn: AsyncConnection[Any],
    now: datetime,
    *,
    only: Sequence[str] | None = None,
    wait_s: float = PROBE_TIMEOUT_S,
    concurrency: int = PROBE_CONCURRENCY,
    batch: int = PROBE_BATCH,
) -> ProbeReport:
    """Probe every camera's live links and store each one's ``connectivity``, batch by batch.

    ``conn`` must be in autocommit mode: probes take seconds, and no transaction may stay open
    meanwhile. Each batch is written in one statement, transitions recorded with it.
    """
    if not conn.autocommit:
        raise ValueError("probe_cameras needs a connection in autocommit mode")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT thing_id, coalesce(attributes -> 'live',"
            " '{}'::jsonb) AS live FROM things WHERE kind = 'camera' AND deleted_at IS NULL"
            " AND (%(only)s::text[] IS NULL OR thing_id = ANY(%(only)s)) ORDER BY thing_id",
            {"only": list(only) if only is not None else None},
        )
        cameras = await cur.fetchall()
    totals = {"probed": 0, "online": 0, "offline": 0, "went_online": 0, "went_offline": 0}
    gate = asyncio.Semaphore(concurrency)

    async def one(camera: dict[str, Any]) -> CameraProbe:
        async with gate:
            return await probe_camera(client, camera["thing_id"], camera["live"], wait_s=wait_s)

    async with video_client(wait_s, wait_s) as client:
        for at in range(0, len(cameras), batch):
            chunk = cameras[at : at + batch]
            probes = await asyncio.gather(*(one(c) for c in chunk))
            rows = [
                {"thing_id": p.thing_id, "online": p.online, "error": p.error, "links": p.links}
                for p in probes
            ]
            async with conn.transaction():
                cur2 = await conn.execute(_WRITE, {"rows": json.dumps(rows), "now": now})
                changes = await cur2.fetchall()
            by_id = {p.thing_id: p for p in probes}
            for thing_id, online in changes:
                totals["went_online" if online else "went_offline"] += 1
                # once per transition: on failure with its reason, and on recovery
                if online:
                    log.info("video: camera %s is online", thing_id)
                else:
                    log.info("video: camera %s is offline: %s", thing_id, by_id[thing_id].error)
            totals["probed"] += len(probes)
            totals["online"] += sum(1 for p in probes if p.online)
            totals["offline"] += sum(1 for p in probes if not p.online)
    return ProbeReport(**totals)
