"""The registry API: enterprises and their parts, the rules they are held to, and bad input."""

from __future__ import annotations

import random
from typing import Any

import httpx
import psycopg

from dusttwin.demo import demo_credit_code
from tests.api.demo_data import OWN

_rng = random.Random(20261123)


def new_credit_code(adcode: str = "310113") -> str:
    """A made-up valid credit code that the demo does not use."""
    return demo_credit_code(_rng, adcode)


def enterprise_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "credit_code": new_credit_code(),
        "name": "上海测试铝材有限公司",
        "adcode": "310113",
        "dust_workers": 35,
        "dust_types": ["aluminium"],
        "location": {"lon": 121.45, "lat": 31.40},
    }
    return {**body, **changes}


async def _register(
    api: httpx.AsyncClient, headers: dict[str, str], **changes: Any
) -> dict[str, Any]:
    response = await api.post(
        "/api/v1/enterprises", json=enterprise_body(**changes), headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _with_system(
    api: httpx.AsyncClient, headers: dict[str, str], collector: str = "dry"
) -> str:
    ent = await _register(api, headers)
    cc = ent["credit_code"]
    system = {
        "system_code": "DC01",
        "name": "1#除尘器",
        "collector": collector,
        "collector_type": "bag" if collector == "dry" else "wet_scrubber",
        "design_water_flow_m3h": 50,
    }
    response = await api.post(f"/api/v1/enterprises/{cc}/systems", json=system, headers=headers)
    assert response.status_code == 201, response.text
    return str(cc)


async def test_regulator_registers_reads_and_changes_an_enterprise(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["baoshan"]
    ent = await _register(api, h)
    cc = ent["credit_code"]
    got = await api.get(f"/api/v1/enterprises/{cc}", headers=h)
    changed = await api.patch(
        f"/api/v1/enterprises/{cc}",
        json={"dust_workers": 12},
        headers={**h, "If-Match": got.headers["ETag"]},
    )
    stale = await api.patch(
        f"/api/v1/enterprises/{cc}",
        json={"dust_workers": 50},
        headers={**h, "If-Match": got.headers["ETag"]},
    )
    assert ent["key_enterprise"] is True  # ≥ 30 workers with aluminium dust
    assert got.json()["name"] == "上海测试铝材有限公司"
    assert changed.status_code == 200
    assert changed.json()["key_enterprise"] is False
    assert stale.status_code == 412
    assert (await api.get(f"/api/v1/enterprises/{cc}", headers=h)).json()["dust_workers"] == 12


async def test_list_filters_and_pages(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["baoshan"]
    ent = await _register(
        api, h, name="上海过滤测试木业有限公司", dust_types=["wood"], dust_workers=77
    )
    by_name = await api.get("/api/v1/enterprises", params={"q": "过滤测试"}, headers=h)
    by_code = await api.get("/api/v1/enterprises", params={"q": ent["credit_code"][:12]}, headers=h)
    wood_many = await api.get(
        "/api/v1/enterprises",
        params={"dust_type": "wood", "workers_min": 70, "key": "true", "region": "310113"},
        headers=h,
    )
    page1 = await api.get("/api/v1/enterprises", params={"page_size": 5}, headers=h)
    page2 = await api.get("/api/v1/enterprises", params={"page_size": 5, "page": 2}, headers=h)
    assert [e["credit_code"] for e in by_name.json()["items"]] == [ent["credit_code"]]
    assert ent["credit_code"] in [e["credit_code"] for e in by_code.json()["items"]]
    assert all(
        e["dust_workers"] >= 70 and "wood" in e["dust_types"] for e in wood_many.json()["items"]
    )
    assert ent["credit_code"] in [e["credit_code"] for e in wood_many.json()["items"]]
    assert page1.json()["total"] == page2.json()["total"] >= 30
    assert not {e["credit_code"] for e in page1.json()["items"]} & {
        e["credit_code"] for e in page2.json()["items"]
    }


async def test_invalid_credit_code_and_unknown_adcode_are_refused(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["admin"]
    good = enterprise_body()
    bad_check = good["credit_code"][:17] + ("0" if good["credit_code"][17] != "0" else "1")
    wrong_digit = await api.post(
        "/api/v1/enterprises", json={**good, "credit_code": bad_check}, headers=h
    )
    unknown = await api.post(
        "/api/v1/enterprises", json={**enterprise_body(), "adcode": "319999"}, headers=h
    )
    province = await api.post(
        "/api/v1/enterprises", json={**enterprise_body(), "adcode": "310000"}, headers=h
    )
    assert wrong_digit.status_code == 422
    assert "GB 32100" in wrong_digit.text
    assert unknown.status_code == 422
    assert "unknown adcode 319999" in unknown.json()["detail"]
    assert province.status_code == 422
    assert "province" in province.json()["detail"]


async def test_duplicate_enterprise_is_a_conflict(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    body = enterprise_body()
    first = await api.post("/api/v1/enterprises", json=body, headers=tokens["admin"])
    second = await api.post("/api/v1/enterprises", json=body, headers=tokens["admin"])
    assert first.status_code == 201
    assert second.status_code == 409
    assert "registered already" in second.json()["detail"]


async def test_regulator_cannot_register_outside_its_county(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    response = await api.post(
        "/api/v1/enterprises", json=enterprise_body(adcode="310113"), headers=tokens["jiading"]
    )
    assert response.status_code == 403
    assert "jurisdiction" in response.json()["detail"]


async def test_points_are_checked_against_the_catalog(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["admin"]
    cc = await _with_system(api, h)
    url = f"/api/v1/enterprises/{cc}/points"
    point = {
        "point_code": "DC01-HOPPER_TEMP-1",
        "system_code": "DC01",
        "indicator": "HOPPER_TEMP",
        "unit": "℃",
    }
    created = await api.post(url, json=point, headers=h)
    duplicate = await api.post(url, json=point, headers=h)
    wrong_unit = await api.post(url, json={**point, "point_code": "P2", "unit": "Pa"}, headers=h)
    disorder = await api.post(
        url, json={**point, "point_code": "P3", "limits": {"ha": 95, "hha": 90}}, headers=h
    )
    outside = await api.post(
        url, json={**point, "point_code": "P4", "limits": {"hha": 500}}, headers=h
    )
    unknown = await api.post(
        url, json={**point, "point_code": "P5", "indicator": "MOON_PHASE"}, headers=h
    )
    wet_only = await api.post(
        url,
        json={"point_code": "P6", "system_code": "DC01", "indicator": "TANK_LEVEL", "unit": "m"},
        headers=h,
    )
    no_system = await api.post(
        url, json={**point, "point_code": "P7", "system_code": "DC09"}, headers=h
    )
    assert created.status_code == 201, created.text
    assert created.json()["unit"] == "°C"  # stored in the catalog's spelling
    assert created.json()["effective_limits"]["ha"] == 70
    assert created.json()["effective_limits"]["hha"] == 90
    assert duplicate.status_code == 409
    assert wrong_unit.status_code == 422
    assert "contradicts indicator HOPPER_TEMP" in wrong_unit.json()["detail"]
    assert disorder.status_code == 422
    assert "HA 95" in disorder.json()["detail"]
    assert outside.status_code == 422
    assert "HHA" in outside.json()["detail"]
    assert unknown.status_code == 422
    assert wet_only.status_code == 422
    assert "applies to wet" in wet_only.json()["detail"]
    assert no_system.status_code == 422
    assert "DC09 is not registered" in no_system.json()["detail"]


async def test_point_override_survives_and_default_follows(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["admin"]
    cc = await _with_system(api, h, collector="wet")
    url = f"/api/v1/enterprises/{cc}/points"
    body = {
        "point_code": "DC01-WATER_FLOW-1",
        "system_code": "DC01",
        "indicator": "WATER_FLOW",
        "unit": "m³/h",
        "limits": {"hha": None},
    }
    created = (await api.post(url, json=body, headers=h)).json()
    changed = await api.patch(
        f"{url}/DC01-WATER_FLOW-1", json={"limits": {"la": 30, "hha": None}}, headers=h
    )
    assert created["effective_limits"]["la"] == 40  # 80 % of the system's design flow (50)
    assert created["effective_limits"]["hha"] is None  # switched off explicitly
    assert changed.json()["effective_limits"]["la"] == 30
    assert changed.json()["catalog_version"] == created["catalog_version"]


async def test_cameras_need_a_gb28181_id_and_a_proper_playback_template(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["admin"]
    cc = await _with_system(api, h)
    url = f"/api/v1/enterprises/{cc}/cameras"
    good = {
        "gb28181_id": "31011300001329900001",
        "name": "1#除尘器",
        "system_code": "DC01",
        "live": {"hls": "http://127.0.0.1:8888/live/a.m3u8"},
        "playback_template": "http://127.0.0.1:8888/pb?start={start}&end={end}",
    }
    created = await api.post(url, json=good, headers=h)
    short_id = await api.post(url, json={**good, "gb28181_id": "3101130000132"}, headers=h)
    not_camera = await api.post(url, json={**good, "gb28181_id": "31011300001189900001"}, headers=h)
    no_end = await api.post(
        url,
        json={
            **good,
            "gb28181_id": "31011300001329900002",
            "playback_template": "http://x/{start}",
        },
        headers=h,
    )
    twin = await api.get("/api/2/things/dusttwin:camera-31011300001329900001", headers=h)
    assert created.status_code == 201, created.text
    assert short_id.status_code == 422
    assert not_camera.status_code == 422
    assert "not a camera" in not_camera.text
    assert no_end.status_code == 422
    assert twin.json()["attributes"]["parent"] == f"dusttwin:system-{cc}-DC01"


async def test_soft_delete_hides_the_enterprise_and_keeps_its_history(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> None:
    h = tokens["admin"]
    cc = await _with_system(api, h)
    point = {"point_code": "P1", "system_code": "DC01", "indicator": "FAN_RUN", "unit": "0/1"}
    await api.post(f"/api/v1/enterprises/{cc}/points", json=point, headers=h)
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute(
            "SELECT id FROM things WHERE thing_id = %s", (f"dusttwin:point-{cc}-P1",)
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO readings (time, point_id, value) VALUES (now(), %s, 1)", (row[0],)
        )
    deleted = await api.delete(f"/api/v1/enterprises/{cc}", headers=h)
    gone = await api.get(f"/api/v1/enterprises/{cc}", headers=h)
    point_gone = await api.get(f"/api/2/things/dusttwin:point-{cc}-P1", headers=h)
    listed = await api.get("/api/v1/enterprises", params={"q": cc}, headers=h)
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        kept = conn.execute(
            "SELECT count(*) FROM things WHERE credit_code = %s AND deleted_at IS NOT NULL", (cc,)
        ).fetchone()
        readings = conn.execute(
            "SELECT count(*) FROM readings WHERE point_id = %s", (row[0],)
        ).fetchone()
    assert deleted.status_code == 204
    assert gone.status_code == 404
    assert point_gone.status_code == 404
    assert listed.json()["total"] == 0
    assert kept == (3,)  # enterprise, system, point: hidden, not erased
    assert readings == (1,)


async def test_enterprise_user_changes_its_own_data_but_not_others(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["qiye-310113"]
    own = OWN.record.credit_code
    mine = await api.patch(f"/api/v1/enterprises/{own}", json={"max_per_shift": 9}, headers=h)
    create = await api.post("/api/v1/enterprises", json=enterprise_body(), headers=h)
    assert mine.status_code == 200
    assert mine.json()["max_per_shift"] == 9
    assert create.status_code == 403


async def test_unauthenticated_forged_and_expired_tokens_are_refused(
    api: httpx.AsyncClient, settings_secret: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from twins.tokens import issue_token

    anonymous = await api.get("/api/v1/enterprises")
    forged_token = issue_token("not-our-secret-but-long-enough-for-hs256!", "admin")
    forged = await api.get(
        "/api/v1/enterprises", headers={"Authorization": f"Bearer {forged_token}"}
    )
    expired_token = issue_token(
        settings_secret,
        "admin",
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    expired = await api.get(
        "/api/v1/enterprises", headers={"Authorization": f"Bearer {expired_token}"}
    )
    wrong_password = await api.post(
        "/api/v1/auth/token", data={"username": "admin", "password": "nope-nope"}
    )
    basic_wrong = await api.get("/api/2/things/dusttwin:region-310113", auth=("admin", "nope-nope"))
    assert anonymous.status_code == 401
    assert forged.status_code == 401
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert wrong_password.status_code == 401
    assert basic_wrong.status_code == 401
    assert basic_wrong.json()["error"] == "gateway:authentication.failed"


async def test_integrator_grants(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]) -> None:
    cc = await _with_system(api, tokens["baoshan"])
    before = await api.get(f"/api/v1/enterprises/{cc}", headers=tokens["integrator"])
    granted = await api.put(
        f"/api/v1/enterprises/{cc}/integrators/integrator", headers=tokens["baoshan"]
    )
    after = await api.get(f"/api/v1/enterprises/{cc}/systems", headers=tokens["integrator"])
    self_grant = await api.put(
        f"/api/v1/enterprises/{cc}/integrators/integrator", headers=tokens["integrator"]
    )
    revoked = await api.delete(
        f"/api/v1/enterprises/{cc}/integrators/integrator", headers=tokens["baoshan"]
    )
    after_revoke = await api.get(f"/api/v1/enterprises/{cc}", headers=tokens["integrator"])
    assert before.status_code == 404
    assert granted.status_code == 204
    assert [s["system_code"] for s in after.json()] == ["DC01"]
    assert self_grant.status_code == 403
    assert revoked.status_code == 204
    assert after_revoke.status_code == 404


async def test_catalog_lists_the_mandatory_indicators_with_their_defaults(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    response = await api.get("/api/v1/catalog", headers=tokens["integrator"])
    anonymous = await api.get("/api/v1/catalog")
    indicators = {i["code"]: i for i in response.json()["indicators"]}
    mandatory_dry = {c for c, i in indicators.items() if "dry" in i["mandatory_for"]}
    mandatory_wet = {c for c, i in indicators.items() if "wet" in i["mandatory_for"]}
    assert mandatory_dry == {"HOPPER_TEMP", "DP_IN_OUT", "AIRLOCK_FAULT"}
    assert mandatory_wet == {"TANK_LEVEL", "WATER_FLOW"}
    assert indicators["HOPPER_TEMP"]["limits"]["ha"] == 70
    assert indicators["HOPPER_TEMP"]["name_zh"] == "灰斗温度"
    assert anonymous.status_code == 401
