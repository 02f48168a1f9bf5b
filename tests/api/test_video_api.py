"""Signed video URLs, the video proxy, alarm cameras and snapshots, end to end on a real stream."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
import pytest_asyncio

from connectors.video import issue_grant
from dusttwin.settings import Settings
from risk.video_alarms import (
    MAX_SNAPSHOT_BYTES,
    SnapshotRefusedError,
    UnknownCameraError,
    record_video_alarm,
)
from tests.api.demo_data import JIADING_ONE, OWN
from tests.connectors.test_video import (
    LoopbackServer,
    conn,  # noqa: F401 — a fixture used here
    ffmpeg,
    hls_dir,  # noqa: F401 — a fixture used here
    register_camera,
    served,  # noqa: F401 — a fixture used here
)

GB_PLAIN = "31011300001327710001"
GB_SECURE = "31011300001327710002"
GB_ALARM = "31011300001327710003"


@pytest_asyncio.fixture(scope="module")
async def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API over the seeded database (every router is registered in api/app.py)."""
    return api


@pytest.fixture(scope="module")
def secure(hls_dir: Path) -> Iterator[LoopbackServer]:  # noqa: F811 — the imported fixture
    """The same stream behind a token (a credentialed link of a video service)."""
    server = LoopbackServer(hls_dir, token="s3cret")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jpeg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real JPEG snapshot of the test pattern, made by ffmpeg."""
    out = tmp_path_factory.mktemp("snap") / "snap.jpg"
    command = [ffmpeg(), "-nostdin", "-loglevel", "error", "-f", "lavfi"]
    subprocess.run(
        [*command, "-i", "testsrc=size=320x240", "-frames:v", "1", str(out)],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_a_signed_live_url_leads_to_the_stream(
    client: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    served: LoopbackServer,  # noqa: F811 — the imported fixture
) -> None:
    raw = f"{served.base}/live.m3u8"
    await register_camera(client, tokens["admin"], GB_PLAIN, {"hls": raw})
    own = await client.get(f"/api/v1/cameras/{GB_PLAIN}/live", headers=tokens["qiye-310113"])
    signed = own.json()
    opened = await client.get(_path(signed["url"]))
    async with httpx.AsyncClient(trust_env=False) as outside:
        playlist = await outside.get(opened.headers["location"])
        segment_name = [x for x in playlist.text.splitlines() if x.endswith(".ts")][-1]
        segment = await outside.get(f"{served.base}/{segment_name}")
    expires = datetime.fromisoformat(signed["expires_at"])
    assert own.status_code == 200, own.text
    assert signed["kind"] == "hls"
    assert signed["url"].startswith("http://test/api/v1/video/")
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
    assert opened.status_code == 307
    assert opened.headers["location"] == raw  # no credentials in it: the browser goes direct
    assert playlist.text.startswith("#EXTM3U")
    assert segment.status_code == 200
    assert segment.content[:1] == b"\x47"  # an MPEG-TS packet


async def test_a_credentialed_link_is_proxied_and_its_token_never_reaches_the_browser(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], secure: LoopbackServer
) -> None:
    raw = f"{secure.base}/live.m3u8?token=s3cret"
    await register_camera(client, tokens["admin"], GB_SECURE, {"hls": raw})
    signed = await client.get(f"/api/v1/cameras/{GB_SECURE}/live", headers=tokens["baoshan"])
    url = signed.json()["url"]
    async with httpx.AsyncClient(trust_env=False) as outside:
        direct = await outside.get(f"{secure.base}/live.m3u8")
    playlist = await client.get(_path(url))
    entries = [x for x in playlist.text.splitlines() if x and not x.startswith("#")]
    segment = await client.get(f"/api/v1/video/{entries[-1]}")
    assert direct.status_code == 403  # the service wants its token
    assert signed.status_code == 200, signed.text
    assert "s3cret" not in signed.text
    assert playlist.status_code == 200, playlist.text
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert playlist.text.startswith("#EXTM3U")
    assert "s3cret" not in playlist.text
    assert entries
    assert segment.status_code == 200
    assert segment.content[:1] == b"\x47"


async def test_playback_substitutes_the_range_and_follows_the_jurisdiction(
    client: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    served: LoopbackServer,  # noqa: F811 — the imported fixture
) -> None:
    gb = "31011300001327710004"
    template = f"{served.base}/live.m3u8?start={{start}}&end={{end}}"
    await register_camera(
        client, tokens["admin"], gb, {"hls": f"{served.base}/live.m3u8"}, template
    )
    query = {"from": "2024-05-01T08:00:00+08:00", "to": "2024-05-01T08:10:00+08:00"}
    path = f"/api/v1/cameras/{gb}/playback"
    own = await client.get(path, params=query, headers=tokens["qiye-310113"])
    opened = await client.get(_path(own.json()["url"]))
    async with httpx.AsyncClient(trust_env=False) as outside:
        recording = await outside.get(opened.headers["location"])
    other_enterprise = await client.get(path, params=query, headers=tokens["qiye-310114"])
    other_district = await client.get(path, params=query, headers=tokens["jiading"])
    other_live = await client.get(f"/api/v1/cameras/{gb}/live", headers=tokens["qiye-310114"])
    backwards = await client.get(
        path, params={"from": query["to"], "to": query["from"]}, headers=tokens["admin"]
    )
    no_zone = await client.get(
        path,
        params={"from": "2024-05-01T08:00:00", "to": "2024-05-01T09:00:00"},
        headers=tokens["admin"],
    )
    assert own.status_code == 200, own.text
    assert parse_qs(urlsplit(opened.headers["location"]).query) == {
        "start": ["2024-05-01T00:00:00Z"],
        "end": ["2024-05-01T00:10:00Z"],
    }
    assert recording.text.startswith("#EXTM3U")
    assert other_enterprise.status_code == 404
    assert other_district.status_code == 404
    assert other_live.status_code == 404
    assert backwards.status_code == 422
    assert no_zone.status_code == 422


async def test_tampered_and_expired_video_urls_are_refused(
    client: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    settings: Settings,
) -> None:
    gb = "31011300001327710006"
    await register_camera(client, tokens["admin"], gb, {"hls": "http://127.0.0.1:9/live.m3u8"})
    signed = await client.get(f"/api/v1/cameras/{gb}/live", headers=tokens["admin"])
    url = _path(signed.json()["url"])
    body, _, mac = url.rpartition("/")[2].partition(".")
    tampered = f"/api/v1/video/{body}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}"
    old, _ = issue_grant(
        settings.secret_key.get_secret_value(),
        gb,
        "hls",
        datetime.now(UTC) - timedelta(minutes=6),
    )
    forged = await client.get(tampered)
    expired = await client.get(f"/api/v1/video/{old}")
    garbage = await client.get("/api/v1/video/not-a-token")
    assert signed.status_code == 200, signed.text
    assert forged.status_code == 403
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]
    assert garbage.status_code == 403


async def test_a_video_alarm_keeps_its_snapshot_and_shows_the_cameras_of_its_system(
    client: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    conn: psycopg.AsyncConnection[Any],  # noqa: F811 — the imported fixture
    served: LoopbackServer,  # noqa: F811 — the imported fixture
    jpeg: bytes,
) -> None:
    template = f"{served.base}/live.m3u8?start={{start}}&end={{end}}"
    camera = await register_camera(
        client, tokens["admin"], GB_ALARM, {"hls": f"{served.base}/live.m3u8"}, template
    )
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    first = await record_video_alarm(conn, camera, "smoke", at, jpeg, datetime.now(UTC))
    retried = await record_video_alarm(conn, camera, "smoke", at, jpeg, datetime.now(UTC))
    path = f"/api/v1/alarms/{first.alarm_id}/cameras"
    own = await client.get(path, headers=tokens["qiye-310113"])
    alarm = await client.get(f"/api/v1/alarms/{first.alarm_id}", headers=tokens["qiye-310113"])
    found = own.json()
    ours = next(c for c in found["cameras"] if c["gb28181_id"] == GB_ALARM)
    snapshot = await client.get(_path(found["snapshots"][0]["url"]), headers=tokens["baoshan"])
    other = await client.get(path, headers=tokens["qiye-310114"])
    other_snapshot = await client.get(
        f"/api/v1/video/snapshots/{first.snapshot_id}", headers=tokens["jiading"]
    )
    playback = await client.get(_path(ours["playback"]["url"]))
    assert own.status_code == 200, own.text
    assert alarm.json()["alarm_type"] == "VIDEO"
    assert alarm.json()["level"] == "HA"
    assert alarm.json()["thing_id"] == camera
    assert retried.repeat is True
    assert retried.snapshot_id == first.snapshot_id
    assert alarm.json()["count"] == 1  # the retried post raised nothing again
    assert found["same_system"] is True
    assert {c["system_code"] for c in found["cameras"]} == {OWN.cameras[0].system_code}
    assert datetime.fromisoformat(found["start"]) == at - timedelta(minutes=2)
    assert datetime.fromisoformat(ours["playback"]["start"]) == at - timedelta(minutes=2)
    assert playback.status_code == 307
    assert [s["id"] for s in found["snapshots"]] == [first.snapshot_id]
    assert found["snapshots"][0]["alarm_kind"] == "smoke"
    assert snapshot.status_code == 200
    assert snapshot.headers["content-type"] == "image/jpeg"
    assert snapshot.content == jpeg
    assert other.status_code == 404
    assert other_snapshot.status_code == 404


async def test_snapshots_too_large_or_not_jpeg_are_refused_and_nothing_is_kept(
    client: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    conn: psycopg.AsyncConnection[Any],  # noqa: F811 — the imported fixture
    jpeg: bytes,
) -> None:
    gb = "31011300001327710005"
    camera = await register_camera(
        client, tokens["admin"], gb, {"hls": "http://127.0.0.1:9/x.m3u8"}
    )
    now = datetime.now(UTC)
    too_large = jpeg[:-2] + b"\x00" * (MAX_SNAPSHOT_BYTES - len(jpeg) + 10) + b"\xff\xd9"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    with pytest.raises(SnapshotRefusedError, match="500 KB"):
        await record_video_alarm(conn, camera, "fire", now, too_large, now)
    with pytest.raises(SnapshotRefusedError, match="not a"):
        await record_video_alarm(conn, camera, "fire", now, png, now)
    with pytest.raises(SnapshotRefusedError, match="not a"):
        await record_video_alarm(conn, camera, "fire", now, jpeg[: len(jpeg) // 2], now)
    with pytest.raises(UnknownCameraError):
        await record_video_alarm(
            conn, "dusttwin:camera-31011300001327799999", "fire", now, jpeg, now
        )
    with pytest.raises(UnknownCameraError):  # reported by another enterprise's gateway
        await record_video_alarm(
            conn, camera, "fire", now, jpeg, now, credit_code=JIADING_ONE.record.credit_code
        )
    cur = await conn.execute(
        "SELECT (SELECT count(*) FROM video_snapshots WHERE thing_id = %s),"
        " (SELECT count(*) FROM alarms WHERE thing_id = %s)",
        (camera, camera),
    )
    assert await cur.fetchone() == (0, 0)
    without = await record_video_alarm(conn, camera, "person", now, None, now)
    assert without.snapshot_id is None
    assert without.alarm_id > 0
