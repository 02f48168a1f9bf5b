"""Who sees what: each role × each kind of record × inside and outside its jurisdiction.

Outside its scope a caller gets 404 for a single record (existence never leaks) and no rows in
lists — through /api/v1 and through the Ditto API alike.
"""

from __future__ import annotations

import httpx
import pytest

from dusttwin.demo import DemoEnterprise
from tests.api.demo_data import BAOSHAN, GRANTED, JIADING_ONE, OWN, PLANT, UNGRANTED_BAOSHAN

# user -> the demo enterprises (credit codes) it must see; all others it must not
SEES: dict[str, set[str]] = {
    "admin": {e.record.credit_code for e in PLANT},
    "mem": {e.record.credit_code for e in PLANT},
    "shanghai": {e.record.credit_code for e in PLANT},
    "baoshan": {e.record.credit_code for e in PLANT if e.record.adcode == "310113"},
    "jiading": {e.record.credit_code for e in PLANT if e.record.adcode == "310114"},
    "qiye-310113": {OWN.record.credit_code},
    "integrator": {e.record.credit_code for e in BAOSHAN[:10]},
}
TARGETS = {"own": OWN, "granted": GRANTED, "baoshan": UNGRANTED_BAOSHAN, "jiading": JIADING_ONE}


def _urls(ent: DemoEnterprise) -> dict[str, str]:
    cc = ent.record.credit_code
    system = ent.systems[0].system_code
    point = ent.points[0].point_code
    camera = ent.cameras[0].gb28181_id
    return {
        "enterprise": f"/api/v1/enterprises/{cc}",
        "system": f"/api/v1/enterprises/{cc}/systems/{system}",
        "point": f"/api/v1/enterprises/{cc}/points/{point}",
        "camera": f"/api/v1/enterprises/{cc}/cameras/{camera}",
        "gateway": f"/api/v1/enterprises/{cc}/gateways/GW01",
        "ditto-enterprise": f"/api/2/things/dusttwin:enterprise-{cc}",
        "ditto-point": f"/api/2/things/dusttwin:point-{cc}-{point}",
        "ditto-policy": f"/api/2/policies/dusttwin:enterprise-{cc}",
    }


CASES = [(user, target, resource) for user in SEES for target in TARGETS for resource in _urls(OWN)]


@pytest.mark.parametrize(("user", "target", "resource"), CASES)
async def test_single_record_visible_only_inside_scope(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], user: str, target: str, resource: str
) -> None:
    ent = TARGETS[target]
    expected = 200 if ent.record.credit_code in SEES[user] else 404
    response = await api.get(_urls(ent)[resource], headers=tokens[user])
    assert response.status_code == expected, response.text


@pytest.mark.parametrize("user", list(SEES))
async def test_enterprise_list_holds_exactly_the_scope(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], user: str
) -> None:
    response = await api.get("/api/v1/enterprises", params={"page_size": 200}, headers=tokens[user])
    listed = {e["credit_code"] for e in response.json()["items"]}
    demo = {e.record.credit_code for e in PLANT}
    assert listed & demo == SEES[user]


@pytest.mark.parametrize("user", list(SEES))
async def test_ditto_search_and_count_hold_exactly_the_scope(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], user: str
) -> None:
    params = {
        "filter": 'eq(attributes/indicator,"FAN_RUN")',
        "option": "size(200)",
        "fields": "thingId,attributes/credit_code",
    }
    found: set[str] = set()
    while True:
        page = (await api.get("/api/2/search/things", params=params, headers=tokens[user])).json()
        found |= {t["attributes"]["credit_code"] for t in page["items"]}
        if "cursor" not in page:
            break
        params["option"] = f"size(200),cursor({page['cursor']})"
    count = await api.get(
        "/api/2/search/things/count", params={"filter": params["filter"]}, headers=tokens[user]
    )
    demo_fan_points = {
        e.record.credit_code: sum(p.indicator == "FAN_RUN" for p in e.points) for e in PLANT
    }
    assert found & set(demo_fan_points) == SEES[user]
    assert count.json() >= sum(demo_fan_points[cc] for cc in SEES[user])


@pytest.mark.parametrize("user", ["qiye-310113", "integrator", "jiading"])
async def test_lists_of_parts_outside_scope_are_not_found(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], user: str
) -> None:
    outside = UNGRANTED_BAOSHAN.record.credit_code
    for part in ("systems", "points", "cameras", "gateways"):
        response = await api.get(f"/api/v1/enterprises/{outside}/{part}", headers=tokens[user])
        assert response.status_code == 404, (part, response.text)


async def test_regions_are_seen_by_regulators_of_them_only(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    url = "/api/2/things/dusttwin:region-310113"
    seen = {u: (await api.get(url, headers=tokens[u])).status_code for u in SEES}
    assert seen == {
        "admin": 200,
        "mem": 200,
        "shanghai": 200,
        "baoshan": 200,
        "jiading": 404,
        "qiye-310113": 404,
        "integrator": 404,
    }


async def test_policy_names_the_regulators_above_and_the_integrator(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    cc = GRANTED.record.credit_code
    policy = (
        await api.get(f"/api/2/policies/dusttwin:enterprise-{cc}", headers=tokens["admin"])
    ).json()
    regulators = set(policy["entries"]["REGULATOR"]["subjects"])
    assert regulators == {
        "dusttwin:regulator-000000",
        "dusttwin:regulator-310000",
        "dusttwin:regulator-310100",
        "dusttwin:regulator-310113",
    }
    assert policy["entries"]["REGULATOR"]["resources"]["thing:/"]["grant"] == ["READ"]
    assert set(policy["entries"]["INTEGRATOR"]["subjects"]) == {"dusttwin:integrator-integrator"}
    assert set(policy["entries"]["ENTERPRISE"]["subjects"]) == {f"dusttwin:enterprise-{cc}"}
