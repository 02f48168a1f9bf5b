"""Maintenance filings through the API: the enterprise files, its regulators see and reject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio

from tests.api.workflow_support import Headers, enterprise_of_its_own
from tests.helpers import made_up_credit_code

CC = made_up_credit_code("FLA", 1)
OWNER = "qiye-fla"
H = timedelta(hours=1)


@pytest_asyncio.fixture(scope="module")
async def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API over the seeded database (every router is registered in api/app.py)."""
    return api


@pytest_asyncio.fixture(scope="module")
async def who(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> Headers:
    """A Baoshan enterprise of its own (systems DC01, DC02) with its user; everyone's headers."""
    return await enterprise_of_its_own(
        client,
        tokens,
        seeded["DUSTTWIN_DATABASE_URL"],
        credit_code=CC,
        owner=OWNER,
        name="上海报备测试铝业有限公司",
        dust_workers=40,
        dust_types=["aluminium"],
        systems=("DC01", "DC02"),
    )


async def _file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    system_code: str | None,
    starts: datetime,
    ends: datetime,
    kind: str = "maintenance",
) -> httpx.Response:
    body = {
        "system_code": system_code,
        "kind": kind,
        "starts_at": starts.isoformat(),
        "ends_at": ends.isoformat(),
        "reason": "更换滤袋、检查泄爆片",
    }
    return await client.post(f"/api/v1/enterprises/{CC}/filings", json=body, headers=headers)


async def _listed(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    reply = await client.get(
        "/api/v1/filings", params={"credit_code": CC, **params}, headers=headers
    )
    assert reply.status_code == 200, reply.text
    return [int(f["id"]) for f in reply.json()["items"]]


async def test_a_filing_is_in_force_at_once_and_seen_by_the_district_and_the_city(
    client: httpx.AsyncClient, who: Headers
) -> None:
    now = datetime.now(UTC)
    filed = await _file(client, who[OWNER], "DC01", now + 2 * H, now + 6 * H)
    assert filed.status_code == 201, filed.text
    filing = filed.json()
    assert (filing["state"], filing["filed_by"], filing["system_code"]) == (
        "APPROVED",
        OWNER,
        "DC01",
    )
    assert filing["history"][0]["action"] == "filed"
    for viewer in ("baoshan", "shanghai", "admin", OWNER):
        assert filing["id"] in await _listed(client, who[viewer]), viewer
    in_force = await _listed(client, who["baoshan"], active_at=(now + 3 * H).isoformat())
    assert filing["id"] in in_force
    await client.post(f"/api/v1/filings/{filing['id']}/withdraw", json={}, headers=who[OWNER])


async def test_a_regulator_of_another_district_cannot_see_or_reject_a_filing(
    client: httpx.AsyncClient, who: Headers
) -> None:
    now = datetime.now(UTC)
    filed = await _file(client, who[OWNER], "DC02", now + 30 * H, now + 32 * H)
    filing_id = filed.json()["id"]
    assert filing_id not in await _listed(client, who["jiading"])
    assert (
        await client.get(f"/api/v1/filings/{filing_id}", headers=who["jiading"])
    ).status_code == 404
    rejected = await client.post(
        f"/api/v1/filings/{filing_id}/reject", json={"reason": "不在辖区"}, headers=who["jiading"]
    )
    assert rejected.status_code == 404
    # an integrator the enterprise never engaged sees nothing either
    assert (
        await client.get(f"/api/v1/filings/{filing_id}", headers=who["integrator"])
    ).status_code == 404
    # nor may another district file for the enterprise
    other = await _file(client, who["jiading"], None, now + 40 * H, now + 41 * H)
    assert other.status_code == 404
    still = await client.get(f"/api/v1/filings/{filing_id}", headers=who[OWNER])
    assert still.json()["state"] == "APPROVED"
    await client.post(f"/api/v1/filings/{filing_id}/withdraw", json={}, headers=who[OWNER])


async def test_a_window_in_the_past_or_overlapping_another_is_refused(
    client: httpx.AsyncClient, who: Headers
) -> None:
    now = datetime.now(UTC)
    past = await _file(client, who[OWNER], "DC01", now - 6 * H, now - 2 * H)
    assert past.status_code == 422
    assert "past" in past.json()["detail"]
    reversed_ = await _file(client, who[OWNER], "DC01", now + 3 * H, now + 2 * H)
    assert reversed_.status_code == 422
    first = await _file(client, who[OWNER], None, now + 50 * H, now + 60 * H, "shutdown")
    overlapping = await _file(client, who[OWNER], None, now + 59 * H, now + 70 * H, "shutdown")
    assert overlapping.status_code == 409
    assert f"filing {first.json()['id']}" in overlapping.json()["detail"]
    await client.post(f"/api/v1/filings/{first.json()['id']}/withdraw", json={}, headers=who[OWNER])


async def test_a_regulator_rejects_a_running_window_and_only_regulators_may(
    client: httpx.AsyncClient, who: Headers
) -> None:
    now = datetime.now(UTC)
    filed = (
        await _file(client, who[OWNER], "DC02", now - timedelta(minutes=2), now + 8 * H)
    ).json()
    url = f"/api/v1/filings/{filed['id']}"
    by_enterprise = await client.post(f"{url}/reject", json={"reason": "x"}, headers=who[OWNER])
    assert by_enterprise.status_code == 403
    assert filed["id"] in await _listed(client, who["baoshan"], active_at=now.isoformat())
    rejected = await client.post(
        f"{url}/reject", json={"reason": "检修内容与报警无关"}, headers=who["baoshan"]
    )
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["state"], body["decided_by"], body["decision_remark"]) == (
        "REJECTED",
        "baoshan",
        "检修内容与报警无关",
    )
    assert [h["action"] for h in body["history"]] == ["filed", "rejected"]
    assert filed["id"] not in await _listed(client, who["baoshan"], active_at=now.isoformat())
    again = await client.post(f"{url}/reject", json={"reason": "x"}, headers=who["baoshan"])
    assert again.status_code == 409
    # a regulator does not file for the enterprise
    by_regulator = await _file(client, who["baoshan"], "DC01", now + 80 * H, now + 81 * H)
    assert by_regulator.status_code == 403


async def test_withdrawing_during_the_window_ends_it_now_and_the_trail_shows_each_step(
    client: httpx.AsyncClient, who: Headers
) -> None:
    now = datetime.now(UTC)
    filed = (
        await _file(client, who[OWNER], "DC01", now - timedelta(minutes=1), now + 4 * H)
    ).json()
    ended = await client.post(
        f"/api/v1/filings/{filed['id']}/withdraw", json={"remark": "提前完工"}, headers=who[OWNER]
    )
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["state"] == "APPROVED"  # the minute already covered stays excused
    assert datetime.fromisoformat(body["ends_at"]) < now + timedelta(minutes=1)
    assert body["history"][-1]["action"] == "ended_early"
    trail = await client.get(f"/api/v1/enterprises/{CC}/changes", headers=who["baoshan"])
    assert trail.status_code == 200, trail.text
    steps = [
        (e["action"], e["actor"])
        for e in trail.json()
        if e["source"] == "filing" and e["record_id"] == filed["id"]
    ]
    assert steps == [("ended_early", OWNER), ("filed", OWNER)]
