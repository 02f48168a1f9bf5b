"""Camera links probed against a real local stream: ffmpeg's HLS test pattern served on loopback.

ffmpeg (Debian: ``apt-get install -y --no-install-recommends ffmpeg``) writes a live HLS test
pattern into a temporary directory; Python's HTTP server serves it on a free loopback port. A link
that does not answer (server stopped, refused, 404, garbage, silence) makes the camera offline
with a readable reason, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
import pytest_asyncio

from connectors.video import (
    VideoTokenError,
    issue_grant,
    open_grant,
    probe_cameras,
    probe_link,
    rewrite_playlist,
    strip_credentials,
    video_client,
    with_credentials,
)
from tests.api.demo_data import OWN
from tests.helpers import free_port

FFMPEG_HINT = (
    "ffmpeg is not installed; the video tests need it (a real HLS stream): "
    "apt-get install -y --no-install-recommends ffmpeg"
)
SECRET = "video-test-secret"


def ffmpeg() -> str:
    """The ffmpeg binary; the test fails (not skips) with how to install it when missing."""
    binary = shutil.which("ffmpeg")
    if binary is None:
        pytest.fail(FFMPEG_HINT)
    return binary


class HlsStream:
    """``ffmpeg`` writing a live HLS test pattern (1 s segments, a window of 5) into a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start ffmpeg and wait until the playlist lists a segment."""
        self.proc = subprocess.Popen(
            [
                ffmpeg(),
                "-nostdin",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=10",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-f",
                "hls",
                "-hls_time",
                "1",
                "-hls_list_size",
                "5",
                "-hls_flags",
                "delete_segments",
                str(self.directory / "live.m3u8"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        playlist = self.directory / "live.m3u8"
        while time.monotonic() < deadline:
            if playlist.exists() and ".ts" in playlist.read_text(errors="replace"):
                return
            assert self.proc.poll() is None, f"ffmpeg stopped: {self.proc.stderr!r}"
            time.sleep(0.2)
        raise AssertionError("ffmpeg wrote no HLS segment within 30 s")

    def stop(self) -> None:
        """Stop ffmpeg."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            if self.proc.stderr is not None:
                self.proc.stderr.close()


class _Handler(SimpleHTTPRequestHandler):
    token: str | None = None

    def do_GET(self) -> None:
        given = parse_qs(urlsplit(self.path).query).get("token", [None])[0]
        if self.token is not None and given != self.token:
            self.send_error(403, "token required")
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


class LoopbackServer:
    """Python's HTTP server on a free loopback port, serving a directory; optionally a token."""

    def __init__(self, directory: Path, token: str | None = None) -> None:
        self.directory = directory
        self.token = token
        self.port = free_port()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve in a thread."""
        handler = type("Handler", (_Handler,), {"token": self.token})
        self.server = ThreadingHTTPServer(
            ("127.0.0.1", self.port), partial(handler, directory=str(self.directory))
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving and close the port (a probe now meets a refused connection)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture(scope="module")
def hls_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory ffmpeg keeps writing a live HLS test pattern into."""
    stream = HlsStream(tmp_path_factory.mktemp("hls"))
    stream.start()
    yield stream.directory
    stream.stop()


