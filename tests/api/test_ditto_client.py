"""The real Eclipse Ditto client (``ditto-client``) against our Ditto HTTP API v2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from ditto_client import BasicAuthProvider, JWTAuthProvider
from ditto_client.generated.api.two.search.things.things_request_builder import (
    ThingsRequestBuilder,
)
from ditto_client.generated.ditto_client import DittoClient
from ditto_client.generated.models.advanced_error import AdvancedError
from ditto_client.generated.models.attributes import Attributes
from ditto_client.generated.models.feature_properties import FeatureProperties
from ditto_client.generated.models.features import Features
from ditto_client.generated.models.new_thing import NewThing
from ditto_client.generated.models.patch_thing import PatchThing
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.httpx_request_adapter import HttpxRequestAdapter

from dusttwin.demo import DEMO_PASSWORD
from tests.api.demo_data import OWN


def _client(api: httpx.AsyncClient, auth: Any) -> DittoClient:
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[attr-defined]
    http = httpx.AsyncClient(transport=transport, base_url="http://dusttwin.test")
    adapter = HttpxRequestAdapter(auth, http_client=http)
    adapter.base_url = "http://dusttwin.test"
    return DittoClient(adapter)


@pytest_asyncio.fixture
async def admin_client(api: httpx.AsyncClient) -> AsyncIterator[DittoClient]:
    yield _client(api, BasicAuthProvider(user_name="admin", password=DEMO_PASSWORD))


def _search(filter_: str, **more: str) -> RequestConfiguration[Any]:
    qp = ThingsRequestBuilder.ThingsRequestBuilderGetQueryParameters(filter=filter_, **more)
    return RequestConfiguration(query_parameters=qp)


async def test_create_read_merge_patch_search_and_delete(admin_client: DittoClient) -> None:
    tid = "org.example:dust-sensor-1"
    things = admin_client.api.two.things
    await things.by_thing_id(tid).put(
        NewThing(
            definition="org.example:sensor:1.0.0",
            attributes=Attributes(additional_data={"region": "310113", "workers": 30}),
            features=Features(additional_data={"temp": {"properties": {"value": 41.5}}}),
        )
    )
    read = await things.by_thing_id(tid).get()
    await (
        things.by_thing_id(tid)
        .features.by_feature_id("temp")
        .properties.patch(
            FeatureProperties(additional_data={"value": 44.0, "ts": "2026-11-23T10:00:00+08:00"})
        )
    )
    await things.by_thing_id(tid).patch(
        PatchThing(attributes=Attributes(additional_data={"workers": None, "name": "1#"}))
    )
    patched = await things.by_thing_id(tid).get()
    found = await admin_client.api.two.search.things.get(
        request_configuration=_search(
            'and(eq(attributes/region,"310113"),gt(features/temp/properties/value,43))',
            fields="thingId,attributes",
            namespaces="org.example",
        )
    )
    counted = await admin_client.api.two.search.things.count.get(
        request_configuration=_search('like(attributes/name,"1*")', namespaces="org.example")
    )
    await things.by_thing_id(tid).delete()
    with pytest.raises(AdvancedError) as gone:
        await things.by_thing_id(tid).get()

    assert read is not None
    assert read.thing_id == tid
    assert read.attributes is not None
    assert read.attributes.additional_data == {"region": "310113", "workers": 30}
    assert patched is not None
    assert patched.attributes is not None
    assert patched.attributes.additional_data == {"region": "310113", "name": "1#"}
    assert patched.features is not None
    temp = patched.features.additional_data["temp"]["properties"]
    assert temp["value"] == 44.0
    assert str(temp["ts"]) == "2026-11-23 10:00:00+08:00"  # the client parses ISO times
    assert found is not None
    assert found.items is not None
    assert [t.thing_id for t in found.items] == [tid]
    assert counted == 1
    assert gone.value.response_status_code == 404
    assert gone.value.error == "things:thing.notfound"


async def test_regulator_reads_twins_of_its_county_through_the_client(
    api: httpx.AsyncClient,
) -> None:
    login = await api.post(
        "/api/v1/auth/token", data={"username": "baoshan", "password": DEMO_PASSWORD}
    )
    client = _client(api, JWTAuthProvider(token=login.json()["access_token"]))
    cc = OWN.record.credit_code
    point = f"dusttwin:point-{cc}-{OWN.points[0].point_code}"
    enterprise = await client.api.two.things.by_thing_id(f"dusttwin:enterprise-{cc}").get()
    page = await client.api.two.search.things.get(
        request_configuration=_search(
            f'eq(attributes/credit_code,"{cc}")', option="size(200),sort(+thingId)"
        )
    )
    policy = await client.api.two.policies.by_policy_id(f"dusttwin:enterprise-{cc}").get()
    with pytest.raises(AdvancedError) as refused:
        await client.api.two.things.by_thing_id(point).patch(
            PatchThing(attributes=Attributes(additional_data={"name": "改名"}))
        )
    assert enterprise is not None
    assert enterprise.attributes is not None
    assert enterprise.attributes.additional_data["adcode"] == "310113"
    assert page is not None
    assert page.items is not None
    kinds = {t.thing_id.split(":")[1].split("-")[0] for t in page.items if t.thing_id}
    assert kinds == {"enterprise", "system", "gateway", "point", "camera"}
    assert policy is not None
    assert policy.entries is not None
    assert refused.value.response_status_code == 403  # regulators read points; integrators set them


async def test_errors_come_in_dittos_shape(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["admin"]
    bad_id = await api.get("/api/2/things/not a thing id", headers=h)
    bad_rql = await api.get(
        "/api/2/search/things",
        params={"filter": "and(eq(attributes/a,1),lt(attributes/b 2))"},
        headers=h,
    )
    bad_cursor = await api.get("/api/2/search/things", params={"option": "cursor(Zm9v)"}, headers=h)
    no_feature = await api.get(
        f"/api/2/things/dusttwin:enterprise-{OWN.record.credit_code}/features/nothing", headers=h
    )
    bad_attrs = await api.put(
        f"/api/2/things/dusttwin:enterprise-{OWN.record.credit_code}/attributes/dust_workers",
        json="many",
        headers=h,
    )
    assert bad_id.status_code == 400
    assert set(bad_id.json()) >= {"status", "error", "message", "description"}
    assert bad_rql.status_code == 400
    assert bad_rql.json()["error"] == "rql.expression.invalid"
    assert bad_rql.json()["position"] == 39  # at "2", where "," was expected
    assert bad_cursor.status_code == 400
    assert no_feature.status_code == 404
    assert no_feature.json()["error"] == "things:feature.notfound"
    assert bad_attrs.status_code == 400
    assert "dust_workers" in bad_attrs.json()["message"]


async def test_conditional_requests(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    h = tokens["admin"]
    url = "/api/2/things/org.example:conditional-1"
    created = await api.put(url, json={"attributes": {"n": 1}}, headers={**h, "If-None-Match": "*"})
    again = await api.put(url, json={"attributes": {"n": 2}}, headers={**h, "If-None-Match": "*"})
    etag = (await api.get(url, headers=h)).headers["ETag"]
    ok = await api.patch(
        url,
        content='{"attributes": {"n": 3}}',
        headers={**h, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    stale = await api.patch(
        url,
        content='{"attributes": {"n": 4}}',
        headers={**h, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    scalar = await api.put(f"{url}/attributes/n", json=5, headers=h)
    value = await api.get(f"{url}/attributes/n", headers=h)
    await api.delete(url, headers=h)
    assert created.status_code == 201
    assert etag == '"rev:1"'
    assert again.status_code == 412
    assert ok.status_code == 204
    assert stale.status_code == 412
    assert stale.json()["error"] == "things:precondition.failed"
    assert scalar.status_code == 204
    assert value.json() == 5


async def test_gateways_are_not_created_through_the_ditto_api(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    cc = OWN.record.credit_code
    response = await api.put(
        f"/api/2/things/dusttwin:gateway-{cc}-GW99",
        json={"attributes": {}},
        headers=tokens["admin"],
    )
    deleted = await api.delete(f"/api/2/things/dusttwin:gateway-{cc}-GW01", headers=tokens["admin"])
    assert response.status_code == 400
    assert "/api/v1" in response.json()["message"]
    assert deleted.status_code == 400
