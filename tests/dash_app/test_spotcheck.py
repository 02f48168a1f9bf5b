"""Online spot check and one-screen view: each filter narrows the search, a regulator finds only
its own jurisdiction's enterprises, the one-screen view shows one enterprise whole (running
state, alarms with their handling, warnings with escalations, cameras through signed links) and
is "not found" outside the jurisdiction, and no camera credential ever reaches the page."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import httpx
import psycopg
import pytest
import pytest_asyncio

from connectors.video import open_grant
from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.enterprise_queries import PlantView, PointRow, SystemRow, run
from dash_app.regulator_queries import (
    LiveLinks,
    SpotFilter,
    region_options,
    search_enterprises,
    system_states,
)
from dusttwin.settings import Settings
from risk.alarms import Change, Deadlines, Subject, apply_changes
from tests.api.demo_data import BAOSHAN, JIADING, JIADING_ONE
from tests.helpers import made_up_credit_code, override
from twins.scope import Scope
from twins.tokens import issue_token

RED = made_up_credit_code("QCK", 1)  # aluminium, 45 workers, red, online, an alarm, a warning
BLUE = made_up_credit_code("QCK", 2)  # wood, 8 workers, blue, offline, nothing open
NAME_PART = "抽查测试"  # in both names, in no demo enterprise's
BAOSHAN_REG = Scope.regulator("baoshan", "310113")
JIADING_REG = Scope.regulator("jiading", "310114")
SHANGHAI_REG = Scope.regulator("shanghai", "310000")
GB = "31011300001329990001"  # a camera of RED whose links carry credentials
SECRETS = ("viewer", "s3cretPW", "t0k3n9f2e", "video.local")
LIVE_HLS = "http://viewer:s3cretPW@video.local:8080/live/a.m3u8?token=t0k3n9f2e"
LINKS = LiveLinks("test-secret-key", "http://127.0.0.1:8000", timedelta(minutes=5))


async def _register(api: httpx.AsyncClient, admin: dict[str, str]) -> None:
    plant = (
        (RED, f"上海{NAME_PART}红铝业有限公司", 45, "aluminium", "C33 金属制品业"),
        (BLUE, f"上海{NAME_PART}蓝木业有限公司", 8, "wood", "C20 木材加工"),
    )
    for code, name, workers, dust, industry in plant:
        body = {
            "credit_code": code,
            "name": name,
            "adcode": "310113",
            "dust_workers": workers,
            "dust_types": [dust],
            "industry": industry,
            "location": {"lon": 121.45, "lat": 31.40},
        }
        made = await api.post("/api/v1/enterprises", json=body, headers=admin)
        assert made.status_code == 201, made.text
    system = {
        "system_code": "DC01",
        "name": "1#布袋除尘器",
        "collector": "dry",
        "collector_type": "bag",
    }
    made = await api.post(f"/api/v1/enterprises/{RED}/systems", json=system, headers=admin)
    assert made.status_code == 201, made.text
    camera = {
        "gb28181_id": GB,
        "name": "除尘器摄像机",
        "system_code": "DC01",
        "live": {"hls": LIVE_HLS},
    }
    made = await api.post(f"/api/v1/enterprises/{RED}/cameras", json=camera, headers=admin)
    assert made.status_code == 201, made.text


async def _live_state(dsn: str) -> None:
    """RED: red and online, an open HHA alarm, an open warning escalated to the city."""
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for code, level, online in ((RED, "red", True), (BLUE, "blue", False)):
            await conn.execute(
                "UPDATE things SET features = jsonb_set(jsonb_set(features,"
                " '{risk,properties,level}', %s::jsonb), '{connectivity,properties,online}',"
                " %s::jsonb) WHERE kind = 'enterprise' AND credit_code = %s",
                (json.dumps(level), json.dumps(online), code),
            )
        subject = Subject(f"dusttwin:point-{RED}-DC01-HOPPER_TEMP-1", RED, "310113", None, "DC01")
        change = Change("raise", "HIGH", "HHA", now, value=95.0, limit=90.0)
        await apply_changes(conn, [(subject, change)], now, Deadlines())
        cur = await conn.execute(
            "INSERT INTO warnings (credit_code, adcode, trigger, level, raised_at, tier,"
            " tier_adcode, ack_deadline, feedback_deadline, detail) VALUES (%s, '310113', 'red',"
            " 'red', %s, 'city', '310000', %s, %s, '{}') RETURNING id",
            (RED, now - timedelta(hours=3), now - timedelta(hours=3), now - timedelta(hours=1)),
        )
        row = await cur.fetchone()
        assert row is not None
        step = {"tier": "city", "requested_tier": "city", "regulator_adcode": "310000"}
        await conn.execute(
            "INSERT INTO warning_history (warning_id, at, action, actor, detail)"
            " VALUES (%s, %s, 'escalated', 'system', %s)",
            (row[0], now - timedelta(hours=1), json.dumps({**step, "at": now.isoformat()})),
        )


@pytest_asyncio.fixture(scope="module")
async def ours(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> str:
    """Two Baoshan enterprises of this module's own, in known states; the DSN."""
    dsn = seeded["DUSTTWIN_DATABASE_URL"]
    await _register(api, tokens["admin"])
    await _live_state(dsn)
    return dsn


