"""Alarms end to end: a hot hopper posted by a gateway becomes an alarm handled through its loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio

from tests.connectors.support import CC, gateway_with_points

GW, SYSTEM = "GW61", "DC94"
TEMP = f"{SYSTEM}-HOPPER_TEMP-1"
FAN = f"{SYSTEM}-FAN_RUN-1"
DP = f"{SYSTEM}-DP_IN_OUT-1"


@pytest_asyncio.fixture(scope="module")
async def gateway(api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]) -> tuple[str, str]:
    """A gateway of the demo's first enterprise (qiye-310113's) with its own points."""
    return await gateway_with_points(api, tokens["admin"], GW, SYSTEM)


async def _post(
    api: httpx.AsyncClient, gateway: tuple[str, str], msg_id: str, at: datetime, **values: float
) -> None:
    body = {
        "msg_id": msg_id,
        "ts": at.isoformat(),
        "points": [{"code": code, "value": v} for code, v in values.items()],
    }
    reply = await api.post(f"/api/v1/ingest/{CC}/{GW}/rts", json=body, auth=gateway)
    assert reply.status_code == 200, reply.text
    assert reply.json()["rejected"] == [], reply.text


async def _open_alarms(
    api: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    reply = await api.get(
        "/api/v1/alarms",
        params={"credit_code": CC, "system_code": SYSTEM, "open": True, **params},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    items: list[dict[str, Any]] = reply.json()["items"]
    return items


async def test_a_hot_hopper_raises_one_alarm_that_is_handled_through_its_loop(
    api: httpx.AsyncClient, gateway: tuple[str, str], tokens: dict[str, dict[str, str]]
) -> None:
    qiye, baoshan, jiading = tokens["qiye-310113"], tokens["baoshan"], tokens["jiading"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=9)
    # 95 °C is above HHA (90): raised at once (persistence 0 for hopper temperature)
    await _post(api, gateway, "a-1", t0, **{TEMP: 95, FAN: 1})
    await _post(api, gateway, "a-2", t0 + timedelta(seconds=30), **{TEMP: 97, FAN: 1})
    raised = await _open_alarms(api, qiye, indicator="HOPPER_TEMP", alarm_type="HIGH")
    assert len(raised) == 1
    alarm = raised[0]
    assert (alarm["level"], alarm["state"], alarm["condition_active"]) == ("HHA", "ACTIVE", True)
    assert alarm["peak_value"] == 97
    assert alarm["backfilled"] is False
    assert alarm["ack_overdue"] is False
    url = f"/api/v1/alarms/{alarm['id']}"

    # the twin shows it
    point = await api.get(f"/api/2/things/dusttwin:point-{CC}-{TEMP}", headers=qiye)
    assert point.json()["features"]["alarm"]["properties"]["state"] == "alarm"
    assert point.json()["features"]["alarm"]["properties"]["level"] == "HHA"

    # out of order and out of jurisdiction
    early_feedback = await api.post(
        f"{url}/feedback", json={"cause": "x", "measures": "y"}, headers=qiye
    )
    regulator_ack = await api.post(
        f"{url}/acknowledge", json={"verification": "REAL"}, headers=baoshan
    )
    outsider = await api.get(url, headers=jiading)
    outsider_close = await api.post(f"{url}/close", json={}, headers=jiading)
    assert early_feedback.status_code == 409, early_feedback.text
    assert "ACTIVE" in early_feedback.json()["detail"]
    assert regulator_ack.status_code == 403
    assert outsider.status_code == 404
    assert outsider_close.status_code == 404

    ack = await api.post(f"{url}/acknowledge", json={"verification": "REAL"}, headers=qiye)
    assert ack.status_code == 200, ack.text
    assert (ack.json()["state"], ack.json()["acknowledged_by"]) == ("HANDLING", "qiye-310113")
    fed = await api.post(
        f"{url}/feedback",
        json={"cause": "灰斗积灰自燃", "measures": "停机清灰, 更换滤袋"},
        headers=qiye,
    )
    assert fed.status_code == 200, fed.text
    assert fed.json()["state"] == "FED_BACK"  # HHA: only a regulator closes it
    still_hot = await api.post(f"{url}/close", json={}, headers=baoshan)
    assert still_hot.status_code == 409
    assert "still present" in still_hot.json()["detail"]

    # back to normal for more than five minutes: the condition clears, the loop stays open
    for minute in range(1, 8):
        await _post(api, gateway, f"a-n{minute}", t0 + timedelta(minutes=minute), **{TEMP: 60})
    cleared = (await api.get(url, headers=qiye)).json()
    assert (cleared["state"], cleared["condition_active"]) == ("FED_BACK", False)

    closed = await api.post(f"{url}/close", json={"remark": "同意"}, headers=baoshan)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["closed_by"]) == ("CLOSED", "baoshan")
    actions = [(h["action"], h["actor"]) for h in closed.json()["history"]]
    assert actions == [
        ("raised", "system"),
        ("acknowledged", "qiye-310113"),
        ("fed_back", "qiye-310113"),
        ("cleared", "system"),
        ("closed", "baoshan"),
    ]
    point = await api.get(f"/api/2/things/dusttwin:point-{CC}-{TEMP}", headers=qiye)
    assert point.json()["features"]["alarm"]["properties"]["state"] == "normal"


async def test_a_repeat_while_open_updates_the_alarm_instead_of_opening_another(
    api: httpx.AsyncClient, gateway: tuple[str, str], tokens: dict[str, dict[str, str]]
) -> None:
    qiye = tokens["qiye-310113"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=530)

    async def at(second: int, dp: float) -> None:
        await _post(api, gateway, f"r-{second}", t0 + timedelta(seconds=second), **{DP: dp, FAN: 1})

    # pressure difference above HA (1500 Pa) while the fan runs, held for its persistence (60 s)
    for second, dp in ((0, 1600), (30, 1650), (60, 1620)):
        await at(second, dp)
    # normal for five and a half minutes (the condition clears), then high again
    for second in range(90, 421, 30):
        await at(second, 800)
    for second in (450, 480, 510):
        await at(second, 1700)
    alarms = await _open_alarms(api, qiye, indicator="DP_IN_OUT", alarm_type="HIGH")
    assert len(alarms) == 1
    assert (alarms[0]["count"], alarms[0]["peak_value"]) == (2, 1700)
    assert alarms[0]["condition_active"] is True


async def test_pressure_difference_is_not_judged_while_the_fan_is_off(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    quiet = await gateway_with_points(api, tokens["admin"], "GW62", "DC95")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    for i in range(6):  # 2 Pa is far below LA (200 Pa), but the fan is off
        body = {
            "msg_id": f"fan-off-{i}",
            "ts": (t0 + timedelta(seconds=30 * i)).isoformat(),
            "points": [
                {"code": "DC95-FAN_RUN-1", "value": 0},
                {"code": "DC95-DP_IN_OUT-1", "value": 2},
            ],
        }
        reply = await api.post(f"/api/v1/ingest/{CC}/GW62/rts", json=body, auth=quiet)
        assert reply.json() == {"accepted": 2, "rejected": []}
    listed = await api.get(
        "/api/v1/alarms",
        params={"credit_code": CC, "indicator": "DP_IN_OUT", "alarm_type": "LOW"},
        headers=tokens["qiye-310113"],
    )
    assert [a["thing_id"] for a in listed.json()["items"] if "DC95" in a["thing_id"]] == []


async def test_alarm_lists_are_filtered_by_jurisdiction(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    mine = await api.get("/api/v1/alarms", params={"credit_code": CC}, headers=tokens["baoshan"])
    others = await api.get("/api/v1/alarms", params={"credit_code": CC}, headers=tokens["jiading"])
    nobody = await api.get("/api/v1/alarms")
    assert mine.status_code == 200
    assert others.json() == {"total": 0, "items": []}
    assert nobody.status_code == 401
