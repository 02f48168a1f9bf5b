"""The hierarchy graph: built from the store, kept current from its notifications, rolled up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from tests.api.demo_data import BAOSHAN, OWN
from tests.api.test_registry import enterprise_body
from twins.graph import ALARM_SEVERITY, TwinGraph

MERGE = {"Content-Type": "application/merge-patch+json"}


def _graph(api: httpx.AsyncClient) -> TwinGraph:
    graph: TwinGraph = api.app.state.graph  # type: ignore[attr-defined]
    return graph


async def _eventually(check: Callable[[], bool], within_s: float = 5) -> bool:
    """Whether ``check`` comes true within the time (the graph follows notifications)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_everything_under_an_enterprise(api: httpx.AsyncClient) -> None:
    graph = _graph(api)
    ent = f"dusttwin:enterprise-{OWN.record.credit_code}"
    under = graph.descendants(ent)
    points = graph.descendants(ent, kind="point")
    system = f"dusttwin:system-{OWN.record.credit_code}-{OWN.systems[0].system_code}"
    demo_points = {f"dusttwin:point-{OWN.record.credit_code}-{p.point_code}" for p in OWN.points}
    demo_cameras = {f"dusttwin:camera-{c.gb28181_id}" for c in OWN.cameras}
    assert demo_points <= set(points)  # other tests may add points of their own
    assert demo_cameras <= set(graph.descendants(ent, kind="camera"))
    assert not set(points) - demo_points - {p for p in points if "-DC9" in p}
    assert f"dusttwin:gateway-{OWN.record.credit_code}-GW01" in under
    assert set(graph.children(system)) >= {
        f"dusttwin:point-{OWN.record.credit_code}-{p.point_code}"
        for p in OWN.points
        if p.system_code == OWN.systems[0].system_code
    }
    assert "dusttwin:region-310113" in graph.g.predecessors(ent)


async def test_region_rollup_follows_changes_without_a_rebuild(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    graph = _graph(api)
    admin = tokens["admin"]
    region = "dusttwin:region-310113"
    # earlier tests' enterprises may still be arriving through the notifications: start from a
    # graph that holds what the database holds
    stored = (await api.get("/api/v1/regions/310113", headers=admin)).json()["enterprises"]
    assert await _eventually(lambda: graph.rollup(region).counts["enterprise"] == stored)
    before = graph.rollup(region)
    body = enterprise_body()
    await api.post("/api/v1/enterprises", json=body, headers=admin)
    new_ent = f"dusttwin:enterprise-{body['credit_code']}"
    appeared = await _eventually(lambda: new_ent in graph.descendants(region))
    # a point with no alarm of its own (simulator tests raise real ones on demo points)
    point = next(
        tid
        for tid in (f"dusttwin:point-{OWN.record.credit_code}-{p.point_code}" for p in OWN.points)
        if (state := graph.state(tid)) is not None and state.alarm_level is None
    )
    await api.patch(
        f"/api/2/things/{point}/features",
        headers={**admin, **MERGE},
        json={
            "connectivity": {"properties": {"online": True}},
            "alarm": {"properties": {"state": "active", "level": "HHA"}},
        },
    )
    # other tests raise real alarms in Baoshan too: look for this one, not the region's worst
    alarmed = await _eventually(
        lambda: (
            getattr(graph.state(point), "alarm_level", None) == "HHA"
            and graph.rollup(region).open_alarms >= 1
        )
    )
    after = graph.rollup(region)
    summary = await api.get("/api/v1/regions/310113", headers=tokens["baoshan"])
    await api.patch(
        f"/api/2/things/{point}/features",
        headers={**admin, **MERGE},
        json={
            "connectivity": {"properties": {"online": False}},
            "alarm": {"properties": {"state": "normal", "level": None}},
        },
    )
    await api.delete(f"/api/v1/enterprises/{body['credit_code']}", headers=admin)
    gone = await _eventually(lambda: new_ent not in graph.g)
    assert appeared
    assert alarmed
    assert after.counts["enterprise"] == before.counts["enterprise"] + 1
    assert after.points_online == before.points_online + 1
    assert ALARM_SEVERITY[summary.json()["worst_alarm"]] >= ALARM_SEVERITY["HHA"]
    assert summary.json()["enterprises"] >= len(BAOSHAN)
    assert gone


async def test_region_summary_is_scoped(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    shanghai = await api.get("/api/v1/regions/310000", headers=tokens["shanghai"])
    jiading_on_baoshan = await api.get("/api/v1/regions/310113", headers=tokens["jiading"])
    enterprise = await api.get("/api/v1/regions/310113", headers=tokens["qiye-310113"])
    assert shanghai.status_code == 200
    assert shanghai.json()["enterprises"] >= 63
    assert "310113" in [c for c in shanghai.json()["children"]] or shanghai.json()["children"] == [
        "310100"
    ]
    assert jiading_on_baoshan.status_code == 404
    assert enterprise.status_code == 404
