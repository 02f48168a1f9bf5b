"""Major hidden dangers through the API: recorded, rectified, verified, and felt by the risk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest_asyncio

from risk.hazards import open_hazards
from risk.model import EnterpriseInputs, default_model, evaluate, level_rank
from tests.api.workflow_support import Headers, enterprise_of_its_own
from tests.helpers import made_up_credit_code

CC = made_up_credit_code("HKA", 1)
OWNER = "qiye-hza"
DAY = timedelta(days=1)


@pytest_asyncio.fixture(scope="module")
async def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API over the seeded database (every router is registered in api/app.py)."""
    return api


@pytest_asyncio.fixture(scope="module")
async def who(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> Headers:
    """A Baoshan wood enterprise of its own (system DC01) with its user; everyone's headers."""
    return await enterprise_of_its_own(
        client,
        tokens,
        seeded["DUSTTWIN_DATABASE_URL"],
        credit_code=CC,
        owner=OWNER,
        name="上海隐患测试木业有限公司",
        dust_workers=8,
        dust_types=["wood"],
    )


@pytest_asyncio.fixture
async def conn(seeded: dict[str, str]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection to the seeded database."""
    async with await psycopg.AsyncConnection.connect(
        seeded["DUSTTWIN_DATABASE_URL"], autocommit=True
    ) as c:
        yield c


async def _record(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    item: str,
    system_code: str | None = "DC01",
    found_at: datetime | None = None,
    deadline: datetime | None = None,
) -> httpx.Response:
    now = datetime.now(UTC)
    body = {
        "item": item,
        "system_code": system_code,
        "description": "干式布袋除尘器未设泄爆、惰化或抑爆措施",
        "found_at": (found_at or now - DAY).isoformat(),
        "deadline": (deadline or now + 30 * DAY).isoformat(),
    }
    return await client.post(f"/api/v1/enterprises/{CC}/hazards", json=body, headers=headers)


async def _step(
    client: httpx.AsyncClient, headers: dict[str, str], hazard_id: int, action: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/hazards/{hazard_id}/{action}", json={"remark": action}, headers=headers
    )


async def test_the_list_holds_the_ten_dust_items_of_the_2023_criteria(
    client: httpx.AsyncClient, who: Headers
) -> None:
    reply = await client.get("/api/v1/hazards/items", headers=who[OWNER])
    assert reply.status_code == 200
    items = {i["code"]: i for i in reply.json()}
    assert len(items) == 10
    assert items["NO_EXPLOSION_CONTROL"]["name_zh"] == "干式除尘无爆炸防控措施"
    assert "泄爆" in items["NO_EXPLOSION_CONTROL"]["description"]


async def test_an_open_hidden_danger_keeps_the_enterprise_at_least_orange_until_verified(
    client: httpx.AsyncClient, who: Headers, conn: psycopg.AsyncConnection[Any]
) -> None:
    recorded = await _record(client, who["baoshan"], "NO_EXPLOSION_CONTROL")
    assert recorded.status_code == 201, recorded.text
    hazard = recorded.json()
    assert (hazard["status"], hazard["found_by"], hazard["open"], hazard["overdue"]) == (
        "OPEN",
        "baoshan",
        True,
        False,
    )
    facts = await open_hazards(conn, [CC])
    assert [(f.hazard_id, f.system_code) for f in facts[CC]] == [(str(hazard["id"]), "DC01")]
    now = datetime.now(UTC)
    # a small wood workshop with nothing else against it would be blue
    calm = EnterpriseInputs(credit_code=CC, dust_class="wood", workers=8, dry_systems=1)
    assert evaluate(default_model(), calm, now).level == "blue"
    with_danger = EnterpriseInputs(
        credit_code=CC,
        dust_class="wood",
        workers=8,
        dry_systems=1,
        open_major_hazards=tuple(facts[CC]),
    )
    assert level_rank(evaluate(default_model(), with_danger, now).level) >= level_rank("orange")
    # the enterprise's loop: it may not verify its own work; the district does
    hid = hazard["id"]
    assert (await _step(client, who[OWNER], hid, "start")).json()["status"] == "RECTIFYING"
    assert (await _step(client, who["baoshan"], hid, "verify")).status_code == 409
    assert (await _step(client, who[OWNER], hid, "rectify")).json()["status"] == "RECTIFIED"
    assert (await _step(client, who[OWNER], hid, "verify")).status_code == 403
    assert CC in await open_hazards(conn, [CC])  # reported done, not yet verified: still open
    assert (await _step(client, who["baoshan"], hid, "reopen")).json()["status"] == "RECTIFYING"
    assert (await _step(client, who[OWNER], hid, "rectify")).json()["status"] == "RECTIFIED"
    verified = await _step(client, who["baoshan"], hid, "verify")
    assert verified.status_code == 200, verified.text
    assert (verified.json()["status"], verified.json()["verified_by"]) == ("VERIFIED", "baoshan")
    assert [h["action"] for h in verified.json()["history"]] == [
        "recorded",
        "started",
        "rectified",
        "reopened",
        "rectified",
        "verified",
    ]
    assert await open_hazards(conn, [CC]) == {}


async def test_the_same_danger_is_recorded_once_and_unknown_items_or_systems_are_refused(
    client: httpx.AsyncClient, who: Headers
) -> None:
    first = await _record(client, who[OWNER], "SETTLING_CHAMBER")
    assert first.status_code == 201, first.text
    again = await _record(client, who["baoshan"], "SETTLING_CHAMBER")
    assert again.status_code == 409
    assert (await _record(client, who[OWNER], "NOT_ON_THE_LIST")).status_code == 422
    assert (await _record(client, who[OWNER], "NO_AIRLOCK", system_code="DC77")).status_code == 422
    future = datetime.now(UTC) + DAY
    assert (await _record(client, who[OWNER], "NO_AIRLOCK", found_at=future)).status_code == 422
    # a regulator of another district neither records nor sees it
    assert (await _record(client, who["jiading"], "NO_AIRLOCK")).status_code == 404
    hid = first.json()["id"]
    assert (await client.get(f"/api/v1/hazards/{hid}", headers=who["jiading"])).status_code == 404
    listed = await client.get("/api/v1/hazards", params={"credit_code": CC}, headers=who["jiading"])
    assert listed.json()["total"] == 0
    await _step(client, who[OWNER], hid, "rectify")
    await _step(client, who["baoshan"], hid, "verify")


async def test_a_danger_past_its_deadline_is_flagged_overdue_until_a_new_deadline(
    client: httpx.AsyncClient, who: Headers
) -> None:
    now = datetime.now(UTC)
    late = await _record(
        client, who["baoshan"], "DUST_ACCUMULATION", None, now - 10 * DAY, now - DAY
    )
    assert late.status_code == 201, late.text
    assert late.json()["overdue"] is True
    hid = late.json()["id"]
    overdue = await client.get(
        "/api/v1/hazards", params={"credit_code": CC, "overdue": True}, headers=who["baoshan"]
    )
    assert [h["id"] for h in overdue.json()["items"]] == [hid]
    extended = await client.post(
        f"/api/v1/hazards/{hid}/extend",
        json={"deadline": (now + 7 * DAY).isoformat(), "remark": "设备采购周期"},
        headers=who["baoshan"],
    )
    assert extended.status_code == 200, extended.text
    assert extended.json()["overdue"] is False
    by_enterprise = await client.post(
        f"/api/v1/hazards/{hid}/extend",
        json={"deadline": (now + 70 * DAY).isoformat()},
        headers=who[OWNER],
    )
    assert by_enterprise.status_code == 403
    await _step(client, who[OWNER], hid, "rectify")
    await _step(client, who["baoshan"], hid, "verify")
