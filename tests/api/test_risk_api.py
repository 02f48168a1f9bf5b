"""Risk judgement and warnings: an explosion makes an enterprise red, a warning goes out and up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest_asyncio

from connectors.protocol import DeviceEvent
from device_catalog import load_catalog
from risk.assessment import assess
from risk.evaluator import LimitEvaluator
from risk.model import default_model
from tests.api.demo_data import BAOSHAN, JIADING_ONE
from twins.users import add_user

ENTERPRISE = BAOSHAN[2].record.credit_code
PASSWORD = "risk-test-password-1"


@pytest_asyncio.fixture(scope="module")
async def db(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection to the seeded database."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as conn:
        yield conn


@pytest_asyncio.fixture(scope="module")
async def plant(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], db: psycopg.AsyncConnection[Any]
) -> dict[str, str]:
    """A system with a vent-burst point at a Baoshan enterprise, and that enterprise's user."""
    admin = tokens["admin"]
    base = f"/api/v1/enterprises/{ENTERPRISE}"
    system = {
        "system_code": "DC70",
        "name": "7#除尘器",
        "collector": "dry",
        "collector_type": "bag",
    }
    for path, body in (
        ("systems", system),
        ("gateways", {"gateway_id": "GW70"}),
        (
            "points",
            {
                "point_code": "DC70-VENT_BURST-1",
                "system_code": "DC70",
                "indicator": "VENT_BURST",
                "unit": "0/1",
                "gateway_id": "GW70",
            },
        ),
    ):
        made = await api.post(f"{base}/{path}", json=body, headers=admin)
        assert made.status_code == 201, made.text
    await add_user(db, "qiye-risk-test", "enterprise", ENTERPRISE, PASSWORD)
    token = await api.post(
        "/api/v1/auth/token", data={"username": "qiye-risk-test", "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def _explode(db: psycopg.AsyncConnection[Any], event_type: str, at: datetime) -> None:
    cur = await db.execute(
        "SELECT id FROM things WHERE thing_id = %s",
        (f"dusttwin:point-{ENTERPRISE}-DC70-VENT_BURST-1",),
    )
    row = await cur.fetchone()
    assert row is not None
    async with db.transaction():
        event = DeviceEvent(at, int(row[0]), event_type, None, "泄爆片", False)
        await LimitEvaluator(load_catalog())(db, [], [event])


async def test_the_model_in_force_is_shown_with_its_version(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    reply = await api.get("/api/v1/risk/model", headers=tokens["baoshan"])
    assert reply.status_code == 200
    body = reply.json()
    assert body["version"] == default_model().version
    assert body["refused"] is None
    assert "source" not in body


async def test_the_model_is_a_service_that_stores_nothing(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], db: psycopg.AsyncConnection[Any]
) -> None:
    now = datetime.now(UTC)
    inputs = {
        "dust_class": "metal",
        "al_mg": True,
        "workers": 40,
        "dry_systems": 2,
        "alarms": [
            {
                "alarm_id": "a1",
                "level": "HHA",
                "indicator": "HOPPER_TEMP",
                "mandatory": True,
                "raised_at": (now - timedelta(hours=1)).isoformat(),
            }
        ],
    }
    before = await (await db.execute("SELECT count(*) FROM risk_evaluations")).fetchone()
    reply = await api.post(
        "/api/v1/risk/evaluate", json={"inputs": inputs}, headers=tokens["baoshan"]
    )
    both = await api.post(
        "/api/v1/risk/evaluate",
        json={"inputs": inputs, "credit_code": ENTERPRISE},
        headers=tokens["baoshan"],
    )
    after = await (await db.execute("SELECT count(*) FROM risk_evaluations")).fetchone()
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body["components"]) == {"inherent", "alarm", "management"}
    assert body["level"] in ("red", "orange", "yellow", "blue")
    assert body["stored"] is False
    assert any(c["ref"] == "a1" for c in body["components"]["alarm"]["contributions"])
    assert both.status_code == 422
    assert before == after


async def test_an_explosion_makes_the_enterprise_red_and_a_warning_goes_out_and_up(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    db: psycopg.AsyncConnection[Any],
    plant: dict[str, str],
) -> None:
    model = default_model()
    now = datetime.now(UTC)
    await _explode(db, "ACTIVE", now - timedelta(seconds=30))
    async with db.transaction():
        first = await assess(db, model, now, [ENTERPRISE])
    async with db.transaction():
        again = await assess(db, model, now + timedelta(minutes=1), [ENTERPRISE])
    assert (first.evaluated, first.stored, first.level_changes, first.warnings_raised) == (
        1,
        1,
        1,
        1,
    )
    assert (again.stored, again.warnings_raised) == (0, 0)  # unchanged: confirmed, not repeated

    risk = await api.get(f"/api/v1/enterprises/{ENTERPRISE}/risk", headers=plant)
    assert risk.status_code == 200, risk.text
    assert risk.json()["level"] == "red"
    assert risk.json()["overrides"][0]["level"] == "red"
    twin = await api.get(f"/api/2/things/dusttwin:enterprise-{ENTERPRISE}", headers=plant)
    assert twin.json()["features"]["risk"]["properties"]["level"] == "red"
    history = await api.get(f"/api/v1/enterprises/{ENTERPRISE}/risk/history", headers=plant)
    assert history.json()["evaluations"][-1]["level"] == "red"

    listed = await api.get(
        "/api/v1/warnings", params={"credit_code": ENTERPRISE, "open": True}, headers=plant
    )
    warnings = listed.json()["items"]
    assert [(w["trigger"], w["level"], w["tier"], w["tier_adcode"]) for w in warnings] == [
        ("red", "red", "county", "310113")
    ]
    url = f"/api/v1/warnings/{warnings[0]['id']}"
    assert (await api.get(url, headers=tokens["jiading"])).status_code == 404

    # nobody acts for two hours: it escalates to the municipal bureau (督办), once
    async with db.transaction():
        late = await assess(db, model, now + timedelta(hours=2, minutes=5), [ENTERPRISE])
    async with db.transaction():
        later = await assess(db, model, now + timedelta(hours=2, minutes=6), [ENTERPRISE])
    assert (late.escalations, later.escalations) == (1, 0)
    escalated = (await api.get(url, headers=tokens["shanghai"])).json()
    assert (escalated["tier"], escalated["tier_adcode"]) == ("city", "310000")
    assert [h["action"] for h in escalated["history"]] == ["raised", "escalated"]

    # the enterprise handles it; clearing waits for the level to come down
    early = await api.post(f"{url}/feedback", json={"cause": "c", "measures": "m"}, headers=plant)
    assert early.status_code == 409
    ack = await api.post(f"{url}/acknowledge", json={}, headers=plant)
    fed = await api.post(
        f"{url}/feedback",
        json={"cause": "除尘器灰斗积尘自燃, 泄爆片动作", "measures": "停产, 更换泄爆片, 清灰"},
        headers=plant,
    )
    assert (ack.status_code, fed.status_code) == (200, 200), fed.text
    still_red = await api.post(f"{url}/clear", json={}, headers=tokens["baoshan"])
    assert still_red.status_code == 409
    assert "not yet below" in still_red.json()["detail"]
    not_theirs = await api.post(f"{url}/clear", json={}, headers=plant)
    assert not_theirs.status_code == 403


async def test_what_if_closing_the_alarms_shows_the_level_they_would_leave(
    api: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    db: psycopg.AsyncConnection[Any],
    plant: dict[str, str],
) -> None:
    cur = await db.execute(
        "SELECT id FROM alarms WHERE credit_code = %s AND state <> 'CLOSED'", (ENTERPRISE,)
    )
    open_ids = [int(i) for (i,) in await cur.fetchall()]
    assert open_ids
    as_is = await api.post("/api/v1/risk/evaluate", json={"credit_code": ENTERPRISE}, headers=plant)
    what_if = await api.post(
        "/api/v1/risk/evaluate",
        json={"credit_code": ENTERPRISE, "changes": {"close_alarms": open_ids}},
        headers=plant,
    )
    unknown = await api.post(
        "/api/v1/risk/evaluate",
        json={"credit_code": ENTERPRISE, "changes": {"close_alarms": [987654321]}},
        headers=plant,
    )
    other = await api.post(
        "/api/v1/risk/evaluate",
        json={"credit_code": JIADING_ONE.record.credit_code},
        headers=plant,
    )
    assert as_is.json()["level"] == "red"
    # a closed explosion alarm still counts in the 24 h window, but no longer forces red
    assert what_if.json()["overrides"] == []
    assert what_if.json()["level"] == what_if.json()["level_by_score"] != "red"
    assert what_if.json()["score"] <= as_is.json()["score"]
    assert unknown.status_code == 422
    assert other.status_code == 404


async def test_overview_counts_enterprises_per_level_in_the_jurisdiction(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    baoshan = await api.get("/api/v1/risk/overview", headers=tokens["baoshan"])
    jiading = await api.get("/api/v1/risk/overview", headers=tokens["jiading"])
    assert baoshan.json()["total"] == sum(baoshan.json()["levels"].values()) >= len(BAOSHAN)
    assert baoshan.json()["levels"]["red"] >= 1
    assert jiading.json()["levels"]["red"] == 0