@pytest.fixture(scope="module")
def app(settings: Settings, ours: str) -> dash.Dash:
    """The Dash app on the seeded database."""
    return create_app(override(settings, database_url=ours))


def page(path: str) -> Any:
    """A page module as Dash Pages imported it."""
    found = next(
        p
        for p in dash.page_registry.values()
        if p["path"] == path or p.get("path_template") == path
    )
    return sys.modules[found["module"]]


def cookie(settings: Settings, username: str) -> dict[str, str]:
    """The login cookie of a demo user."""
    return {"Cookie": f"{COOKIE}={issue_token(settings.secret_key.get_secret_value(), username)}"}


def post_as(app: dash.Dash, settings: Settings, username: str | None, body: dict[str, Any]) -> Any:
    """A callback request of a browser logged in as ``username`` (None: not logged in)."""
    client = app.server.test_client()
    if username is not None:
        client.set_cookie(COOKIE, issue_token(settings.secret_key.get_secret_value(), username))
    return client.post("/_dash-update-component", json=body)


def found_codes(dsn: str, scope: Scope, f: SpotFilter) -> set[str]:
    """The credit codes a search finds (every page)."""
    _, rows = run(dsn, lambda conn: search_enterprises(conn, scope, f, limit=1000))
    return {r.credit_code for r in rows}


# ---------------------------------------------------------------- each filter narrows


@pytest.mark.parametrize(
    ("form", "finds", "misses"),
    [
        ({"levels": ["red"]}, RED, BLUE),
        ({"levels": ["blue"]}, BLUE, RED),
        ({"online": "yes"}, RED, BLUE),
        ({"online": "no"}, BLUE, RED),
        ({"alarms": "yes"}, RED, BLUE),
        ({"alarms": "no"}, BLUE, RED),
        ({"warnings": "yes"}, RED, BLUE),
        ({"warnings": "no"}, BLUE, RED),
        ({"dust": "aluminium"}, RED, BLUE),
        ({"dust": "wood"}, BLUE, RED),
        ({"industry": "C20 木材加工"}, BLUE, RED),
        ({"workers_min": 30}, RED, BLUE),
        ({"workers_max": 10}, BLUE, RED),
        ({"q": RED[:17]}, RED, BLUE),  # the start of a credit code
        ({"q": "蓝木业"}, BLUE, RED),  # part of a name
    ],
)
def test_each_filter_narrows_the_search(
    app: dash.Dash, ours: str, form: dict[str, Any], finds: str, misses: str
) -> None:
    spot = page("/spotcheck")
    values = spot.FormValues(**{"q": NAME_PART, **form})
    shown = spot.results(BAOSHAN_REG, values, 0, ours, "zh")
    text = str(shown.table)
    assert f"spot-row-{finds}" in text
    assert f"spot-row-{misses}" not in text


def test_without_a_name_the_filters_still_hold_across_the_jurisdiction(ours: str) -> None:
    red = found_codes(ours, BAOSHAN_REG, SpotFilter(levels=("red",)))
    offline_wood = found_codes(ours, BAOSHAN_REG, SpotFilter(dust_type="wood", online=False))
    assert RED in red
    assert BLUE not in red
    assert BLUE in offline_wood
    assert {e.record.credit_code for e in BAOSHAN if e.record.dust_types == ["wood"]} <= (
        offline_wood
    )
    assert RED not in offline_wood


def test_a_jiading_regulator_never_finds_baoshan_enterprises(ours: str) -> None:
    everything = found_codes(ours, JIADING_REG, SpotFilter())
    by_name = found_codes(ours, JIADING_REG, SpotFilter(q=NAME_PART))
    forged_region = found_codes(ours, JIADING_REG, SpotFilter(region="310113"))
    assert {e.record.credit_code for e in JIADING} <= everything
    assert everything.isdisjoint({e.record.credit_code for e in BAOSHAN} | {RED, BLUE})
    assert by_name == set()
    assert forged_region == set()


