"""A gateway of the demo's first enterprise with a dust-removal system and points of its own."""

from __future__ import annotations

import httpx

from tests.api.demo_data import OWN

CC = OWN.record.credit_code
UNITS = {"HOPPER_TEMP": "°C", "FAN_RUN": "0/1", "DP_IN_OUT": "Pa"}


async def gateway_with_points(
    api: httpx.AsyncClient,
    admin: dict[str, str],
    gateway_id: str,
    system_code: str,
    indicators: tuple[str, ...] = ("HOPPER_TEMP", "FAN_RUN", "DP_IN_OUT"),
) -> tuple[str, str]:
    """Register the gateway, the system and one point per indicator; returns the credentials."""
    registered = await api.post(
        f"/api/v1/enterprises/{CC}/gateways", json={"gateway_id": gateway_id}, headers=admin
    )
    assert registered.status_code == 201, registered.text
    system = {
        "system_code": system_code,
        "name": f"{system_code}#除尘器",
        "collector": "dry",
        "collector_type": "bag",
    }
    created = await api.post(f"/api/v1/enterprises/{CC}/systems", json=system, headers=admin)
    assert created.status_code == 201, created.text
    for indicator in indicators:
        body = {
            "point_code": f"{system_code}-{indicator}-1",
            "system_code": system_code,
            "indicator": indicator,
            "unit": UNITS[indicator],
            "gateway_id": gateway_id,
        }
        point = await api.post(f"/api/v1/enterprises/{CC}/points", json=body, headers=admin)
        assert point.status_code == 201, point.text
    return registered.json()["mqtt_username"], registered.json()["password"]
