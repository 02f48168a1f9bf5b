"""Benchmark: server time to render the regional map and the enterprise live twin with 10,000
enterprises and 100,000 points loaded (p50/p99), through the Dash app's Flask server in-process.

Run (full size): .venv/bin/python -m bench.bench_dash_render --enterprises 10000 --points-per 10 --repeats 50
Small check:     .venv/bin/python -m bench.bench_dash_render --enterprises 500 --repeats 10

In a database of its own: the enterprises, two dry systems each and their alarms come from
``bench.bench_risk_db.populate``; this module adds each enterprise's location (around the centre
of its district), ``--points-per`` points per enterprise (shaped by the registry's own validator,
with live values), an hour of raw readings for the measured enterprise's points, one risk pass
(``risk.assessment.assess``: the map's colours) and two users: a province-level regulator
(``--map-scope``, default Shanghai 310000) and the measured enterprise's user.

One page load is what a browser's first visit makes the server do, request by request, through
``app.server.test_client()`` with the login cookie: the index HTML, ``/_dash-layout``,
``/_dash-dependencies``, the page router callback (the page's ``layout()``: ``request_scope()``,
its queries, its figures) and every server callback the new page fires on load (found from
``/_dash-dependencies`` and the layout: not prevented, all inputs and outputs on the page; one
level — callbacks fired by their outputs are not followed; pattern-matching ids are not handled).
Static JS/CSS bundles are left out (a browser caches them). The requests run one after another,
so a load's time is the server's total work for it; a browser sends some of them in parallel.
Prints p50/p99/max of a whole load over ``--repeats`` loads (after 2 warm-up loads), the p50 of
each request, and the bytes a load transfers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb

from bench.bench_risk_db import DISTRICTS, populate
from bench.common import scratch_database
from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.queries import home_adcode, map_regions
from device_catalog import load_catalog
from dusttwin.migrate import migrate
from dusttwin.settings import Settings
from risk.assessment import assess
from risk.model import default_model
from twins.model import ThingKey
from twins.registry import RegistryValidator
from twins.scope import Scope
from twins.tokens import issue_token
from twins.users import add_user

# dry-collector indicators, the demo's mandatory four first; a point per indicator and system
INDICATORS = (
    "HOPPER_TEMP",
    "DP_IN_OUT",
    "AIRLOCK_FAULT",
    "FAN_RUN",
    "DUCT_VEL",
    "INLET_TEMP",
    "OUTLET_TEMP",
    "PULSE_AIR_P",
    "SPARK_DET",
    "SMOKE",
)
SYSTEMS = ("DC00", "DC01")  # what populate registers for every enterprise
MAP_USER = "bench-regulator"
ENTERPRISE_USER = "bench-qiye"
# what the pages show instead of themselves (timing those would measure the wrong thing)
NOT_THE_PAGE = ("login-required", "region-not-found", "ent-not-found")


# ---------------------------------------------------------------- the data


def _centres() -> dict[str, tuple[float, float]]:
    """Roughly the middle of each district the enterprises are in (mean of its outline)."""
    centres = {}
    for r in map_regions("310000"):
        ring = max(r.rings, key=len) if r.rings else ()
        if ring:
            centres[r.adcode] = (
                statistics.fmean(p[0] for p in ring),
                statistics.fmean(p[1] for p in ring),
            )
    return centres


async def _templates(dsn: str, credit_code: str) -> dict[str, dict[str, Any]]:
    """A point's attributes per indicator as the registry's validator writes them."""
    catalog = load_catalog()
    validator = RegistryValidator(catalog)
    out = {}
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        for ind in INDICATORS:
            given = {
                "system_code": SYSTEMS[0],
                "indicator": ind,
                "unit": catalog.indicator(ind).unit,
            }
            key = ThingKey("point", credit_code, f"{SYSTEMS[0]}-{ind}-1")
            out[ind] = await validator(conn, key, given, None)
    return out


def add_plant(dsn: str, points_per: int, now: datetime) -> tuple[int, str]:
    """Locations and points for every enterprise; returns the points and the measured one's code."""
    rng = random.Random(11)
    centres = _centres()
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT credit_code, adcode, attributes -> 'dust_types' FROM things"
            " WHERE kind = 'enterprise' ORDER BY credit_code"
        ).fetchall()
    templates = asyncio.run(_templates(dsn, rows[0][0]))
    per_system = [
        (SYSTEMS[i % len(SYSTEMS)], INDICATORS[(i // len(SYSTEMS)) % len(INDICATORS)])
        for i in range(points_per)
    ]
    points = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE places (credit_code text, lon float8, lat float8)")
        with cur.copy("COPY places FROM STDIN") as copy:
            for cc, adcode, _ in rows:
                lon, lat = centres.get(adcode, (121.45, 31.25))
                copy.write_row((cc, lon + rng.uniform(-0.04, 0.04), lat + rng.uniform(-0.04, 0.04)))
        cur.execute(
            "UPDATE things t SET attributes = t.attributes || jsonb_build_object('location',"
            " jsonb_build_object('lon', p.lon, 'lat', p.lat))"
            " FROM places p WHERE t.kind = 'enterprise' AND t.credit_code = p.credit_code"
        )
        with cur.copy(
            "COPY things (thing_id, policy_id, definition, attributes, features) FROM STDIN"
        ) as copy:
            for cc, adcode, dust in rows:
                al_mg = bool({"aluminium", "magnesium"} & set(dust or []))
                for n, (system, ind) in enumerate(per_system):
                    code = f"{system}-{ind}-{n // (len(SYSTEMS) * len(INDICATORS)) + 1}"
                    tid = f"dusttwin:point-{cc}-{code}"
                    t = templates[ind]
                    attributes = {
                        **t,
                        "credit_code": cc,
                        "adcode": adcode,
                        "point_code": code,
                        "system_code": system,
                        "parent": f"dusttwin:system-{cc}-{system}",
                        "limit_context": {**t["limit_context"], "al_mg": al_mg},
                    }
                    value = rng.uniform(t["range_low"], t["range_high"] / 2)
                    features = {
                        "measurement": {
                            "properties": {
                                "value": round(value, 1),
                                "ts": now.isoformat(),
                                "quality": "GOOD",
                            }
                        },
                        "alarm": {"properties": {"state": "normal", "level": None, "since": None}},
                        "connectivity": {
                            "properties": {"online": True, "last_seen": now.isoformat()}
                        },
                    }
                    copy.write_row(
                        (tid, tid, "dusttwin:Point:1.0.0", Jsonb(attributes), Jsonb(features))
                    )
                    points += 1
    # the measured enterprise: the first of the first district (Baoshan)
    return points, str(next(cc for cc, adcode, _ in rows if adcode == DISTRICTS[0]))


def add_readings(dsn: str, credit_code: str, now: datetime) -> int:
    """An hour of raw readings, one per 30 s, for every point of the measured enterprise."""
    rng = random.Random(12)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        ids = [
            r[0]
            for r in cur.execute(
                "SELECT id FROM things WHERE kind = 'point' AND credit_code = %s", (credit_code,)
            ).fetchall()
        ]
        n = 0
        with cur.copy("COPY readings (time, point_id, value, quality) FROM STDIN") as copy:
            for point_id in ids:
                for s in range(0, 3600, 30):
                    copy.write_row((now - timedelta(seconds=s), point_id, rng.uniform(20, 60), 0))
                    n += 1
    return n


async def _assess_and_users(dsn: str, now: datetime, map_scope: str, credit_code: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        async with conn.transaction():
            await assess(conn, default_model(), now)
        password = secrets.token_urlsafe(12)
        await add_user(conn, MAP_USER, "regulator", map_scope, password)
        await add_user(conn, ENTERPRISE_USER, "enterprise", credit_code, password)
        await conn.commit()


# ---------------------------------------------------------------- a browser's page load


@dataclass
class Step:
    """One request of a page load: what, how long, how many bytes came back."""

    name: str
    seconds: float
    size: int


def _components(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, props) of every component with a plain string id in a layout's JSON."""
    if isinstance(node, list):
        for item in node:
            yield from _components(item)
    elif isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and "type" in node:
            if isinstance(props.get("id"), str):
                yield props["id"], props
            for value in props.values():
                yield from _components(value)


def _fires_on_load(dep: dict[str, Any], present: dict[str, dict[str, Any]]) -> bool:
    """Whether the browser calls this server callback when the page appears."""
    if dep.get("clientside_function") or "_pages_content" in dep["output"]:
        return False
    wires = [*dep["inputs"], *dep["state"]]
    if not dep["inputs"] or any(not isinstance(w["id"], str) for w in wires):
        return False  # no input, or pattern-matching ids (not handled here)
    outputs = _outputs(dep["output"])
    if not all(w["id"] in present for w in [*dep["inputs"], *outputs]):
        return False
    location = any(w["id"] == "_pages_location" for w in dep["inputs"])
    return not dep.get("prevent_initial_call") or location


def _outputs(key: str) -> list[dict[str, str]]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    return [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]


def _value(present: dict[str, dict[str, Any]], wire: dict[str, Any], path: str) -> Any:
    if wire["id"] == "_pages_location":
        return {"pathname": path, "search": "", "hash": "", "href": f"http://bench{path}"}.get(
            wire["property"]
        )
    return present.get(wire["id"], {}).get(wire["property"])


def _post(client: FlaskClient, body: dict[str, Any]) -> tuple[float, int, Any]:
    start = time.perf_counter()
    response = client.post("/_dash-update-component", json=body)
    took = time.perf_counter() - start
    if response.status_code not in (200, 204):
        raise RuntimeError(f"{body['output']}: HTTP {response.status_code}: {response.text[:500]}")
    return took, len(response.data), response.get_json() if response.status_code == 200 else None


def _get(client: FlaskClient, url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    response = client.get(url)
    took = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
    return took, response.data


def _call(dep: dict[str, Any], present: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    outputs = _outputs(dep["output"])

    def wires(kind: str) -> list[dict[str, Any]]:
        return [{**w, "value": _value(present, w, path)} for w in dep[kind]]

    location = [f"{w['id']}.{w['property']}" for w in dep["inputs"] if w["id"] == "_pages_location"]
    return {
        "output": dep["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": wires("inputs"),
        "state": wires("state"),
        "changedPropIds": location,
    }


def page_load(client: FlaskClient, path: str) -> list[Step]:
    """Every request a first visit to ``path`` makes, timed."""
    steps = []
    took, html = _get(client, path)
    steps.append(Step("GET page (index HTML)", took, len(html)))
    took, layout = _get(client, "/_dash-layout")
    steps.append(Step("GET /_dash-layout", took, len(layout)))
    took, deps_raw = _get(client, "/_dash-dependencies")
    steps.append(Step("GET /_dash-dependencies", took, len(deps_raw)))
    deps = json.loads(deps_raw)
    router = next(d for d in deps if "_pages_content" in d["output"])
    present = dict(_components(json.loads(layout)))
    took, size, answer = _post(client, _call(router, present, path))
    steps.append(Step("page layout (router callback)", took, size))
    shown = json.dumps(answer)
    if any(marker in shown for marker in NOT_THE_PAGE):
        raise RuntimeError(f"{path} answered with a login prompt or 'not found', not the page")
    present.update(_components(answer["response"]["_pages_content"]["children"]))
    for dep in deps:
        if _fires_on_load(dep, present):
            took, size, _ = _post(client, _call(dep, present, path))
            name = " ".join(
                f"{o['id']}.{o['property'].split('@')[0]}" for o in _outputs(dep["output"])
            )
            steps.append(Step(f"callback → {name[:70]}", took, size))
    return steps


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def measure(client: FlaskClient, title: str, path: str, repeats: int) -> None:
    """Time ``repeats`` page loads of ``path`` and print the figures."""
    for _ in range(2):
        page_load(client, path)  # warm-up: imports, caches, the catalog, GeoJSON outlines
    loads = [page_load(client, path) for _ in range(repeats)]
    totals = [sum(s.seconds for s in load) for load in loads]
    print(f"\n{title}: {path} ({repeats} loads)")
    print(
        f"  whole load: p50 {_pct(totals, 0.5):.1f} ms, p99 {_pct(totals, 0.99):.1f} ms,"
        f" max {max(totals) * 1000:.1f} ms; {sum(s.size for s in loads[-1]) / 1024:.1f} KB"
    )
    for i, step in enumerate(loads[-1]):
        samples = [load[i].seconds for load in loads if len(load) > i]
        print(
            f"    {step.name:<82} p50 {_pct(samples, 0.5):7.1f} ms"
            f"  p99 {_pct(samples, 0.99):7.1f} ms  {step.size / 1024:7.1f} KB"
        )


def main() -> None:
    """Populate a scratch database and time the two pages."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--points-per", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument(
        "--map-scope", default="310000", help="the regulator's adcode (000000: MEM)"
    )
    args = parser.parse_args()
    print("command: .venv/bin/python -m bench.bench_dash_render " + " ".join(sys.argv[1:]))
    settings = Settings()
    now = datetime.now(UTC)
    with scratch_database(settings, "dusttwin_bench_dash") as dsn:
        migrate(dsn)
        start = time.perf_counter()
        alarms = populate(dsn, args.enterprises, now)
        points, measured = add_plant(dsn, args.points_per, now)
        readings = add_readings(dsn, measured, now)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        asyncio.run(_assess_and_users(dsn, now, args.map_scope, measured))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")
        print(
            f"loaded {args.enterprises:,} enterprises, {2 * args.enterprises:,} systems,"
            f" {points:,} points, {alarms:,} alarms, {readings:,} readings in {loaded:.1f} s;"
            f" risk pass and users in {time.perf_counter() - start:.1f} s"
        )
        app = create_app(Settings.model_validate({**settings.model_dump(), "database_url": dsn}))
        secret = settings.secret_key.get_secret_value()
        regulator: FlaskClient = app.server.test_client()
        regulator.set_cookie(COOKIE, issue_token(secret, MAP_USER))
        enterprise: FlaskClient = app.server.test_client()
        enterprise.set_cookie(COOKIE, issue_token(secret, ENTERPRISE_USER))
        home = home_adcode(Scope.regulator(MAP_USER, args.map_scope))
        measure(
            regulator,
            f"regional map as regulator {args.map_scope}",
            f"/region/{home}",
            args.repeats,
        )
        measure(
            enterprise, "enterprise live twin as its user", f"/enterprise/{measured}", args.repeats
        )


if __name__ == "__main__":
    main()