def test_region_choices_stay_inside_the_jurisdiction(ours: str) -> None:
    shanghai = run(ours, lambda conn: region_options(conn, SHANGHAI_REG))
    baoshan = run(ours, lambda conn: region_options(conn, BAOSHAN_REG))
    codes = [r.adcode for r in shanghai]
    assert {"310000", "310113", "310114", "310120"} <= set(codes)
    assert "310100" not in codes  # the municipality's placeholder city: the same as 310000
    assert [r.adcode for r in baoshan] == ["310113"]
    sub_region = found_codes(ours, SHANGHAI_REG, SpotFilter(region="310114"))
    assert JIADING_ONE.record.credit_code in sub_region
    assert RED not in sub_region


def test_forged_form_values_find_nothing_or_are_ignored(app: dash.Dash, ours: str) -> None:
    spot = page("/spotcheck")
    forged = spot.filter_from(
        spot.FormValues(
            region="' OR 1=1 --", levels=["red", "purple"], dust="uranium", workers_min="x"
        )
    )
    assert forged.levels == ("red",)
    assert forged.dust_type is None
    assert forged.workers_min is None
    assert found_codes(ours, BAOSHAN_REG, forged) == set()  # no region by that code


def test_results_are_paged_with_the_count_shown(app: dash.Dash, ours: str) -> None:
    spot = page("/spotcheck")
    first = spot.results(BAOSHAN_REG, spot.FormValues(), 0, ours, "en")
    second = spot.results(BAOSHAN_REG, spot.FormValues(), 1, ours, "en")
    beyond = spot.results(BAOSHAN_REG, spot.FormValues(), 99, ours, "en")
    total = int(first.summary.split()[0])  # "32 enterprises, page 1 of 2"
    assert total >= len(BAOSHAN) + 2  # the demo's and this module's (other tests add more)
    assert str(first.table).count("spot-row-") == spot.PAGE_SIZE
    assert (first.has_prev, first.has_next) == (False, True)
    assert second.has_prev
    assert f"page 2 of {-(-total // spot.PAGE_SIZE)}" in second.summary
    assert beyond.page == (total - 1) // spot.PAGE_SIZE  # past the end: the last page
    assert "spot-row-" in str(beyond.table)


def test_each_result_opens_the_one_screen_view(app: dash.Dash, ours: str) -> None:
    spot = page("/spotcheck")
    shown = spot.results(BAOSHAN_REG, spot.FormValues(q=NAME_PART), 0, ours, "zh")
    text = str(shown.table)
    assert f"spot-open-{RED}" in text
    assert f"/onescreen/{RED}" in text
    assert "红色（重大风险）" in text


# ---------------------------------------------------------------- the page and its callback


def test_the_layout_follows_the_login(app: dash.Dash, settings: Settings) -> None:
    spot = page("/spotcheck")
    with app.server.test_request_context("/spotcheck", headers=cookie(settings, "baoshan")):
        regulator = str(spot.layout(q=NAME_PART))
    with app.server.test_request_context("/spotcheck", headers=cookie(settings, "qiye-310113")):
        enterprise = str(spot.layout())
    with app.server.test_request_context("/spotcheck"):
        anonymous = str(spot.layout())
    assert f"spot-row-{RED}" in regulator
    assert "spot-region" in regulator
    assert spot.SPOT_DENIED in enterprise
    assert "spot-row-" not in enterprise
    assert "请先登录后查看" in anonymous
    assert "spot-row-" not in anonymous


def _callback_body(app: dash.Dash, output_has: str, values: dict[str, Any]) -> dict[str, Any]:
    """The request a browser sends to run the callback whose outputs include ``output_has``."""
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if output_has in d["output"])

    def item(spec: dict[str, Any]) -> dict[str, Any]:
        key = f"{spec['id']}.{spec['property']}"
        return {**spec, "value": values.get(key)}

    outputs = [
        {"id": part.split(".")[0], "property": part.split(".")[1].split("@")[0]}
        for part in dep["output"].strip(".").split("...")
    ]
    return {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": [item(i) for i in dep["inputs"]],
        "state": [item(s) for s in dep["state"]],
        "changedPropIds": [k for k in values if k.endswith(".n_clicks")],
    }


