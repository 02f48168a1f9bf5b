"""The enterprise live twin: abnormal values stand out, trends show limits, risk explains itself,
the queries read the seeded plant, and another enterprise's page is "not found"."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
import psycopg
import pytest
from dash import html

from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.enterprise_queries import (
    PlantView,
    PointRow,
    RiskView,
    SystemRow,
    Trend,
    enterprise_header,
    plant,
    point_trend,
    risk_view,
    with_gates,
)
from dash_app.figures.enterprise import (
    abnormal_reasons,
    alarms_table,
    plant_view,
    risk_panel,
    trend_figure,
)
from device_catalog import load_catalog
from dusttwin.settings import Settings
from risk.model import AlarmFact, EnterpriseInputs, default_model, evaluate, what_to_lower
from tests.api.demo_data import JIADING_ONE, OWN
from tests.dash_app.components import walk
from tests.helpers import override
from twins.scope import Scope
from twins.tokens import issue_token

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
OWN_CODE = OWN.record.credit_code
OWN_SCOPE = Scope.enterprise("qiye-310113", OWN_CODE)
OTHER_SCOPE = Scope.enterprise("qiye-310114", JIADING_ONE.record.credit_code)


def a_point(**changes: Any) -> PointRow:
    """A hopper temperature point (HA 70, HHA 80), normal unless changed."""
    base: dict[str, Any] = dict(
        point_id=1,
        thing_id="dusttwin:point-X-DC01-HOPPER_TEMP-1",
        point_code="DC01-HOPPER_TEMP-1",
        system_code="DC01",
        indicator="HOPPER_TEMP",
        name="灰斗温度",
        unit="°C",
        value=40.0,
        ts="2025-03-03T09:59:58+00:00",
        quality="GOOD",
        alarm_state="normal",
        alarm_level=None,
        online=True,
        limits={"hha": 80.0, "ha": 70.0, "la": None, "lla": None},
    )
    return PointRow(**{**base, **changes})


def rows_by_id(view: html.Div) -> dict[str, Any]:
    """Every table row of the plant view, by its id."""
    section = view.children[0]
    table = section.children[1]
    return {row.id: row for row in table.children[1].children}


# ---------------------------------------------------------------- pure builders


def test_a_point_above_ha_is_highlighted_and_a_normal_one_is_not() -> None:
    plant_ = PlantView(
        "X",
        (
            SystemRow(
                "DC01",
                "1#布袋除尘器",
                "dry",
                (
                    a_point(point_id=1, value=40.0),
                    a_point(point_id=2, value=75.0),
                    a_point(point_id=3, value=40.0, quality="FAULT"),
                    a_point(point_id=4, value=40.0, alarm_state="ACTIVE", alarm_level="HA"),
                ),
            ),
        ),
    )
    rows = rows_by_id(plant_view(plant_, "zh"))
    assert rows["ent-point-1"].className == "normal"
    assert rows["ent-point-2"].className == "abnormal"
    assert rows["ent-point-3"].className == "abnormal"
    assert rows["ent-point-4"].className == "abnormal"
    assert rows["ent-point-2"].children[1].children == "75"
    assert rows["ent-point-3"].children[4].children == "故障"
    assert rows["ent-point-4"].children[5].children == "HA ACTIVE"


def test_times_are_shown_on_chinas_clock() -> None:
    row = rows_by_id(
        plant_view(PlantView("X", (SystemRow("DC01", "1#", "dry", (a_point(),)),)), "zh")
    )
    assert row["ent-point-1"].children[3].children == "03-03 17:59:58"  # 09:59:58 UTC


def test_a_gated_low_value_is_not_abnormal_while_the_fan_is_stopped() -> None:
    """The pressure difference is evaluated only while the fan runs (catalog gate): at night
    its near-zero value is no alarm, and the live view must not paint it red."""
    catalog = load_catalog()
    dp = a_point(
        point_id=2,
        indicator="DP_IN_OUT",
        value=8.0,
        limits={"hha": 2000.0, "ha": 1500.0, "la": 300.0, "lla": None},
    )
    fan = a_point(point_id=3, indicator=catalog.running_signal, value=0.0, limits={})
    temp = a_point(point_id=1, value=75.0)  # not gated: above HA whatever the fan does
    stopped = with_gates([temp, dp, fan], catalog)
    running = with_gates([temp, dp, replace(fan, value=1.0)], catalog)
    assert [abnormal_reasons(p) for p in stopped] == [["limit"], [], []]
    assert [abnormal_reasons(p) for p in running] == [["limit"], ["limit"], []]


def test_trend_figure_draws_the_ha_and_hha_lines_across_the_range() -> None:
    start, end = NOW - timedelta(hours=1), NOW
    trend = Trend("1h", start, end, True, (start + timedelta(minutes=5), NOW), (50.0, 72.0))
    fig = trend_figure(trend, {"hha": 80.0, "ha": 70.0, "la": None, "lla": None}, "°C", "en")
    lines = {tr.meta: tr for tr in fig.data if tr.meta}
    assert set(lines) == {"HA", "HHA"}
    assert list(lines["HHA"].y) == [80.0, 80.0]
    assert list(lines["HA"].y) == [70.0, 70.0]
    # drawn on China's clock: 09:00–10:00 UTC is 17:00–18:00 for the user
    assert [x.strftime("%H:%M") for x in lines["HA"].x] == ["17:00", "18:00"]
    assert [tr.name for tr in fig.data if not tr.meta] == ["raw values"]


def test_a_bucketed_trend_shows_average_and_min_max_band() -> None:
    start = NOW - timedelta(days=7)
    t1 = start + timedelta(hours=1)
    trend = Trend("7d", start, NOW, False, (t1,), (50.0,), (45.0,), (58.0,))
    fig = trend_figure(trend, {}, "°C", "zh")
    assert [tr.name for tr in fig.data if tr.name] == ["最小–最大", "均值"]


def test_risk_panel_shows_the_three_components_and_what_lowers_it() -> None:
    alarm = AlarmFact(
        alarm_id="7",
        level="HHA",
        alarm_type="HIGH",
        state="ACTIVE",
        raised_at=NOW - timedelta(hours=3),
        ack_deadline=NOW - timedelta(hours=2),
        feedback_deadline=NOW + timedelta(hours=21),
        indicator="HOPPER_TEMP",
    )
    inputs = EnterpriseInputs(
        credit_code="X", dust_class="metal", al_mg=True, workers=40, dry_systems=1, alarms=(alarm,)
    )
    evaluation = evaluate(default_model(), inputs, NOW)
    panel = risk_panel(RiskView(evaluation, tuple(what_to_lower(evaluation))), "en")
    text = str(panel)
    for name in ("inherent risk", "monitoring alarms and their handling", "on-site management"):
        assert name in text
    for component in ("inherent", "alarm", "management"):
        assert f"ent-component-{component}" in text
    levers = [c for c in panel.children if getattr(c, "className", None) == "ent-levers"]
    assert len(levers) == 1
    assert levers[0].children  # at least the alarm to acknowledge
    assert "ent-contributions" in text


def test_alarms_table_lists_level_and_state_and_marks_overdue() -> None:
    row = {
        "id": 9,
        "raised_at": NOW,
        "system_code": "DC01",
        "indicator": "HOPPER_TEMP",
        "level": "HHA",
        "state": "ACTIVE",
        "ack_overdue": True,
        "feedback_overdue": False,
    }
    table = alarms_table(1, [row], "zh")
    text = str(table)
    assert "HHA" in text
    assert "未确认 (已超期)" in text
    assert "无未闭环报警" in str(alarms_table(0, [], "zh"))


def test_a_gateways_offline_alarm_is_named_after_the_gateway() -> None:
    row = {
        "id": 8,
        "thing_id": "dusttwin:gateway-91310113YDMDK4TM4L-GW01",
        "system_code": None,
        "indicator": None,
        "alarm_type": "OFFLINE",
        "level": "OFFLINE",
        "state": "ACTIVE",
        "raised_at": NOW,
    }
    cells = alarms_table(1, [row], "zh").children[1].children[1].children[0].children
    assert cells[2].children == "数采网关 GW01"


# ---------------------------------------------------------------- queries on the seeded plant


@pytest.fixture(scope="module")
def dsn(seeded: dict[str, str]) -> str:
    """The seeded demo database."""
    return seeded["DUSTTWIN_DATABASE_URL"]


async def _with_conn(dsn: str, fn: Any) -> Any:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        return await fn(conn)


def query(dsn: str, fn: Any) -> Any:
    """Run one async query function on a fresh connection."""
    return asyncio.run(_with_conn(dsn, fn))


def test_the_plant_of_own_has_its_systems_and_points(dsn: str) -> None:
    view: PlantView = query(dsn, lambda c: plant(c, OWN_SCOPE, OWN_CODE, load_catalog()))
    # other tests add systems and points of their own (codes DC9x) to this enterprise
    codes = [s.system_code for s in view.systems]
    assert [c for c in codes if not c.startswith("DC9")] == [s.system_code for s in OWN.systems]
    shown = {p.point_code for s in view.systems for p in s.points}
    assert shown >= {p.point_code for p in OWN.points}
    temp = next(p for s in view.systems for p in s.points if p.indicator == "HOPPER_TEMP")
    assert temp.limits["ha"] is not None
    assert temp.limits["hha"] is not None


def test_another_enterprise_sees_neither_the_plant_nor_the_enterprise(dsn: str) -> None:
    assert query(dsn, lambda c: enterprise_header(c, OWN_SCOPE, OWN_CODE)) is not None
    assert query(dsn, lambda c: enterprise_header(c, OTHER_SCOPE, OWN_CODE)) is None
    view = query(dsn, lambda c: plant(c, OTHER_SCOPE, OWN_CODE, load_catalog()))
    assert view.systems == ()


@pytest.fixture
def readings(dsn: str) -> Iterator[int]:
    """Three GOOD readings and a FAULT one of an OWN point in the last hour; removed afterwards."""
    now = datetime.now(UTC)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT id FROM things WHERE kind = 'point' AND credit_code = %s ORDER BY id LIMIT 1",
            (OWN_CODE,),
        ).fetchone()
        assert row is not None
        point_id = int(row[0])
        times = [now - timedelta(minutes=m) for m in (30, 20, 10, 5)]
        conn.cursor().executemany(
            "INSERT INTO readings (time, point_id, value, quality) VALUES (%s, %s, %s, %s)",
            [
                (times[0], point_id, 41.0, 0),
                (times[1], point_id, 42.0, 0),
                (times[2], point_id, 43.0, 0),
                (times[3], point_id, 999.0, 1),
            ],
        )
        yield point_id
        conn.execute("DELETE FROM readings WHERE point_id = %s", (point_id,))


def test_a_point_trend_reads_raw_for_an_hour_and_buckets_for_a_day(dsn: str, readings: int) -> None:
    now = datetime.now(UTC)
    hour = query(dsn, lambda c: point_trend(c, OWN_SCOPE, OWN_CODE, readings, "1h", now))
    assert hour.raw
    assert list(hour.values) == [41.0, 42.0, 43.0]  # the FAULT value stays out
    day = query(dsn, lambda c: point_trend(c, OWN_SCOPE, OWN_CODE, readings, "24h", now))
    assert not day.raw
    assert sum(1 for v in day.values if v is not None) >= 1
    assert max(v for v in day.maxs if v is not None) == 43.0
    other = query(dsn, lambda c: point_trend(c, OTHER_SCOPE, OWN_CODE, readings, "1h", now))
    assert other is None


def test_risk_of_own_is_evaluated_with_three_components(dsn: str) -> None:
    now = datetime.now(UTC)
    view = query(dsn, lambda c: risk_view(c, OWN_SCOPE, default_model(), OWN_CODE, now))
    assert set(view.evaluation.components) == {"inherent", "alarm", "management"}
    assert query(dsn, lambda c: risk_view(c, OTHER_SCOPE, default_model(), OWN_CODE, now)) is None


# ---------------------------------------------------------------- the page, its jurisdiction


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str) -> dash.Dash:
    """The Dash app on the seeded database."""
    return create_app(override(settings, database_url=dsn))


def enterprise_page(app: dash.Dash) -> Any:
    """The page module as Dash Pages imported it (importing it again would register it twice)."""
    page = next(
        p for p in dash.page_registry.values() if p["path_template"] == "/enterprise/<credit_code>"
    )
    return sys.modules[page["module"]]


def test_the_page_shows_own_plant_and_not_found_for_anyone_else(app: dash.Dash, dsn: str) -> None:
    page = enterprise_page(app)
    with app.server.test_request_context(f"/enterprise/{OWN_CODE}"):
        own = str(page.page_for(OWN_SCOPE, OWN_CODE, dsn))
        other = page.page_for(OTHER_SCOPE, OWN_CODE, dsn)
        unknown = page.page_for(OWN_SCOPE, "91310113MA1GXXXXX0", dsn)
        nobody = page.page_for(None, OWN_CODE, dsn)
        nobody_unknown = page.page_for(None, "91310113MA1GXXXXX0", dsn)
    assert OWN.record.name in own
    assert all(f"ent-system-{s.system_code}" in own for s in OWN.systems)
    assert str(other) == str(unknown)
    assert "请先登录后查看" in str(nobody)
    assert OWN.record.name not in str(nobody)
    assert str(nobody).replace(OWN_CODE, "X") == str(nobody_unknown).replace(
        "91310113MA1GXXXXX0", "X"
    )
    assert "未找到该企业" in str(other)
    assert OWN.record.name not in str(other)


def test_the_enterprise_sees_its_cameras_through_signed_links_only(
    app: dash.Dash, dsn: str, settings: Settings
) -> None:
    page = enterprise_page(app)
    with app.server.test_request_context(f"/enterprise/{OWN_CODE}"):
        shown = page.page_for(OWN_SCOPE, OWN_CODE, dsn)
    text = str(shown)
    for camera in OWN.cameras:
        assert f"ent-camera-{camera.gb28181_id}" in text
    links = [c for c in walk(shown) if str(getattr(c, "id", "")).startswith("ent-live-")]
    assert len(links) >= len(OWN.cameras)  # other tests add cameras of their own
    # the API's signed video route, never the camera's own address
    assert all(link.href.startswith(f"{settings.api_url}/api/v1/video/") for link in links)
    assert "127.0.0.1:8888" not in text  # the demo cameras' own stream server


def test_the_trend_callback_draws_own_points_only(app: dash.Dash, dsn: str, readings: int) -> None:
    page = enterprise_page(app)
    with app.server.test_request_context(f"/enterprise/{OWN_CODE}"):
        own = page.trend_for(OWN_SCOPE, OWN_CODE, readings, "1h", dsn, "en")
        other = page.trend_for(OTHER_SCOPE, OWN_CODE, readings, "1h", dsn, "en")
    assert list(own.data[0].y) == [41.0, 42.0, 43.0]
    assert other.data == ()


@pytest.mark.parametrize(
    ("username", "sees_own"), [("qiye-310113", True), ("qiye-310114", False), ("baoshan", True)]
)
def test_the_layout_with_a_real_token_cookie_follows_the_jurisdiction(
    app: dash.Dash, settings_secret: str, username: str, sees_own: bool
) -> None:
    page = enterprise_page(app)
    token = issue_token(settings_secret, username)
    with app.server.test_request_context(
        f"/enterprise/{OWN_CODE}", headers={"Cookie": f"{COOKIE}={token}"}
    ):
        shown = str(page.layout(credit_code=OWN_CODE))
    assert (OWN.record.name in shown) is sees_own
    assert ("未找到该企业" in shown) is not sees_own
