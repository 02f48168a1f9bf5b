"""The regulator's map and overview: sub-regions coloured by their worst level, 10,000 enterprises
without 10,000 traces, the login cookie shared with the API, and "not found" outside a jurisdiction.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import dash
import psycopg
import pytest
from dash import dcc
from flask.testing import FlaskClient

from dash_app import ids
from dash_app.app import create_app
from dash_app.auth import COOKIE, CSRF_COOKIE, CSRF_FIELD, request_scope, safe_next
from dash_app.figures.region import (
    LEVEL_COLOURS,
    REGION_FILL,
    click_target,
    counts_per_region,
    levels_bar,
    region_map,
    warnings_bar,
)
from dash_app.queries import (
    EnterprisePoint,
    SubRegion,
    TierWarnings,
    enterprises,
    home_adcode,
    map_regions,
    visible_region,
    warnings_by_tier,
)
from dusttwin.demo import DEMO_PASSWORD
from dusttwin.settings import Settings
from risk.model import TIERS
from tests.dash_app.components import walk
from tests.helpers import override
from twins.scope import Scope
from twins.tokens import issue_token

BAOSHAN = Scope.regulator("baoshan", "310113")
SHANGHAI = Scope.regulator("shanghai", "310000")


def square(lon: float, lat: float) -> tuple[tuple[tuple[float, float], ...], ...]:
    """One closed ring, a 0.1° square with its south-west corner at (lon, lat)."""
    d = 0.1
    return (((lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat)),)


THREE = (
    SubRegion("310113", "宝山区", "310113", square(121.4, 31.3)),
    SubRegion("310114", "嘉定区", "310114", square(121.2, 31.3)),
    SubRegion("310120", "奉贤区", "310120", square(121.4, 30.9)),
)


def ent(
    n: int, adcode: str, level: str, lon: float | None = 121.45, lat: float | None = 31.35
) -> EnterprisePoint:
    """An enterprise with a made-up credit code."""
    return EnterprisePoint(f"CC{n:04d}", f"企业{n}", adcode, lon, lat, level)


KNOWN = (
    ent(1, "310113", "red"),
    ent(2, "310113", "blue"),
    ent(3, "310113", "blue"),
    ent(4, "310114", "yellow", 121.25),
    ent(5, "310114", "yellow", 121.25),
    ent(6, "310114", "unknown", None, None),  # no location: counted, not drawn
)


# ---------------------------------------------------------------- pure builders


def test_each_sub_region_is_filled_by_its_worst_level_and_counts_every_enterprise() -> None:
    counts = counts_per_region(THREE, KNOWN)
    fig = region_map(THREE, KNOWN, "zh")
    fills = {trace.name.split("：")[0]: trace.fillcolor for trace in fig.data[:3]}
    assert counts["310113"] == {"red": 1, "orange": 0, "yellow": 0, "blue": 2, "unknown": 0}
    assert counts["310114"] == {"red": 0, "orange": 0, "yellow": 2, "blue": 0, "unknown": 1}
    assert sum(counts["310120"].values()) == 0
    assert fills == {
        "宝山区": REGION_FILL["red"],
        "嘉定区": REGION_FILL["yellow"],
        "奉贤区": REGION_FILL["unknown"],
    }


def test_enterprises_are_webgl_points_coloured_by_level_that_open_their_page() -> None:
    fig = region_map(THREE, KNOWN, "en")
    points = {trace.marker.color: trace for trace in fig.data if trace.type == "scattergl"}
    assert {c: len(trace.x) for c, trace in points.items()} == {
        LEVEL_COLOURS["red"]: 1,
        LEVEL_COLOURS["yellow"]: 2,
        LEVEL_COLOURS["blue"]: 2,
    }
    assert list(points[LEVEL_COLOURS["red"]].customdata) == ["/enterprise/CC0001"]
    assert points[LEVEL_COLOURS["red"]].name == "Red (major) (1)"


def test_a_click_opens_the_enterprise_or_drills_into_the_sub_region() -> None:
    fig = region_map(THREE, KNOWN, "zh").to_plotly_json()
    on_point = {"points": [{"curveNumber": 5, "customdata": "/enterprise/CC0001"}]}
    on_area = {"points": [{"curveNumber": 1}]}  # a fill gives no customdata, its trace a meta
    assert click_target(on_point, fig) == "/enterprise/CC0001"
    assert click_target(on_area, fig) == "/region/310114"
    assert click_target(None, fig) is None
    assert click_target({"points": [{"customdata": "https://evil.example"}]}, fig) is None


def test_ten_thousand_enterprises_are_aggregated_into_a_few_traces() -> None:
    rng = random.Random(7)
    levels = ("red", "orange", "yellow", "blue", "unknown")
    many = [
        ent(i, "310113", rng.choice(levels), rng.uniform(121.4, 121.5), rng.uniform(31.3, 31.4))
        for i in range(10_000)
    ]
    fig = region_map(THREE, many, "zh")
    cells = [trace for trace in fig.data if trace.type == "scattergl"]
    assert len(fig.data) <= len(THREE) + 1 + len(levels)
    assert 0 < sum(len(trace.x) for trace in cells) <= 3600
    assert sum(int(trace.name.rsplit("(", 1)[1].rstrip(")")) for trace in cells) == 10_000


def test_overview_bars_count_levels_and_overdue_warnings() -> None:
    levels = levels_bar(KNOWN, "zh")
    warnings = warnings_bar([TierWarnings("county", 3, 1), TierWarnings("city", 1, 0)], "zh")
    assert list(levels.data[0].y) == [1, 0, 2, 2, 1]
    assert list(warnings.data[0].x) == ["区县级", "市级"]
    assert list(warnings.data[1].y) == [1, 0]


def test_jurisdiction_rules_for_regions() -> None:
    assert visible_region(BAOSHAN, "310113") is not None
    assert visible_region(BAOSHAN, "310114") is None
    assert visible_region(BAOSHAN, "310100") is None
    assert visible_region(SHANGHAI, "310114") is not None
    assert visible_region(Scope.enterprise("qiye", "X"), "310113") is None
    assert visible_region(BAOSHAN, "999999") is None
    assert home_adcode(BAOSHAN) == "310113"
    assert home_adcode(SHANGHAI) == "310000"
    assert home_adcode(Scope.regulator("mem", "000000")) == "100000"
    assert safe_next("//evil.example/x") == "/region"
    assert safe_next("/region/310113") == "/region/310113"


def test_boundaries_come_from_the_offline_geojson() -> None:
    shanghai_districts = map_regions("310100")
    baoshan_alone = map_regions("310113")
    assert len(shanghai_districts) == 16
    assert all(r.rings for r in shanghai_districts)
    assert [r.adcode for r in baoshan_alone] == ["310113"]


# ---------------------------------------------------------------- on the seeded database


@pytest.fixture(scope="module")
def app(settings: Settings, seeded: dict[str, str]) -> dash.Dash:
    """The Dash app on the seeded demo database."""
    return create_app(override(settings, database_url=seeded["DUSTTWIN_DATABASE_URL"]))


def page_module(path: str) -> Any:
    """A page module as Dash Pages imported it (importing it again would register it twice)."""
    page = next(p for p in dash.page_registry.values() if p["path"] == path)
    return sys.modules[page["module"]]


def cookie_for(settings: Settings, username: str) -> dict[str, str]:
    """The request headers of a browser holding ``username``'s token cookie."""
    token = issue_token(settings.secret_key.get_secret_value(), username)
    return {"Cookie": f"{COOKIE}={token}"}


