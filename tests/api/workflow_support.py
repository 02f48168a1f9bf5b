"""A Baoshan enterprise of a test's own, with its enterprise user: for the workflow API tests."""

from __future__ import annotations

import httpx
import psycopg

from dusttwin.demo import DEMO_PASSWORD
from twins.users import add_user

Headers = dict[str, dict[str, str]]


async def enterprise_of_its_own(
    api: httpx.AsyncClient,
    tokens: Headers,
    dsn: str,
    *,
    credit_code: str,
    owner: str,
    name: str,
    dust_workers: int,
    dust_types: list[str],
    systems: tuple[str, ...] = ("DC01",),
) -> Headers:
    """Register it (by the Baoshan regulator) and its dry systems (by its user); every header."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await add_user(conn, owner, "enterprise", credit_code, DEMO_PASSWORD)
        await conn.commit()
    token = await api.post(
        "/api/v1/auth/token", data={"username": owner, "password": DEMO_PASSWORD}
    )
    assert token.status_code == 200, token.text
    headers = {**tokens, owner: {"Authorization": f"Bearer {token.json()['access_token']}"}}
    body = {
        "credit_code": credit_code,
        "name": name,
        "adcode": "310113",
        "dust_workers": dust_workers,
        "dust_types": dust_types,
        "location": {"lon": 121.45, "lat": 31.40},
    }
    made = await api.post("/api/v1/enterprises", json=body, headers=headers["baoshan"])
    assert made.status_code == 201, made.text
    for code in systems:
        system = {
            "system_code": code,
            "name": f"{code}#",
            "collector": "dry",
            "collector_type": "bag",
        }
        made = await api.post(
            f"/api/v1/enterprises/{credit_code}/systems", json=system, headers=headers[owner]
        )
        assert made.status_code == 201, made.text
    return headers
