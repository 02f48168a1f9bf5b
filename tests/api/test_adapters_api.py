"""Provincial gateways through the real API into the real database (protocol v1 §9).

The API here runs with an adapters file naming two demo enterprises: one as a Hebei V1.1
gateway, one as a MEM/Tianjin app. Their posts are encrypted the way those gateways do it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from PIL import Image

from api.app import create_app
from connectors.adapters import CHINA, AdapterConfigError
from dusttwin.settings import Settings
from tests.api.demo_data import BAOSHAN
from tests.connectors.test_adapters import HB_IV, HB_KEY, TJ_IV, TJ_KEY, hebei_post, mem_post
from tests.helpers import override

HB = BAOSHAN[4]  # a Hebei V1.1 gateway: systems DC01-DC04
TJ = BAOSHAN[5]  # a MEM/Tianjin app: systems DC01-DC02 only
HB_CC, TJ_CC = HB.record.credit_code, TJ.record.credit_code
TJ_APPID, TJ_SECRET = "TJ-APP-0001", "tj-secret-0001"
CAMERA = HB.cameras[0].gb28181_id
SMOKE_POINT = "DC01-SMOKE-9"  # where the camera's video AI alarms go

ADAPTERS_TOML = f"""
[hebei]
key = "{HB_KEY.decode()}"
iv = "{HB_IV.hex()}"

[hebei.enterprises.{HB_CC}]
gateway_id = "GW01"
cameras = {{ "{CAMERA}" = "{SMOKE_POINT}" }}

[mem.apps.{TJ_APPID}]
appsecret = "{TJ_SECRET}"
key = "{TJ_KEY.hex()}"
iv = "{TJ_IV.hex()}"
credit_code = "{TJ_CC}"
gateway_id = "GW01"

[mem.apps.TJ-APP-GHOST]
appsecret = "ghost"
key = "{TJ_KEY.hex()}"
iv = "{TJ_IV.hex()}"
credit_code = "{TJ_CC}"
gateway_id = "GW99"
"""


@pytest.fixture(scope="module")
def adapters_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The adapters file, kept outside the checkout as an operator would."""
    path = tmp_path_factory.mktemp("adapters") / "adapters.toml"
    path.write_text(ADAPTERS_TOML, encoding="utf-8")
    return path