def test_request_scope_reads_the_token_cookie(app: dash.Dash, settings: Settings) -> None:
    headers = cookie_for(settings, "baoshan")
    tampered = {"Cookie": headers["Cookie"][:-3] + "abc"}
    with app.server.test_request_context("/region/310113", headers=headers):
        assert request_scope() == BAOSHAN
    with app.server.test_request_context("/region/310113", headers=tampered):
        assert request_scope() is None
    with app.server.test_request_context("/region/310113"):
        assert request_scope() is None


def _csrf(client: FlaskClient) -> str:
    """The CSRF cookie the login page's response gave this client."""
    client.get("/login")
    kept = client.get_cookie(CSRF_COOKIE)
    assert kept is not None
    return kept.value


def test_login_sets_an_http_only_strict_cookie_and_logout_removes_it(app: dash.Dash) -> None:
    client = app.server.test_client()
    token = _csrf(client)
    wrong = client.post(
        "/login",
        data={"username": "baoshan", "password": "wrong-password", CSRF_FIELD: token},
    )
    ok = client.post(
        "/login",
        data={
            "username": "baoshan",
            "password": DEMO_PASSWORD,
            "next": "/region/310113",
            CSRF_FIELD: token,
        },
    )
    cookie = ok.headers["Set-Cookie"]
    page = client.get("/region/310113")
    out = client.get("/logout")
    assert wrong.status_code == 303
    assert wrong.headers["Location"].startswith("/login?error=1")
    assert "Set-Cookie" not in wrong.headers
    assert ok.status_code == 303
    assert ok.headers["Location"] == "/region/310113"
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert page.status_code == 200
    assert out.status_code == 303
    assert f"{COOKIE}=;" in out.headers["Set-Cookie"]


