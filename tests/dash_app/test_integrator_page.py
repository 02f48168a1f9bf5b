"""The integrator page: a gateway's refusals show with their reasons, points are registered
through the registry with the limits given, and a duplicate, a bad limit order or another's
enterprise is refused with nothing created — also when the credit code is forged in a callback.
"""

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
from flask.testing import FlaskClient

from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.integrator_queries import (
    GatewayView,
    PointForm,
    form_state,
    gateway_view,
    last_message_kind,
    overrides,
    run_with_store,
    unknown_codes,
)
from device_catalog import load_catalog
from dusttwin.settings import Settings
from tests.api.demo_data import BAOSHAN, GRANTED, JIADING_ONE, UNGRANTED_BAOSHAN
from tests.helpers import override
from twins.records import get_record
from twins.registry import KINDS, public_point
from twins.scope import Scope
from twins.tokens import issue_token

CC = GRANTED.record.credit_code  # engaged the demo integrator
AL = BAOSHAN[2].record.credit_code  # engaged it too; aluminium dust
STRANGER = UNGRANTED_BAOSHAN.record.credit_code  # did not
INTEGRATOR = Scope.integrator("integrator", frozenset(e.record.credit_code for e in BAOSHAN[:10]))
OTHER_INTEGRATOR = Scope.integrator("integrator-2", frozenset({JIADING_ONE.record.credit_code}))
GW = "GW95"
SYSTEM = "DC95"
GOOD_POINT = f"{SYSTEM}-HOPPER_TEMP-1"


# ---------------------------------------------------------------- the plant and what it sent


