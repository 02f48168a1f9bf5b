"""Camera links with credentials: who reads them raw, who reads them redacted, on every read path.

The integrator granted the enterprise (it registered the cameras) and admins read the links as
stored; the enterprise's own users and the regulators of its jurisdiction read them without
credentials and play video through signed URLs.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.api.demo_data import OWN

CC = OWN.record.credit_code  # granted to the integrator; qiye-310113's own plant, in Baoshan
GB_READ = "31011300001327740001"
GB_ROUND_TRIP = "31011300001327740002"
GB_INTEGRATOR = "31011300001327740003"
SECRETS = ("viewer", "s3cretPW", "t0k3n9f2e", "hik12345")
LIVE = {
    "hls": "http://viewer:s3cretPW@video.local:8080/live/a.m3u8?token=t0k3n9f2e&quality=hd",
    "rtsp": "rtsp://admin:hik12345@10.0.0.7:554/Streaming/Channels/101",
}
PLAYBACK = "http://video.local:8080/pb/a.m3u8?start={start}&end={end}&token=t0k3n9f2e"
REDACTED_LIVE = {
    "hls": "http://video.local:8080/live/a.m3u8?quality=hd",
    "rtsp": "rtsp://10.0.0.7:554/Streaming/Channels/101",
}
REDACTED_PLAYBACK = "http://video.local:8080/pb/a.m3u8?start={start}&end={end}"


async def _register(api: httpx.AsyncClient, headers: dict[str, str], gb28181_id: str) -> None:
    body: dict[str, Any] = {
        "gb28181_id": gb28181_id,
        "name": f"测试摄像机 {gb28181_id[-4:]}",
        "system_code": OWN.cameras[0].system_code,
        "live": LIVE,
        "playback_template": PLAYBACK,
    }
    created = await api.post(f"/api/v1/enterprises/{CC}/cameras", json=body, headers=headers)
    assert created.status_code == 201, created.text


@pytest_asyncio.fixture(scope="module")
async def camera(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]) -> str:
    """A camera with credentialed links, registered by the integrator; its thingId."""
    await _register(api, tokens["integrator"], GB_READ)
    return f"dusttwin:camera-{GB_READ}"


async def _reads(api: httpx.AsyncClient, headers: dict[str, str], tid: str) -> list[Any]:
    """The camera as each read path returns it (asserting each answered 200)."""
    responses = [
        await api.get(f"/api/v1/enterprises/{CC}/cameras/{GB_READ}", headers=headers),
        await api.get(f"/api/v1/enterprises/{CC}/cameras", headers=headers),
        await api.get(f"/api/2/things/{tid}", headers=headers),
        await api.get(f"/api/2/things/{tid}/attributes", headers=headers),
        await api.get(f"/api/2/things/{tid}/attributes/live", headers=headers),
        await api.get(f"/api/2/things/{tid}/attributes/live/hls", headers=headers),
        await api.get(f"/api/2/things/{tid}/attributes/playback_template", headers=headers),
        await api.get("/api/2/things", params={"ids": tid}, headers=headers),
        await api.get(
            "/api/2/search/things",
            params={"filter": f'eq(attributes/gb28181_id,"{GB_READ}")'},
            headers=headers,
        ),
    ]
    assert [r.status_code for r in responses] == [200] * len(responses), [r.text for r in responses]
    return [r.json() for r in responses]


def _set(live: dict[str, Any]) -> dict[str, Any]:
    """The links a camera has (the registry's records also name the kinds it has not)."""
    return {kind: link for kind, link in live.items() if link is not None}


def _links_of(reads: list[Any]) -> list[Any]:
    """The live links and playback template of the camera in each read, in _reads' order."""
    record, listed, thing, attributes, live, hls, playback, by_id, found = reads
    (in_list,) = [c for c in listed if c["gb28181_id"] == GB_READ]
    return [
        (_set(record["live"]), record["playback_template"]),
        (_set(in_list["live"]), in_list["playback_template"]),
        (thing["attributes"]["live"], thing["attributes"]["playback_template"]),
        (attributes["live"], attributes["playback_template"]),
        (live, playback),
        ({**live, "hls": hls}, playback),
        (by_id[0]["attributes"]["live"], by_id[0]["attributes"]["playback_template"]),
        (
            found["items"][0]["attributes"]["live"],
            found["items"][0]["attributes"]["playback_template"],
        ),
    ]


@pytest.mark.parametrize("user", ["qiye-310113", "baoshan", "shanghai", "mem"])
async def test_the_enterprise_and_its_regulators_read_no_credentials_anywhere(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], camera: str, user: str
) -> None:
    reads = await _reads(api, tokens[user], camera)
    text = repr(reads)
    assert [s for s in SECRETS if s in text] == []
    assert _links_of(reads) == [(REDACTED_LIVE, REDACTED_PLAYBACK)] * 8


@pytest.mark.parametrize("user", ["integrator", "admin"])
async def test_the_granted_integrator_and_admins_read_the_links_as_registered(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], camera: str, user: str
) -> None:
    reads = await _reads(api, tokens[user], camera)
    assert _links_of(reads) == [(LIVE, PLAYBACK)] * 8