def test_a_login_form_posted_without_its_csrf_token_logs_nobody_in(app: dash.Dash) -> None:
    """Login CSRF: a form on another site posting the attacker's credentials to /login."""
    client = app.server.test_client()
    token = _csrf(client)
    good = {"username": "baoshan", "password": DEMO_PASSWORD, "next": "/region/310113"}
    missing = client.post("/login", data=good)
    forged = client.post("/login", data={**good, CSRF_FIELD: "guessed-" + token[:8]})
    elsewhere = app.server.test_client().post("/login", data={**good, CSRF_FIELD: token})
    for refused in (missing, forged, elsewhere):  # the last: the right token, not its browser's
        assert refused.status_code == 303
        assert refused.headers["Location"].startswith("/login?error=csrf")
        assert f"{COOKIE}=" not in str(refused.headers.getlist("Set-Cookie"))
    with app.server.test_request_context("/"):
        assert (
            page_module("/login").render("zh", "csrf")[4]
            == "登录页面已过期，请重新输入用户名和密码。"
        )


def test_region_page_of_own_jurisdiction_shows_the_map(app: dash.Dash, settings: Settings) -> None:
    region = page_module("/region")
    with app.server.test_request_context("/region/310113", headers=cookie_for(settings, "baoshan")):
        page = region.layout(adcode="310113")
    graph = next(c for c in walk(page) if getattr(c, "id", None) == ids.REGION_MAP)
    drawn = sum(len(tr.x) for tr in graph.figure.data if tr.type == "scattergl")
    assert drawn >= 30  # the demo's 30 enterprises of Baoshan, all located (+ other tests')
    assert "宝山区" in str(page)


def test_region_outside_the_jurisdiction_is_not_found(app: dash.Dash, settings: Settings) -> None:
    region = page_module("/region")
    with app.server.test_request_context("/region/310114", headers=cookie_for(settings, "baoshan")):
        page = region.layout(adcode="310114")
    found_ids = {getattr(c, "id", None) for c in walk(page)}
    assert ids.REGION_NOT_FOUND in found_ids
    assert ids.REGION_MAP not in found_ids


def test_region_without_adcode_redirects_home_and_anonymous_gets_a_login_link(
    app: dash.Dash, settings: Settings
) -> None:
    region = page_module("/region")
    with app.server.test_request_context("/region", headers=cookie_for(settings, "baoshan")):
        home = region.layout()
    redirect = next(c for c in walk(home) if getattr(c, "id", None) == ids.REGION_REDIRECT)
    with app.server.test_request_context("/region/310113"):
        anonymous = region.layout(adcode="310113")
    links = [c for c in walk(anonymous) if isinstance(c, dcc.Link)]
    assert redirect.href == "/region/310113"
    assert [link.href for link in links] == ["/login?next=/region/310113"]  # type: ignore[attr-defined]


def test_overview_and_its_queries_for_shanghai(
    app: dash.Dash, settings: Settings, seeded: dict[str, str]
) -> None:
    overview = page_module("/overview")
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        found = enterprises(conn, SHANGHAI, "310000")
        tiers = warnings_by_tier(conn, SHANGHAI, "310000")
        baoshan_only = enterprises(conn, BAOSHAN, "310000")
    with app.server.test_request_context("/overview", headers=cookie_for(settings, "shanghai")):
        page = overview.layout()
    graph_ids = {getattr(c, "id", None) for c in walk(page) if isinstance(c, dcc.Graph)}
    # other tests register enterprises too: the demo's are there, and Baoshan's are fewer
    assert len(found) >= 63
    assert 30 <= len(baoshan_only) < len(found)  # a query never leaves the caller's scope
    assert [w.tier for w in tiers][: len(TIERS)] == list(TIERS)
    assert graph_ids == {ids.OVERVIEW_LEVELS, ids.OVERVIEW_REGIONS, ids.OVERVIEW_WARNINGS}