@pytest.fixture(scope="module")
def dsn(seeded: dict[str, str]) -> str:
    """The seeded demo database."""
    return seeded["DUSTTWIN_DATABASE_URL"]


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest_asyncio.fixture(scope="module")
async def sent(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A gateway of CC with a dry system and one point, which then sent, over HTTP ingest, a
    batch holding a good reading, an unregistered code and a text value, then a broken body."""
    h = tokens["admin"]
    gateway = await _created(
        await api.post(f"/api/v1/enterprises/{CC}/gateways", json={"gateway_id": GW}, headers=h)
    )
    for cc, code in ((CC, SYSTEM), (AL, "DC96")):
        system = {
            "system_code": code,
            "name": "95#布袋除尘器",
            "collector": "dry",
            "collector_type": "bag",
        }
        await _created(await api.post(f"/api/v1/enterprises/{cc}/systems", json=system, headers=h))
    point = {
        "point_code": GOOD_POINT,
        "system_code": SYSTEM,
        "indicator": "HOPPER_TEMP",
        "unit": "°C",
        "gateway_id": GW,
    }
    await _created(await api.post(f"/api/v1/enterprises/{CC}/points", json=point, headers=h))
    auth = (gateway["mqtt_username"], gateway["password"])
    now = datetime.now(UTC).replace(microsecond=0)
    batch = {
        "msg_id": "int-95-1",
        "ts": (now - timedelta(seconds=5)).isoformat(),
        "points": [
            {"code": GOOD_POINT, "value": 55},
            {"code": "NOPE-95", "value": 1},
            {"code": GOOD_POINT, "value": "hot", "ts": (now - timedelta(seconds=4)).isoformat()},
        ],
    }
    reply = await api.post(f"/api/v1/ingest/{CC}/{GW}/rts", json=batch, auth=auth)
    broken = await api.post(f"/api/v1/ingest/{CC}/{GW}/rts", content=b"{nope", auth=auth)
    assert reply.status_code == 200, reply.text
    assert reply.json()["accepted"] == 1
    assert broken.status_code == 400
    return {"reply": reply.json()}


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str) -> dash.Dash:
    """The Dash app on the seeded database."""
    return create_app(override(settings, database_url=dsn))


def integrator_page(app: dash.Dash) -> Any:
    """The page module as Dash Pages imported it (importing it again would register it twice)."""
    page = next(p for p in dash.page_registry.values() if p["path"] == "/integrator")
    return sys.modules[page["module"]]


def client_as(app: dash.Dash, secret: str, username: str) -> FlaskClient:
    """A test client carrying ``username``'s login cookie."""
    client: FlaskClient = app.server.test_client()
    client.set_cookie(COOKIE, issue_token(secret, username))
    return client


def fire(
    client: FlaskClient,
    app: dash.Dash,
    output: str,
    inputs: list[tuple[str, str, Any]],
    state: list[tuple[str, str, Any]] | None = None,
) -> Any:
    """POST one callback as the browser would; the JSON answer (or the status code)."""
    client.get("/_dash-dependencies")  # the app takes its callbacks on its first request
    key = next(k for k in app.callback_map if output in k)
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    outputs = [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]
    body = {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state or []],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    response = client.post("/_dash-update-component", json=body)
    return response.get_json() if response.status_code == 200 else response.status_code


def points_of(dsn: str, thing_ids: list[str]) -> list[str]:
    """Which of these twins exist (live)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT thing_id FROM things WHERE thing_id = ANY(%s) AND deleted_at IS NULL",
            (thing_ids,),
        ).fetchall()
    return [r[0] for r in rows]


def view_of(dsn: str, scope: Scope, cc: str, gateway: str) -> GatewayView | None:
    """The page's diagnostics of one gateway, as ``scope`` reads them."""
    now = datetime.now(UTC)
    return run_with_store(
        dsn, lambda store, conn: gateway_view(store, conn, scope, cc, gateway, now)
    )


def form(**changes: Any) -> PointForm:
    """A hopper temperature point on DC95 of CC, catalog limits (HA 70, HHA 90) unless changed."""
    base: dict[str, Any] = dict(
        credit_code=CC,
        system_code=SYSTEM,
        indicator="HOPPER_TEMP",
        point_code=f"{SYSTEM}-HOPPER_TEMP-2",
        name="2#灰斗温度",
        unit="°C",
        range_low=-20.0,
        range_high=200.0,
        limits={"hha": 90.0, "ha": 70.0, "la": None, "lla": None},
        gateway_id=GW,
    )
    return PointForm(**{**base, **changes})


# ---------------------------------------------------------------- pure rules of the page


def test_unknown_codes_are_counted_from_the_dead_letters_newest_first() -> None:
    rejections = [
        {"received_at": "2026-01-02T10:00:00+00:00", "rejected": [
            {"index": 0, "code": "X-1", "reason": "unknown point"},
            {"index": 1, "code": "Y-1", "reason": "value is not a finite number"},
        ]},
        {"received_at": "2026-01-02T09:00:00+00:00", "rejected": [
            {"index": 0, "code": "X-1", "reason": "unknown point"},
            {"index": 2, "code": "Z-1", "reason": "unknown point"},
        ]},
    ]  # fmt: skip
    found = unknown_codes(rejections)
    assert [(u.code, u.times, u.last_at) for u in found] == [
        ("X-1", 2, "2026-01-02T10:00:00+00:00"),
        ("Z-1", 1, "2026-01-02T09:00:00+00:00"),
    ]


def test_the_last_message_kind_follows_the_connectivity_stamp_it_matches() -> None:
    at = datetime(2026, 1, 2, 10, 0, 0, 123456, tzinfo=UTC)
    beat = {"last_seen": "2026-01-02T09:59:00+00:00", "last_heartbeat": at.isoformat()}
    assert last_message_kind(at, beat, None) == "heartbeat"
    assert last_message_kind(at, {"last_seen": at.isoformat()}, None) == "data"
    assert last_message_kind(at, {"last_seen": "2026-01-02T09:59:00+00:00"}, {"kind": "rts"}) == (
        "refused"
    )
    assert last_message_kind(None, beat, None) is None


def test_only_limits_shown_differently_from_the_catalog_become_overrides() -> None:
    defaults = {"hha": 90.0, "ha": 70.0, "la": None, "lla": None}
    shown = {"hha": 90.0, "ha": 65.0, "la": None, "lla": 0.0}
    assert overrides(shown, defaults) == {"ha": 65.0, "lla": 0.0}
    assert overrides({**defaults, "hha": None}, defaults) == {"hha": None}  # switched off


def test_a_form_with_a_missing_code_or_a_word_for_a_limit_says_what_is_wrong(
    app: dash.Dash,
) -> None:
    page = integrator_page(app)
    values = {"point_code": "", "unit": "°C", "ha": 70}
    assert page.read_form(CC, SYSTEM, "HOPPER_TEMP", values, "zh") == "请填写: 点位编码"
    values = {"point_code": "P-1", "unit": "°C", "ha": "hot"}
    assert page.read_form(CC, SYSTEM, "HOPPER_TEMP", values, "en") == "High HA is not a number"


# ---------------------------------------------------------------- gateway diagnostics


def test_the_diagnostics_show_the_refusals_with_their_reasons(
    app: dash.Dash, dsn: str, sent: dict[str, Any]
) -> None:
    view = view_of(dsn, INTEGRATOR, CC, GW)
    assert view is not None
    reasons = {
        (e["code"], e["reason"]) for r in view.diagnostics.recent_rejections for e in r["rejected"]
    }
    assert ("NOPE-95", "unknown point") in reasons
    assert (GOOD_POINT, "value of type str; expected a number") in reasons
    assert any(reason.startswith("not UTF-8 JSON") for _, reason in reasons)
    assert [u.code for u in view.unknown] == ["NOPE-95"]
    assert view.diagnostics.accepted_1h == 1
    assert view.diagnostics.rejected_1h == 3  # two entries and one whole message
    assert view.last_kind == "refused"  # the broken body came last
    assert view.clock is not None
    assert 0 <= view.clock.median_s < 60  # the reading was stamped 5 s before it arrived
    panel = str(integrator_page(app).diagnostics_panel(view, "zh"))
    assert "unknown point" in panel
    assert "NOPE-95" in panel
    assert "被拒收" in panel


def test_another_integrator_or_a_stranger_gateway_gets_no_diagnostics(
    dsn: str, sent: dict[str, Any]
) -> None:
    assert view_of(dsn, OTHER_INTEGRATOR, CC, GW) is None
    assert view_of(dsn, INTEGRATOR, STRANGER, "GW01") is None
    assert view_of(dsn, INTEGRATOR, CC, "NO-SUCH") is None
    assert view_of(dsn, INTEGRATOR, CC, "../GW95") is None  # not a gateway id at all


def test_the_diagnostics_callback_over_http_follows_the_login_not_the_inputs(
    app: dash.Dash, settings_secret: str, sent: dict[str, Any]
) -> None:
    page = integrator_page(app)
    inputs = [
        (page.INT_TICK, "n_intervals", 1),
        (page.INT_ENTERPRISE, "value", CC),
        (page.INT_GATEWAY, "value", GW),
        ("lang-store", "data", "zh"),
    ]
    own = fire(client_as(app, settings_secret, "integrator"), app, page.INT_DIAGNOSTICS, inputs)
    forged = [
        inputs[0],
        (page.INT_ENTERPRISE, "value", STRANGER),
        (page.INT_GATEWAY, "value", "GW01"),
        inputs[3],
    ]
    integrator = client_as(app, settings_secret, "integrator")
    stranger = fire(integrator, app, page.INT_DIAGNOSTICS, forged)
    regulator = fire(client_as(app, settings_secret, "baoshan"), app, page.INT_DIAGNOSTICS, inputs)
    assert "NOPE-95" in json.dumps(own, ensure_ascii=False)
    shown = json.dumps(stranger, ensure_ascii=False)
    assert "未找到该网关" in shown
    assert "GW01" not in shown
    assert regulator == 204  # not an integrator's page: nothing is sent back


# ---------------------------------------------------------------- point registration


def test_the_form_is_prefilled_with_the_registrys_own_defaults(
    dsn: str, sent: dict[str, Any]
) -> None:
    catalog = load_catalog()
    hopper = run_with_store(
        dsn, lambda _s, conn: form_state(conn, INTEGRATOR, CC, catalog, SYSTEM, "HOPPER_TEMP")
    )
    duct = run_with_store(
        dsn, lambda _s, conn: form_state(conn, INTEGRATOR, AL, catalog, "DC96", "DUCT_VEL")
    )
    stranger = run_with_store(
        dsn, lambda _s, conn: form_state(conn, INTEGRATOR, STRANGER, catalog, "DC01")
    )
    assert hopper.defaults is not None
    assert hopper.defaults.limits == {"hha": 90.0, "ha": 70.0, "la": None, "lla": None}
    assert (hopper.defaults.range_low, hopper.defaults.range_high) == (-20.0, 200.0)
    taken = [p.point_code for p in hopper.points]
    assert GOOD_POINT in taken
    assert hopper.point_code not in taken  # the next free code of the system
    assert str(hopper.point_code).startswith(f"{SYSTEM}-HOPPER_TEMP-")
    assert "WATER_FLOW" not in [i.code for i in hopper.indicators]  # a dry system
    assert duct.defaults is not None
    assert duct.defaults.limits["la"] == 23.0  # aluminium dust: the catalog's Al/Mg limit
    assert stranger.systems == []
    assert stranger.defaults is None


def test_registering_a_point_creates_it_with_the_limits_given(
    app: dash.Dash, dsn: str, sent: dict[str, Any]
) -> None:
    page = integrator_page(app)
    ok, text = page.register(INTEGRATOR, form(limits={"hha": 90.0, "ha": 65.0}), dsn, "zh")
    thing = run_with_store(
        dsn,
        lambda store, _c: get_record(
            store, Scope.admin(), KINDS["point"], CC, f"{SYSTEM}-HOPPER_TEMP-2"
        ),
    )
    record = public_point(thing.attributes, load_catalog())
    with psycopg.connect(dsn) as conn:
        actor = conn.execute(
            "SELECT actor FROM thing_changes WHERE thing_id = %s AND op = 'created'",
            (thing.thing_id,),
        ).fetchone()
    assert ok, text
    assert "DC95-HOPPER_TEMP-2" in text
    assert "HA 65" in text
    assert thing.attributes["limits"] == {"ha": 65.0}  # HHA unchanged: follows the catalog
    assert record.effective_limits["ha"] == 65.0
    assert record.effective_limits["hha"] == 90.0
    assert record.gateway_id == GW
    assert record.name == "2#灰斗温度"
    assert actor == ("integrator",)


def test_a_duplicate_code_is_refused_and_the_point_stays_as_it_was(
    app: dash.Dash, dsn: str, sent: dict[str, Any]
) -> None:
    page = integrator_page(app)
    duplicate = form(point_code=GOOD_POINT, limits={"hha": 90.0, "ha": 50.0})
    ok, text = page.register(INTEGRATOR, duplicate, dsn, "zh")
    thing = run_with_store(
        dsn, lambda store, _c: get_record(store, Scope.admin(), KINDS["point"], CC, GOOD_POINT)
    )
    assert not ok
    assert text == f"登记被拒绝，未创建任何点位: 该点位编码已登记 ({GOOD_POINT})"
    assert not thing.attributes.get("limits")  # registered without overrides, and still so


@pytest.mark.parametrize(
    ("scope", "cc", "system"),
    [(INTEGRATOR, STRANGER, "DC01"), (OTHER_INTEGRATOR, CC, SYSTEM)],
    ids=["enterprise-not-granted", "another-integrator"],
)
def test_someone_elses_enterprise_is_not_found_and_nothing_is_created(
    app: dash.Dash, dsn: str, sent: dict[str, Any], scope: Scope, cc: str, system: str
) -> None:
    page = integrator_page(app)
    code = f"{system}-HOPPER_TEMP-7"
    theirs = form(credit_code=cc, system_code=system, point_code=code)
    ok, text = page.register(scope, theirs, dsn, "en")
    assert not ok
    assert "not found" in text
    assert points_of(dsn, [f"dusttwin:point-{cc}-{code}"]) == []


def test_limits_in_the_wrong_order_are_refused_with_the_reason(
    app: dash.Dash, dsn: str, sent: dict[str, Any]
) -> None:
    page = integrator_page(app)
    code = f"{SYSTEM}-HOPPER_TEMP-8"
    ok, text = page.register(
        INTEGRATOR, form(point_code=code, limits={"hha": 90.0, "ha": 95.0}), dsn, "zh"
    )
    assert not ok
    assert text.startswith("登记被拒绝，未创建任何点位: ")
    assert "HA 95 must be below HHA 90" in text
    assert points_of(dsn, [f"dusttwin:point-{CC}-{code}"]) == []


def test_an_indicator_for_wet_collectors_is_refused_on_a_dry_system(
    app: dash.Dash, dsn: str, sent: dict[str, Any]
) -> None:
    page = integrator_page(app)
    code = f"{SYSTEM}-WATER_FLOW-1"
    wet = form(
        indicator="WATER_FLOW", point_code=code, unit="m³/h", range_low=None, range_high=None
    )
    ok, text = page.register(INTEGRATOR, wet, dsn, "en")
    assert not ok
    assert "applies to wet collectors" in text
    assert points_of(dsn, [f"dusttwin:point-{CC}-{code}"]) == []


def register_state(page: Any, cc: str, code: str) -> list[tuple[str, str, Any]]:
    """The registration form's fields as the browser sends them with the button's click."""
    values = [
        (page.INT_ENTERPRISE, cc),
        (page.INT_SYSTEM, SYSTEM if cc == CC else "DC01"),
        (page.INT_INDICATOR, "HOPPER_TEMP"),
        (page.INT_POINT_CODE, code),
        (page.INT_POINT_NAME, ""),
        (page.INT_UNIT, "°C"),
        (page.INT_RANGE_LOW, -20),
        (page.INT_RANGE_HIGH, 200),
        (page.INT_LIMITS["hha"], 90),
        (page.INT_LIMITS["ha"], 70),
        (page.INT_LIMITS["la"], None),
        (page.INT_LIMITS["lla"], None),
        (page.INT_POINT_GATEWAY, ""),
        ("lang-store", "zh"),
    ]
    return [(i, "data" if i == "lang-store" else "value", v) for i, v in values]


def test_the_register_callback_refuses_a_forged_credit_code_and_creates_nothing(
    app: dash.Dash, dsn: str, settings_secret: str, sent: dict[str, Any]
) -> None:
    page = integrator_page(app)
    client = client_as(app, settings_secret, "integrator")
    click = [(page.INT_REGISTER, "n_clicks", 1)]
    theirs = register_state(page, STRANGER, "DC01-HOPPER_TEMP-9")
    mine = register_state(page, CC, f"{SYSTEM}-HOPPER_TEMP-9")
    forged = fire(client, app, page.INT_RESULT, click, theirs)
    own = fire(client, app, page.INT_RESULT, click, mine)
    forged_text = json.dumps(forged["response"][page.INT_RESULT], ensure_ascii=False)
    own_text = json.dumps(own["response"], ensure_ascii=False)
    assert "未找到该企业或除尘系统" in forged_text
    assert page.INT_POINTS not in forged["response"]  # the list is left as it was
    assert points_of(dsn, [f"dusttwin:point-{STRANGER}-DC01-HOPPER_TEMP-9"]) == []
    assert "已登记点位 DC95-HOPPER_TEMP-9" in own_text
    assert "int-point-DC95-HOPPER_TEMP-9" in own_text  # the system's list shows it at once
    assert points_of(dsn, [f"dusttwin:point-{CC}-{SYSTEM}-HOPPER_TEMP-9"]) != []


# ---------------------------------------------------------------- who gets the page


def cookie(secret: str, username: str | None) -> dict[str, str]:
    """The login cookie of ``username`` as a request header; none for nobody."""
    return {"Cookie": f"{COOKIE}={issue_token(secret, username)}"} if username else {}


@pytest.mark.parametrize(
    ("username", "expected"),
    [("integrator", "集成商工作台"), ("baoshan", "未找到该页面"), (None, "请先登录后查看")],
)
def test_the_page_is_the_integrators_and_offers_only_its_enterprises(
    app: dash.Dash, settings_secret: str, username: str | None, expected: str
) -> None:
    page = integrator_page(app)
    with app.server.test_request_context("/integrator", headers=cookie(settings_secret, username)):
        shown = str(page.layout())
    assert expected in shown
    assert STRANGER not in shown
    assert (CC in shown) is (username == "integrator")