def test_the_search_callback_over_http_searches_as_the_cookie_says(
    app: dash.Dash, settings: Settings
) -> None:
    body = _callback_body(
        app,
        "spot-results.children",
        {"spot-search.n_clicks": 1, "lang-store.data": "zh", "spot-name.value": NAME_PART},
    )
    as_baoshan = post_as(app, settings, "baoshan", body)
    as_jiading = post_as(app, settings, "jiading", body)
    anonymous = post_as(app, settings, None, body)
    assert as_baoshan.status_code == 200, as_baoshan.get_data(as_text=True)
    assert f"spot-row-{RED}" in json.dumps(as_baoshan.get_json(), ensure_ascii=False)
    assert as_jiading.status_code == 200
    jiading_text = json.dumps(as_jiading.get_json(), ensure_ascii=False)
    assert "spot-row-" not in jiading_text
    assert "没有符合条件的企业" in jiading_text
    assert anonymous.status_code == 204  # nothing for a caller without a login


# ---------------------------------------------------------------- the one-screen view


def test_one_screen_shows_the_enterprise_whole(app: dash.Dash, ours: str) -> None:
    one = page("/onescreen/<credit_code>")
    with app.server.test_request_context(f"/onescreen/{RED}"):
        shown = str(one.page_for(BAOSHAN_REG, RED, ours, LINKS))
    for part in ("one-profile", "one-systems", "one-alarms", "one-warnings", "one-cleaning"):
        assert part in shown
    assert f"上海{NAME_PART}红铝业有限公司" in shown
    assert "one-system-DC01" in shown
    assert "HHA" in shown  # the open alarm, with its history folded in
    assert "报警产生" in shown
    assert "市级 上海市" in shown  # the warning was escalated to the municipal bureau
    assert f"one-camera-{GB}" in shown
    assert f"one-video-{GB}" in shown
    assert f"one-live-{GB}" in shown


def test_one_screen_never_shows_a_camera_credential(app: dash.Dash, ours: str) -> None:
    one = page("/onescreen/<credit_code>")
    with app.server.test_request_context(f"/onescreen/{RED}"):
        shown = str(one.page_for(BAOSHAN_REG, RED, ours, LINKS))
        cameras = one.cameras_for(BAOSHAN_REG, RED, ours, LINKS)
    assert all(secret not in shown for secret in SECRETS)
    (camera,) = cameras
    assert camera.live_url is not None
    assert camera.live_url.startswith("http://127.0.0.1:8000/api/v1/video/")
    token = camera.live_url.rsplit("/", 1)[1]
    grant = open_grant(LINKS.secret, token, datetime.now(UTC))
    assert (grant.camera, grant.kind) == (GB, "hls")
    assert all(secret not in camera.live_url for secret in SECRETS)


def test_one_screen_outside_the_jurisdiction_is_not_found(
    app: dash.Dash, ours: str, settings: Settings
) -> None:
    one = page("/onescreen/<credit_code>")
    unknown_code = made_up_credit_code("QCK", 99)
    with app.server.test_request_context(f"/onescreen/{RED}"):
        outsider = one.page_for(JIADING_REG, RED, ours, LINKS)
        unknown = one.page_for(BAOSHAN_REG, unknown_code, ours, LINKS)
        other_enterprise = one.page_for(
            Scope.enterprise("qiye-310114", JIADING_ONE.record.credit_code), RED, ours, LINKS
        )
        cameras = one.cameras_for(JIADING_REG, RED, ours, LINKS)
    with app.server.test_request_context(f"/onescreen/{RED}", headers=cookie(settings, "jiading")):
        by_cookie = str(one.layout(credit_code=RED))
    assert str(outsider) == str(unknown) == str(other_enterprise)
    assert "未找到该企业" in str(outsider)
    assert one.ONE_NOT_FOUND in by_cookie
    assert NAME_PART not in by_cookie
    assert GB not in by_cookie
    assert cameras == ()


def test_running_state_follows_the_fan_signal() -> None:
    def fan(value: float | None, online: bool | None) -> PointRow:
        return PointRow(
            1, "t", "DC01-FAN_RUN-1", "DC01", "FAN_RUN", "风机运行", "0/1", value,
            "2025-03-03T10:00:00+00:00", "GOOD", "normal", None, online,
        )  # fmt: skip

    def state(*points: PointRow) -> bool | None:
        view = PlantView("X", (SystemRow("DC01", "1#", "dry", points),))
        return system_states(view, "FAN_RUN")[0].running

    assert state(fan(1.0, True)) is True
    assert state(fan(0.0, True)) is False
    assert state(fan(1.0, False)) is None  # an offline signal says nothing about now
    assert state(fan(None, True)) is None
    assert state() is None  # no running signal registered