@pytest.fixture
def served(hls_dir: Path) -> Iterator[LoopbackServer]:
    """The stream served on loopback (each test may stop its own server)."""
    server = LoopbackServer(hls_dir)
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def conn(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection to the seeded database."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as c:
        yield c


async def register_camera(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    gb28181_id: str,
    live: dict[str, str],
    playback: str | None = None,
    credit_code: str = OWN.record.credit_code,
    system_code: str | None = None,
) -> str:
    """Register a camera through the registry API; returns its thingId."""
    system = system_code or OWN.cameras[0].system_code
    body: dict[str, Any] = {
        "gb28181_id": gb28181_id,
        "name": f"测试摄像机 {gb28181_id[-4:]}",
        "system_code": system,
        "live": live,
    }
    if playback is not None:
        body["playback_template"] = playback
    created = await api.post(
        f"/api/v1/enterprises/{credit_code}/cameras", json=body, headers=headers
    )
    assert created.status_code == 201, created.text
    return f"dusttwin:camera-{gb28181_id}"


async def _connectivity(conn: psycopg.AsyncConnection[Any], thing_id: str) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT features #> '{connectivity,properties}' FROM things WHERE thing_id = %s",
        (thing_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    value: dict[str, Any] = row[0]
    return value


async def test_a_live_camera_is_online_and_offline_once_its_server_stops(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    conn: psycopg.AsyncConnection[Any],
    served: LoopbackServer,
) -> None:
    camera = await register_camera(
        api,
        tokens["admin"],
        "31011300001327700001",
        {"hls": f"{served.base}/live.m3u8"},
        f"{served.base}/live.m3u8?start={{start}}&end={{end}}",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    first = await probe_cameras(conn, now, only=[camera])
    up = await _connectivity(conn, camera)
    again = await probe_cameras(conn, now + timedelta(minutes=1), only=[camera])
    served.stop()
    gone = await probe_cameras(conn, now + timedelta(minutes=2), only=[camera])
    down = await _connectivity(conn, camera)
    cur = await conn.execute(
        "SELECT at, online FROM connectivity_events WHERE thing_id = %s ORDER BY at", (camera,)
    )
    events = await cur.fetchall()
    assert (first.probed, first.online, first.went_online) == (1, 1, 1)
    assert up["online"] is True
    assert up["error"] is None
    assert up["links"] == {"hls": None}
    assert again.went_online == 0  # no change, nothing recorded
    assert (gone.offline, gone.went_offline) == (1, 1)
    assert down["online"] is False
    assert down["error"] == "hls: connection refused or host unreachable"
    assert datetime.fromisoformat(down["last_check"]) == now + timedelta(minutes=2)
    assert datetime.fromisoformat(down["changed_at"]) == now + timedelta(minutes=2)
    assert events == [(now, True), (now + timedelta(minutes=2), False)]


async def _serve_once(answer: bytes | None) -> tuple[asyncio.Server, int]:
    """A TCP peer that answers every connection with ``answer`` (None: says nothing)."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        if answer is None:
            await asyncio.sleep(5)
        else:
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_links_that_do_not_answer_are_reasons_not_exceptions(
    served: LoopbackServer, tmp_path: Path
) -> None:
    (tmp_path / "page.m3u8").write_text("<html>not a playlist</html>")
    (tmp_path / "empty.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n")
    other = LoopbackServer(tmp_path)
    other.start()
    garbage, garbage_port = await _serve_once(b"\x00\x01 hello, not a protocol\r\n\r\n")
    silent, silent_port = await _serve_once(None)
    refused = f"127.0.0.1:{free_port()}"
    cases: dict[str, tuple[Any, str]] = {
        "hls-ok": ("hls", f"{served.base}/live.m3u8"),
        "flv-ok": ("flv", f"{served.base}/live.m3u8"),
        "hls-refused": ("hls", f"http://{refused}/live.m3u8"),
        "hls-404": ("hls", f"{served.base}/missing.m3u8"),
        "hls-not-playlist": ("hls", f"{other.base}/page.m3u8"),
        "hls-no-segments": ("hls", f"{other.base}/empty.m3u8"),
        "hls-garbage": ("hls", f"http://127.0.0.1:{garbage_port}/live.m3u8"),
        "hls-silent": ("hls", f"http://127.0.0.1:{silent_port}/live.m3u8"),
        "flv-404": ("flv", f"{served.base}/live.flv"),
        "webrtc-refused": ("webrtc", f"http://{refused}/index/api/whep"),
        "rtsp-refused": ("rtsp", f"rtsp://{refused}/live"),
        "rtsp-garbage": ("rtsp", f"rtsp://127.0.0.1:{garbage_port}/live"),
        "rtsp-silent": ("rtsp", f"rtsp://127.0.0.1:{silent_port}/live"),
        "rtsp-http-server": ("rtsp", f"rtsp://127.0.0.1:{served.port}/live"),
    }
    try:
        async with video_client(0.5, 0.5) as client:
            results = await asyncio.gather(
                *(probe_link(client, kind, url, wait_s=0.5) for kind, url in cases.values())
            )
    finally:
        other.stop()
        garbage.close()
        silent.close()
    found = dict(zip(cases, results, strict=True))
    assert found == {
        "hls-ok": None,
        "flv-ok": None,
        "hls-refused": "connection refused or host unreachable",
        "hls-404": "playlist: HTTP 404",
        "hls-not-playlist": "playlist: not an HLS playlist (no #EXTM3U)",
        "hls-no-segments": "the playlist lists no segments",
        "hls-garbage": "the answer is not valid HTTP",
        "hls-silent": "no answer within 0.5 s",
        "flv-404": "HTTP 404",
        "webrtc-refused": "connection refused or host unreachable",
        "rtsp-refused": "connection refused or host unreachable",
        "rtsp-garbage": "the answer is not RTSP",
        "rtsp-silent": "no answer within 0.5 s",
        "rtsp-http-server": "the answer is not RTSP",
    }


async def test_a_camera_without_answering_links_is_offline_and_credentials_stay_out_of_logs(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    conn: psycopg.AsyncConnection[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = f"127.0.0.1:{free_port()}"
    camera = await register_camera(
        api,
        tokens["admin"],
        "31011300001327700002",
        {
            "hls": f"http://admin:hunter2@{refused}/live.m3u8?token=s3cret",
            "rtsp": f"rtsp://admin:hunter2@{refused}/Streaming/Channels/101",
        },
    )
    caplog.set_level(logging.DEBUG)
    report = await probe_cameras(conn, datetime.now(UTC), only=[camera], wait_s=1)
    state = await _connectivity(conn, camera)
    assert (report.probed, report.offline, report.went_offline) == (1, 1, 1)
    assert state["online"] is False
    assert state["error"] == (
        "hls: connection refused or host unreachable; rtsp: connection refused or host unreachable"
    )
    assert "offline" in caplog.text
    assert "hunter2" not in caplog.text + str(state)
    assert "s3cret" not in caplog.text + str(state)


def test_credentials_are_stripped_and_given_back_only_on_their_origin() -> None:
    link = "http://admin:pw@video.local:8080/live/a/index.m3u8?token=abc&channel=1"
    stripped = strip_credentials(link)
    segment = strip_credentials("http://video.local:8080/live/a/seg-7.ts?n=7")
    assert stripped == "http://video.local:8080/live/a/index.m3u8?channel=1"
    assert with_credentials(segment, link) == (
        "http://admin:pw@video.local:8080/live/a/seg-7.ts?n=7&token=abc"
    )
    assert with_credentials("http://cdn.example/seg-7.ts", link) == "http://cdn.example/seg-7.ts"


def test_playlists_are_rewritten_entry_by_entry() -> None:
    playlist = (
        '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1.0,\nseg-1.ts\n#EXTINF:1.0,\n'
        "/other/seg-2.ts\n"
    )
    out = rewrite_playlist(playlist, "http://v.local/live/a/index.m3u8", lambda u: f"<{u}>")
    assert out == (
        '#EXTM3U\n#EXT-X-MAP:URI="<http://v.local/live/a/init.mp4>"\n#EXTINF:1.0,\n'
        "<http://v.local/live/a/seg-1.ts>\n#EXTINF:1.0,\n<http://v.local/other/seg-2.ts>\n"
    )


def test_signed_grants_open_until_they_expire_and_refuse_tampering() -> None:
    now = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    start, end = now - timedelta(minutes=2), now + timedelta(minutes=5)
    token, grant = issue_grant(
        SECRET, "31011300001327700001", "playback", now, start=start, end=end
    )
    opened = open_grant(SECRET, token, now + timedelta(minutes=4))
    body, _, mac = token.partition(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    with pytest.raises(VideoTokenError, match="expired"):
        open_grant(SECRET, token, now + timedelta(minutes=5))
    with pytest.raises(VideoTokenError, match="not valid"):
        open_grant(SECRET, tampered, now)
    with pytest.raises(VideoTokenError, match="not valid"):
        open_grant("another-secret", token, now)
    assert opened == grant
    assert (opened.start, opened.end) == (start, end)