@pytest.mark.parametrize(
    "filter_",
    [
        'like(attributes/live/hls,"*s3cret*")',
        'eq(attributes/live/rtsp,"rtsp://admin:hik12345@10.0.0.7:554/Streaming/Channels/101")',
        'not(like(attributes/playback_template,"*token=t*"))',
    ],
)
async def test_links_cannot_be_guessed_through_a_search_filter(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], camera: str, filter_: str
) -> None:
    h = tokens["baoshan"]
    search = await api.get("/api/2/search/things", params={"filter": filter_}, headers=h)
    count = await api.get("/api/2/search/things/count", params={"filter": filter_}, headers=h)
    granted = await api.get(
        "/api/2/search/things/count", params={"filter": filter_}, headers=tokens["integrator"]
    )
    assert search.status_code == 400, search.text
    assert count.status_code == 400, count.text
    assert granted.status_code == 200, granted.text


async def test_links_cannot_be_read_through_a_search_sort(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], camera: str
) -> None:
    sorted_ = await api.get(
        "/api/2/search/things",
        params={"option": "sort(+attributes/live/hls)"},
        headers=tokens["qiye-310113"],
    )
    exists = await api.get(
        "/api/2/search/things/count",
        params={"filter": "exists(attributes/live/hls)"},
        headers=tokens["qiye-310113"],
    )
    assert sorted_.status_code == 400, sorted_.text
    assert exists.status_code == 200, exists.text  # presence tells nothing of credentials


async def test_signed_live_and_playback_urls_still_work_for_a_redacted_reader(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], camera: str
) -> None:
    h = tokens["qiye-310113"]
    live = await api.get(f"/api/v1/cameras/{GB_READ}/live", headers=h)
    playback = await api.get(
        f"/api/v1/cameras/{GB_READ}/playback",
        params={"from": "2024-05-01T08:00:00+08:00", "to": "2024-05-01T08:10:00+08:00"},
        headers=h,
    )
    assert live.status_code == 200, live.text
    assert playback.status_code == 200, playback.text
    assert live.json()["kind"] == "hls"
    assert [s for s in SECRETS if s in live.text + playback.text] == []


async def test_a_redacted_read_written_back_keeps_the_stored_credentials(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    await _register(api, tokens["admin"], GB_ROUND_TRIP)
    tid = f"dusttwin:camera-{GB_ROUND_TRIP}"
    h = tokens["qiye-310113"]
    read = (await api.get(f"/api/2/things/{tid}", headers=h)).json()
    put_thing = await api.put(f"/api/2/things/{tid}", json=read, headers=h)
    put_attributes = await api.put(
        f"/api/2/things/{tid}/attributes", json=read["attributes"], headers=h
    )
    put_link = await api.put(
        f"/api/2/things/{tid}/attributes/live/hls", json=REDACTED_LIVE["hls"], headers=h
    )
    patch_ditto = await api.patch(
        f"/api/2/things/{tid}",
        json={"attributes": {"live": REDACTED_LIVE, "playback_template": REDACTED_PLAYBACK}},
        headers={**h, "Content-Type": "application/merge-patch+json"},
    )
    patch_registry = await api.patch(
        f"/api/v1/enterprises/{CC}/cameras/{GB_ROUND_TRIP}",
        json={
            "name": "改名的摄像机",
            "live": REDACTED_LIVE,
            "playback_template": REDACTED_PLAYBACK,
        },
        headers=h,
    )
    stored = (await api.get(f"/api/2/things/{tid}/attributes", headers=tokens["admin"])).json()
    assert [r.status_code for r in (put_thing, put_attributes, put_link, patch_ditto)] == [204] * 4
    assert patch_registry.status_code == 200, patch_registry.text
    assert (
        _set(patch_registry.json()["live"]) == REDACTED_LIVE
    )  # the answer to a write is a read too
    assert stored["name"] == "改名的摄像机"
    assert (stored["live"], stored["playback_template"]) == (LIVE, PLAYBACK)


async def test_the_granted_integrator_changes_a_link_and_reads_its_credentials(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    await _register(api, tokens["integrator"], GB_INTEGRATOR)
    new_hls = "http://viewer:n3wPW@video.local:8080/live/b.m3u8?token=n3wt0k"
    changed = await api.patch(
        f"/api/v1/enterprises/{CC}/cameras/{GB_INTEGRATOR}",
        json={"live": {"hls": new_hls}},
        headers=tokens["integrator"],
    )
    by_enterprise = await api.get(
        f"/api/2/things/dusttwin:camera-{GB_INTEGRATOR}/attributes/live/hls",
        headers=tokens["qiye-310113"],
    )
    stripped = await api.put(
        f"/api/2/things/dusttwin:camera-{GB_INTEGRATOR}/attributes/live/hls",
        json="http://video.local:8080/live/b.m3u8",
        headers=tokens["integrator"],
    )
    after = await api.get(
        f"/api/2/things/dusttwin:camera-{GB_INTEGRATOR}/attributes/live/hls",
        headers=tokens["integrator"],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["live"]["hls"] == new_hls
    assert by_enterprise.json() == "http://video.local:8080/live/b.m3u8"
    assert stripped.status_code == 204, stripped.text
    assert after.json() == "http://video.local:8080/live/b.m3u8"  # it may drop credentials


async def test_the_audit_trail_shows_camera_links_without_their_credentials(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], camera: str
) -> None:
    trail = await api.get(f"/api/v1/enterprises/{CC}/changes", headers=tokens["qiye-310113"])
    raw = await api.get(f"/api/v1/enterprises/{CC}/changes", headers=tokens["integrator"])
    assert trail.status_code == 200, trail.text
    assert camera in trail.text
    assert not [s for s in SECRETS if s in trail.text]
    assert all(s in raw.text for s in ("s3cretPW", "t0k3n9f2e"))
