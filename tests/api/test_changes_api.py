"""The audit trail of an enterprise's configuration: who changed what, from what, to what."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest_asyncio

from tests.api.workflow_support import Headers, enterprise_of_its_own
from tests.helpers import made_up_credit_code

CC = made_up_credit_code("CHA", 1)
OWNER = "qiye-cha"
POINT = "DC01-HOPPER_TEMP-1"
POINT_THING = f"dusttwin:point-{CC}-{POINT}"


@pytest_asyncio.fixture(scope="module")
async def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API over the seeded database (every router is registered in api/app.py)."""
    return api


@pytest_asyncio.fixture(scope="module")
async def who(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> Headers:
    """A Baoshan enterprise of its own with a system and a hopper-temperature point."""
    headers = await enterprise_of_its_own(
        client,
        tokens,
        seeded["DUSTTWIN_DATABASE_URL"],
        credit_code=CC,
        owner=OWNER,
        name="上海变更测试镁业有限公司",
        dust_workers=20,
        dust_types=["magnesium"],
    )
    point = {"point_code": POINT, "system_code": "DC01", "indicator": "HOPPER_TEMP", "unit": "°C"}
    made = await client.post(f"/api/v1/enterprises/{CC}/points", json=point, headers=headers[OWNER])
    assert made.status_code == 201, made.text
    return headers


async def _trail(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    reply = await client.get(f"/api/v1/enterprises/{CC}/changes", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_limit_change_is_recorded_with_who_and_the_old_and_new_value(
    client: httpx.AsyncClient, who: Headers
) -> None:
    url = f"/api/v1/enterprises/{CC}/points/{POINT}"
    changed = await client.patch(url, json={"limits": {"ha": 65, "hha": 85}}, headers=who[OWNER])
    assert changed.status_code == 200, changed.text
    assert changed.json()["effective_limits"]["ha"] == 65
    # the district and the city both see it, newest first
    for viewer in ("baoshan", "shanghai", OWNER):
        latest = (await _trail(client, who[viewer], thing=POINT_THING))[0]
        assert (latest["source"], latest["action"], latest["actor"]) == ("config", "changed", OWNER)
        assert latest["detail"]["limits"]["new"] == {"ha": 65, "hha": 85}
        assert latest["detail"]["limits"]["old"] in ({}, None)  # catalog defaults before
    created = (await _trail(client, who["baoshan"], thing=POINT_THING))[-1]
    assert (created["action"], created["actor"]) == ("created", OWNER)


async def test_a_limit_outside_the_catalog_range_is_refused_and_leaves_no_trace(
    client: httpx.AsyncClient, who: Headers
) -> None:
    url = f"/api/v1/enterprises/{CC}/points/{POINT}"
    before = await _trail(client, who["baoshan"], thing=POINT_THING)
    # the catalog measures hopper temperature from -20 to 200 °C: a 250 °C limit could never fire
    refused = await client.patch(url, json={"limits": {"hha": 250}}, headers=who[OWNER])
    assert refused.status_code == 422
    assert "measuring range" in refused.json()["detail"]
    assert await _trail(client, who["baoshan"], thing=POINT_THING) == before
    point = await client.get(url, headers=who[OWNER])
    assert point.json()["effective_limits"]["hha"] != 250


async def test_basic_info_changes_are_recorded_and_measurements_are_not(
    client: httpx.AsyncClient, who: Headers, seeded: dict[str, str]
) -> None:
    changed = await client.patch(
        f"/api/v1/enterprises/{CC}", json={"dust_workers": 26}, headers=who[OWNER]
    )
    assert changed.status_code == 200, changed.text
    latest = (await _trail(client, who["baoshan"]))[0]
    assert (latest["thing_id"], latest["actor"]) == (f"dusttwin:enterprise-{CC}", OWNER)
    assert latest["detail"]["dust_workers"] == {"old": 20, "new": 26}
    # live values written by ingest (features) are not configuration: nothing is added
    async with await psycopg.AsyncConnection.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        await conn.execute(
            "UPDATE things SET features = jsonb_set(features, '{measurement}',"
            ' \'{"properties": {"value": 61.5}}\') WHERE thing_id = %s',
            (POINT_THING,),
        )
        await conn.commit()
    assert (await _trail(client, who["baoshan"]))[0] == latest


async def test_the_trail_is_not_found_outside_the_jurisdiction(
    client: httpx.AsyncClient, who: Headers
) -> None:
    reply = await client.get(f"/api/v1/enterprises/{CC}/changes", headers=who["jiading"])
    assert reply.status_code == 404
