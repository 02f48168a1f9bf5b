"""A camera's links: credentials found, stripped from every link, and put back on a round trip."""

from __future__ import annotations

from typing import Any

from twins.links import (
    has_credentials,
    redact_camera_attributes,
    restore_credentials,
    strip_credentials,
)
from twins.schemas import check_template

CAMERA: dict[str, Any] = {
    "gb28181_id": "31011300001327730001",
    "name": "1#除尘器",
    "credit_code": "91310113MA1G000001",
    "live": {
        "hls": "http://viewer:s3cret@video.local:8080/live/a.m3u8?token=t0k&quality=hd",
        "flv": "http://video.local:8080/live/a.flv",
        "webrtc": "https://video.local/rtc/a?sign=abc",
        "rtsp": "rtsp://admin:hik12345@10.0.0.7:554/Streaming/Channels/101",
    },
    "playback_template": (
        "http://viewer:s3cret@video.local:8080/pb/a.m3u8?start={start}&end={end}&access_token=t0k"
    ),
}


def test_credentials_are_found_in_user_info_and_in_token_like_parameters() -> None:
    assert has_credentials("rtsp://u:p@host/live")
    assert has_credentials("http://host/live.m3u8?token=abc")
    assert has_credentials("http://host/live.m3u8?x=1&Signature=abc")
    assert not has_credentials("http://host/live.m3u8?quality=hd")


def test_stripping_keeps_host_port_path_and_other_parameters() -> None:
    stripped = strip_credentials("http://u:p@Video.Local:8080/live/a.m3u8?token=abc&quality=hd")
    assert stripped == "http://video.local:8080/live/a.m3u8?quality=hd"
    assert strip_credentials("rtsp://u:p@[fe80::1]:554/live") == "rtsp://[fe80::1]:554/live"
    assert strip_credentials("http://host/a.m3u8?b=%2F") == "http://host/a.m3u8?b=%2F"


def test_every_link_of_a_camera_is_redacted_and_nothing_else_changes() -> None:
    shown = redact_camera_attributes(CAMERA)
    links = [*shown["live"].values(), shown["playback_template"]]
    assert [has_credentials(link) for link in links] == [False] * 5
    assert shown["live"] == {
        "hls": "http://video.local:8080/live/a.m3u8?quality=hd",
        "flv": "http://video.local:8080/live/a.flv",
        "webrtc": "https://video.local/rtc/a",
        "rtsp": "rtsp://10.0.0.7:554/Streaming/Channels/101",
    }
    assert shown["playback_template"] == (
        "http://video.local:8080/pb/a.m3u8?start={start}&end={end}"
    )
    assert {k: v for k, v in shown.items() if k not in ("live", "playback_template")} == {
        k: v for k, v in CAMERA.items() if k not in ("live", "playback_template")
    }
    assert CAMERA["live"]["rtsp"].startswith("rtsp://admin:hik12345@")  # the input is untouched


def test_a_redacted_playback_template_is_still_a_template() -> None:
    shown = redact_camera_attributes(CAMERA)
    assert check_template(shown["playback_template"]) == shown["playback_template"]


def test_a_camera_without_links_is_returned_as_it_is() -> None:
    bare = {"gb28181_id": "31011300001327730002", "name": "2#", "live": {}}
    assert redact_camera_attributes(bare) == bare


def test_redacted_links_written_back_keep_the_stored_credentials() -> None:
    round_trip = {**redact_camera_attributes(CAMERA), "name": "1#除尘器（改名）"}
    assert restore_credentials(round_trip, CAMERA) == {**CAMERA, "name": "1#除尘器（改名）"}


def test_a_changed_link_is_taken_as_given() -> None:
    given = {
        **redact_camera_attributes(CAMERA),
        "live": {"hls": "http://video2.local/live/a.m3u8"},
        "playback_template": None,
    }
    restored = restore_credentials(given, CAMERA)
    assert restored["live"] == {"hls": "http://video2.local/live/a.m3u8"}
    assert restored["playback_template"] is None