@pytest_asyncio.fixture(scope="module")
async def provincial(
    settings: Settings,
    seeded: dict[str, str],
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    adapters_file: Path,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with the adapters configured, and a smoke point for the camera's alarms."""
    point = {
        "point_code": SMOKE_POINT,
        "system_code": "DC01",
        "indicator": "SMOKE",
        "unit": "0/1",
        "gateway_id": "GW01",
    }
    registered = await api.post(
        f"/api/v1/enterprises/{HB_CC}/points", json=point, headers=tokens["admin"]
    )
    assert registered.status_code == 201, registered.text
    app = create_app(
        override(
            settings, database_url=seeded["DUSTTWIN_DATABASE_URL"], adapters_file=adapters_file
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def _wall(t: datetime) -> str:
    """A time as the provincial gateways write it: Beijing wall clock, no offset."""
    return t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _now() -> datetime:
    return datetime.now(CHINA).replace(microsecond=0) - timedelta(seconds=5)


async def _values(
    api: httpx.AsyncClient, headers: dict[str, str], cc: str, point: str, around: datetime
) -> list[float | None]:
    """The raw readings of a point within a minute of ``around``, as the readings API shows them."""
    response = await api.get(
        f"/api/v1/points/{cc}/{point}/readings",
        params={
            "from": (around - timedelta(minutes=1)).isoformat(),
            "to": (around + timedelta(minutes=1)).isoformat(),
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [r["value"] for r in response.json()["raw"]]


def _rts(*entries: tuple[str, Any, datetime]) -> dict[str, Any]:
    return {
        "datas": [
            {"pointCode": code, "value": value, "collectTime": _wall(t), "status": "0"}
            for code, value, t in entries
        ]
    }


async def test_hebei_readings_land_and_show_in_the_readings_api(
    provincial: httpx.AsyncClient, api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    now = _now()
    body = _rts(
        ("DC03-HOPPER_TEMP-1", "47.5", now - timedelta(seconds=20)),
        ("DC03-HOPPER_TEMP-1", "48.25", now),
    )
    reply = await provincial.post(
        "/api/v1/adapters/hebei/rtsData", content=hebei_post({"qybm": HB_CC, **body}, qybm=HB_CC)
    )
    shown = await _values(api, tokens["baoshan"], HB_CC, "DC03-HOPPER_TEMP-1", now)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "code": 200,
        "msg": "成功 / ok",
        "data": {"accepted": 2, "rejected": []},
    }
    assert shown == [47.5, 48.25]


async def test_mem_stores_its_own_points_and_refuses_another_enterprises(
    provincial: httpx.AsyncClient, api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    now = _now()
    body = _rts(("DC01-HOPPER_TEMP-1", 61.5, now), ("DC04-HOPPER_TEMP-1", 62.5, now))
    reply = await provincial.post(
        "/api/v1/adapters/mem/rtsData",
        content=mem_post(body, appid=TJ_APPID),
        headers={"appsecret": TJ_SECRET, "Content-Type": "application/json"},
    )
    own = await _values(api, tokens["admin"], TJ_CC, "DC01-HOPPER_TEMP-1", now)
    others = await _values(api, tokens["admin"], HB_CC, "DC04-HOPPER_TEMP-1", now)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"] == {
        "accepted": 1,
        "rejected": [{"index": 1, "code": "DC04-HOPPER_TEMP-1", "reason": "unknown point"}],
    }
    assert own == [61.5]
    assert others == []


async def test_a_wrong_key_is_refused_kept_as_a_dead_letter_and_loses_nothing_else(
    provincial: httpx.AsyncClient, api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    now = _now()
    wrong = await provincial.post(
        "/api/v1/adapters/hebei/rtsData",
        content=hebei_post(_rts(("DC02-HOPPER_TEMP-1", 33, now)), qybm=HB_CC, key=b"badkey!!"),
    )
    good = await provincial.post(
        "/api/v1/adapters/hebei/rtsData",
        content=hebei_post(
            _rts(("DC02-HOPPER_TEMP-1", 34, now + timedelta(seconds=1))), qybm=HB_CC
        ),
    )
    stored = await _values(api, tokens["admin"], HB_CC, "DC02-HOPPER_TEMP-1", now)
    diagnostics = await api.get(
        f"/api/v1/gateways/{HB_CC}/GW01/diagnostics", headers=tokens["admin"]
    )
    reasons = [
        (r["transport"], r["kind"], r["whole_message"], r["rejected"][0]["reason"])
        for r in diagnostics.json()["recent_rejections"]
    ]
    assert wrong.status_code == 400
    assert wrong.json()["code"] == 400
    assert "wrong key" in wrong.json()["msg"]
    assert good.json()["data"] == {"accepted": 1, "rejected": []}
    assert stored == [34.0]
    assert ("adapter", "rts", True, wrong.json()["msg"]) in reasons
    assert diagnostics.json()["rejected_1h"] >= 1


async def test_unknown_senders_are_refused_and_store_nothing(
    provincial: httpx.AsyncClient, api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    now = _now() - timedelta(seconds=30)
    stranger_cc = BAOSHAN[6].record.credit_code
    body = _rts(("DC01-HOPPER_TEMP-1", 77, now))
    unknown_qybm = await provincial.post(
        "/api/v1/adapters/hebei/rtsData", content=hebei_post(body, qybm=stranger_cc)
    )
    unknown_appid = await provincial.post(
        "/api/v1/adapters/mem/rtsData",
        content=mem_post(body, appid="TJ-APP-9999"),
        headers={"appsecret": TJ_SECRET},
    )
    wrong_secret = await provincial.post(
        "/api/v1/adapters/mem/rtsData",
        content=mem_post(body, appid=TJ_APPID),
        headers={"appsecret": "guessed"},
    )
    unregistered = await provincial.post(
        "/api/v1/adapters/mem/rtsData",
        content=mem_post(body, appid="TJ-APP-GHOST"),
        headers={"appsecret": "ghost"},
    )
    stranger = await _values(api, tokens["admin"], stranger_cc, "DC01-HOPPER_TEMP-1", now)
    tianjin = await _values(api, tokens["admin"], TJ_CC, "DC01-HOPPER_TEMP-1", now)
    assert (unknown_qybm.status_code, unknown_appid.status_code) == (401, 401)
    assert unknown_qybm.json() == {
        "code": 401,
        "msg": f"qybm '{stranger_cc}' is not an enterprise configured for the Hebei adapter",
        "data": None,
    }
    assert "TJ-APP-9999" in unknown_appid.json()["msg"]
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["msg"] == "wrong or missing appsecret header"
    assert unregistered.status_code == 400
    assert unregistered.json()["msg"] == "unknown or revoked gateway"
    assert stranger == []
    assert 77.0 not in tianjin


def _jpeg() -> str:
    """A real small JPEG snapshot, Base64 encoded as the gateways send it."""
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(picture, "JPEG")
    return base64.b64encode(picture.getvalue()).decode()


async def test_events_and_video_alarms_land_as_device_events(
    provincial: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    now = _now()
    events = {
        "datas": [
            {
                "pointCode": "DC02-SPARK_DET-1",
                "eventType": "1",
                "value": "3",
                "eventTime": _wall(now),
                "content": "2#除尘器入口火花探测 3 次",
            }
        ]
    }
    video = {
        "datas": [
            {
                "cameraCode": CAMERA,
                "alarmType": "SMOKE",
                "alarmTime": _wall(now),
                "content": "1#除尘器区域烟雾",
                "picture": _jpeg(),
            },
            {  # Base64 that is no JPEG: the reading is kept, the alarm's snapshot refused
                "cameraCode": CAMERA,
                "alarmType": "FIRE",
                "alarmTime": _wall(now + timedelta(seconds=1)),
                "picture": "/9j/" + "A" * 40_000,
            },
        ]
    }
    event_reply = await provincial.post(
        "/api/v1/adapters/hebei/eventsData", content=hebei_post(events, qybm=HB_CC)
    )
    video_reply = await provincial.post(
        "/api/v1/adapters/hebei/videosData", content=hebei_post(video, qybm=HB_CC)
    )
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT t.attributes ->> 'point_code', e.type, e.value, e.content"
            " FROM device_events e JOIN things t ON t.id = e.point_id"
            " WHERE t.credit_code = %s AND e.time = %s ORDER BY 1",
            (HB_CC, now),
        ).fetchall()
    assert event_reply.json()["data"] == {"accepted": 1, "rejected": []}
    video_data = video_reply.json()["data"]
    assert video_data["accepted"] == 2
    assert [(r["index"], r["code"]) for r in video_data["rejected"]] == [(1, CAMERA)]
    assert "video alarm" in video_data["rejected"][0]["reason"]
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        alarms = conn.execute(
            "SELECT alarm_type, level, detail ? 'snapshot_id' FROM alarms WHERE thing_id = %s",
            (f"dusttwin:camera-{CAMERA}",),
        ).fetchall()
    assert alarms == [("VIDEO", "HA", True)]
    assert [(code, kind, value) for code, kind, value, _ in rows] == [
        ("DC01-SMOKE-9", "ACTIVE", None),
        ("DC02-SPARK_DET-1", "ACTIVE", 3.0),
    ]
    assert rows[0][3].startswith(f"VIDEO_AI SMOKE; camera {CAMERA}; 1#除尘器区域烟雾; snapshot ~")
    assert len(rows[0][3]) < 300  # the event holds a digest; the snapshot is the alarm's
    assert rows[1][3] == "2#除尘器入口火花探测 3 次"


@pytest.fixture
def wrong_adapters_file(tmp_path: Path) -> Path:
    """An adapters file whose Hebei key is 7 characters long."""
    wrong = tmp_path / "adapters.toml"
    wrong.write_text(ADAPTERS_TOML.replace(f'key = "{HB_KEY.decode()}"', 'key = "seven77"'))
    return wrong


async def test_a_wrong_adapters_file_stops_the_api_with_the_entry_not_the_key(
    settings: Settings, seeded: dict[str, str], wrong_adapters_file: Path
) -> None:
    app = create_app(
        override(
            settings,
            database_url=seeded["DUSTTWIN_DATABASE_URL"],
            adapters_file=wrong_adapters_file,
        )
    )
    with pytest.raises(AdapterConfigError) as refused:
        async with app.router.lifespan_context(app):
            pass
    assert f"hebei.enterprises.{HB_CC}: key" in str(refused.value)
    assert "seven77" not in str(refused.value)
