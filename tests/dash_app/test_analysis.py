"""The comprehensive analysis (综合分析): connection and online counts, completeness of basic data
and sensor data quality, exactly for a plant of the test's own in Pudong (310115, where the demo
has none); a regulator sees only its jurisdiction; the Excel export holds exactly the rows shown.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dash
import openpyxl  # type: ignore[import-untyped]
import psycopg
import pytest
from dash import dcc
from psycopg_pool import AsyncConnectionPool

from dash_app.analysis_queries import (
    FREQUENT_ALARMS,
    MAX_LISTED,
    REQUIRED_FIELDS,
    Analysis,
    analysis,
    missing_fields,
)
from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.figures.analysis import (
    Link,
    Table,
    coverage_chart,
    online_trend_chart,
    tables,
)
from device_catalog import load_catalog
from dusttwin.settings import Settings
from risk.statistics import china_day, compute_day, day_bounds
from tests.api.demo_data import BAOSHAN, JIADING
from tests.dash_app.components import walk
from tests.helpers import made_up_credit_code, override
from twins.gateways import register_gateway
from twins.records import create_record
from twins.registry import ENTERPRISE, KINDS, RegistryValidator
from twins.schemas import EnterpriseCreate, GatewayCreate, PointCreate, SystemCreate
from twins.scope import Scope
from twins.store import PostgresTwinStore
from twins.tokens import issue_token

PUDONG = "310115"
PUDONG_SCOPE = Scope.regulator("pudong", PUDONG)
JIADING_SCOPE = Scope.regulator("jiading", "310114")
NOW = datetime.now(UTC).replace(microsecond=0)
FULL = made_up_credit_code("ANA", 1, PUDONG)  # complete data, connected, online
SPARSE = made_up_credit_code("ANA", 2, PUDONG)  # little data, never sent anything
CLOSED = made_up_credit_code("ANA", 3, PUDONG)  # closed: not expected to connect
CODES = (FULL, SPARSE, CLOSED)
SPARSE_NAME = "=1+1 浦东测试企业"  # a name that openpyxl would take for a formula
UNITS = {"HOPPER_TEMP": "°C", "DP_IN_OUT": "Pa", "FAN_RUN": "0/1"}
STATS_DAY = china_day(NOW) - timedelta(days=2)
# the demo names some Baoshan and Jiading enterprises alike: these are Baoshan's alone
BAOSHAN_ONLY_NAMES = {e.record.name for e in BAOSHAN} - {e.record.name for e in JIADING}

COMPLETE_RECORD: dict[str, Any] = {
    "credit_code": FULL,
    "name": "浦东完整信息铝制品有限公司",
    "adcode": PUDONG,
    "address": "上海市浦东新区测试路1号",
    "location": {"lon": 121.6, "lat": 31.2},
    "industry": "C33 金属制品业",
    "regulated_industry": "机械",
    "legal_representative": "张三",
    "principal": {"name": "李四", "phone": "13800000001"},
    "safety_officer": {"name": "王五", "phone": "13900000001"},
    "staff_total": 120,
    "safety_staff": 3,
    "dust_workers": 45,
    "max_per_shift": 20,
    "dust_types": ["aluminium"],
    "processes": ["打磨抛光"],
    "scale": "small",
}


class NoBrokerAccounts:
    """Gateway credentials nobody needs in this test."""

    async def issue(self, username: str, password: str, topic_prefix: str) -> None:
        """Nothing to issue."""

    async def revoke(self, username: str) -> None:
        """Nothing to revoke."""

    async def accepts(self, username: str, password: str) -> bool:
        """Nothing is checked."""
        return True


async def _register(dsn: str) -> None:
    records = (
        COMPLETE_RECORD,
        {"credit_code": SPARSE, "name": SPARSE_NAME, "adcode": PUDONG},
        {
            "credit_code": CLOSED,
            "name": "浦东已关闭企业",
            "adcode": PUDONG,
            "operating_state": "closed",
        },
    )
    plant = {FULL: {"DC01": ("HOPPER_TEMP", "DP_IN_OUT", "FAN_RUN"), "DC02": ("FAN_RUN",)}}
    plant[SPARSE] = {"DC01": ("HOPPER_TEMP",)}
    admin = Scope.admin()
    async with AsyncConnectionPool(dsn, min_size=1, max_size=2, open=False) as pool:
        store = PostgresTwinStore(pool, RegistryValidator(load_catalog()))
        for record in records:
            await create_record(store, admin, ENTERPRISE, EnterpriseCreate.model_validate(record))
        for code, systems in plant.items():
            gateway = GatewayCreate(gateway_id="GW01", upload_period_s=10)
            await register_gateway(store, admin, code, gateway, NoBrokerAccounts())
            for system_code, indicators in systems.items():
                system = SystemCreate(
                    system_code=system_code, name=system_code, collector="dry", collector_type="bag"
                )
                await create_record(store, admin, KINDS["system"], system, credit_code=code)
                for indicator in indicators:
                    point = PointCreate(
                        point_code=f"{system_code}-{indicator}-1",
                        system_code=system_code,
                        indicator=indicator,
                        unit=UNITS[indicator],
                        gateway_id="GW01",
                    )
                    await create_record(store, admin, KINDS["point"], point, credit_code=code)


def _live(conn: psycopg.Connection[Any], thing_id: str, features: dict[str, Any]) -> None:
    """Set a twin's live state as the connectors and the upkeep would have."""
    conn.execute(
        "UPDATE things SET features = features || %s::jsonb WHERE thing_id = %s",
        (json.dumps(features), thing_id),
    )


def _point(code: str, point_code: str) -> str:
    return f"dusttwin:point-{code}-{point_code}"


def _connectivity(online: bool, last_seen: datetime | None) -> dict[str, Any]:
    seen = None if last_seen is None else last_seen.isoformat()
    return {"connectivity": {"properties": {"online": online, "last_seen": seen}}}


def _measured(quality: str, at: datetime) -> dict[str, Any]:
    return {"measurement": {"properties": {"value": 1.0, "ts": at.isoformat(), "quality": quality}}}


# (point code of FULL, alarm type, level, count, days ago, suppressed): 4 + 2 in the window on
# the hopper temperature (frequent), 9 older ones and 5 during maintenance that do not count
ALARMS = (
    ("DC01-HOPPER_TEMP-1", "HIGH", "HA", 4, 3, False),
    ("DC01-HOPPER_TEMP-1", "HIGH", "HHA", 2, 1, False),
    ("DC01-HOPPER_TEMP-1", "HIGH", "HA", 9, 10, False),
    ("DC01-HOPPER_TEMP-1", "HIGH", "HA", 5, 2, True),
    ("DC01-FAN_RUN-1", "OVER_RANGE", "OVER_RANGE", 1, 1, False),
)


def _alarms(conn: psycopg.Connection[Any]) -> None:
    for point_code, alarm_type, level, count, days_ago, suppressed in ALARMS:
        thing_id = _point(FULL, point_code)
        raised = NOW - timedelta(days=days_ago)
        conn.execute(
            "INSERT INTO alarms (thing_id, point_id, credit_code, adcode, system_code, indicator,"
            " alarm_type, level, state, raised_at, last_seen_at, count, suppressed,"
            " ack_deadline, feedback_deadline)"
            " SELECT thing_id, id, credit_code, adcode, attributes ->> 'system_code',"
            " attributes ->> 'indicator', %s, %s, 'CLOSED', %s, %s, %s, %s, %s, %s"
            " FROM things WHERE thing_id = %s",
            (alarm_type, level, raised, raised, count, suppressed, raised, raised, thing_id),
        )


def _online_history(conn: psycopg.Connection[Any]) -> None:
    """FULL online 18 of STATS_DAY's 24 hours, then the day's statistics computed."""
    start, _ = day_bounds(STATS_DAY, NOW)
    for hours, online in ((0, True), (6, False), (12, True)):
        conn.execute(
            "INSERT INTO connectivity_events (thing_id, at, online) VALUES (%s, %s, %s)",
            (f"dusttwin:enterprise-{FULL}", start + timedelta(hours=hours), online),
        )

    async def compute() -> None:
        async with (
            await psycopg.AsyncConnection.connect(conn.info.dsn) as aconn,
            aconn.transaction(),
        ):
            await compute_day(aconn, STATS_DAY, NOW)

    asyncio.run(compute())


@pytest.fixture(scope="module")
def dsn(seeded: dict[str, str]) -> Iterator[str]:
    """The seeded database with the Pudong plant, its live state, alarms and statistics."""
    url = seeded["DUSTTWIN_DATABASE_URL"]
    asyncio.run(_register(url))
    recent, silent = NOW - timedelta(minutes=1), NOW - timedelta(hours=2)
    with psycopg.connect(url, autocommit=True) as conn:
        _live(conn, f"dusttwin:enterprise-{FULL}", _connectivity(True, recent))
        _live(conn, f"dusttwin:gateway-{FULL}-GW01", _connectivity(True, recent))
        _live(
            conn,
            _point(FULL, "DC01-HOPPER_TEMP-1"),
            _connectivity(True, recent) | _measured("OVER_RANGE", recent),
        )
        _live(
            conn,
            _point(FULL, "DC01-DP_IN_OUT-1"),
            _connectivity(True, recent) | _measured("FAULT", recent),
        )
        _live(
            conn,
            _point(FULL, "DC01-FAN_RUN-1"),
            _connectivity(False, silent) | _measured("GOOD", silent),
        )
        _alarms(conn)
        _online_history(conn)
    yield url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM alarms WHERE credit_code = ANY(%s)", (list(CODES),))
        conn.execute("DELETE FROM things WHERE credit_code = ANY(%s)", (list(CODES),))


def run_analysis(dsn: str, scope: Scope, adcode: str) -> Analysis | None:
    """The analysis as the page computes it."""
    with psycopg.connect(dsn) as conn:
        return analysis(conn, scope, adcode, NOW, load_catalog())


def pudong(dsn: str) -> Analysis:
    """The analysis of the test's own plant."""
    found = run_analysis(dsn, PUDONG_SCOPE, PUDONG)
    assert found is not None
    return found


# ---------------------------------------------------------------- pure rules


def test_missing_fields_names_what_an_enterprise_lacks() -> None:
    sparse = {"name": "某企业", "adcode": PUDONG, "dust_workers": 0, "principal": {"name": "李"}}
    assert missing_fields(COMPLETE_RECORD, systems=2) == ()
    assert missing_fields(COMPLETE_RECORD, systems=0) == ("systems",)
    assert missing_fields(sparse, systems=1) == tuple(
        name for name, _ in REQUIRED_FIELDS if name not in ("principal", "systems")
    )


# ---------------------------------------------------------------- the plant of its own


def test_connected_and_online_counts_are_exact(dsn: str) -> None:
    report = pudong(dsn)
    total = report.coverage[-1]
    assert [c.area.adcode if c.area else None for c in report.coverage] == [PUDONG, None]
    assert (total.enterprises, total.key_enterprises, total.connected, total.online) == (2, 1, 1, 1)
    assert (total.systems, total.systems_connected, total.systems_online) == (3, 1, 1)
    assert total.online_rate == 0.5
    assert total.systems_online_rate == pytest.approx(1 / 3)


def test_completeness_lists_the_enterprise_lacking_most_first(dsn: str) -> None:
    report = pudong(dsn)
    total = report.completeness[-1]
    missing = dict(report.missing_by_field)
    assert (total.enterprises, total.complete) == (2, 1)
    assert total.rate == pytest.approx((2 * len(REQUIRED_FIELDS) - 16) / (2 * len(REQUIRED_FIELDS)))
    assert [g.credit_code for g in report.worst] == [SPARSE]
    assert len(report.worst[0].missing) == 16  # everything but the systems it has
    assert missing["address"] == 1
    assert missing["systems"] == 0


def test_sensor_quality_counts_frequent_out_of_range_and_silent_points(dsn: str) -> None:
    report = pudong(dsn)
    frequent = {p.point_code: p.alarms for p in report.frequent.rows}
    bad = [(p.credit_code, p.point_code) for p in report.bad.rows]
    stale = [(p.credit_code, p.point_code) for p in report.stale.rows]
    total = report.quality[-1]
    assert frequent == {"DC01-HOPPER_TEMP-1": 6}  # 9 older and 5 during maintenance left out
    assert FREQUENT_ALARMS <= 6
    assert bad == [
        (FULL, "DC01-DP_IN_OUT-1"),
        (FULL, "DC01-HOPPER_TEMP-1"),
        (FULL, "DC01-FAN_RUN-1"),  # GOOD now, but an out-of-range alarm this week
    ]
    assert stale == [
        (FULL, "DC01-FAN_RUN-1"),  # silent for 2 hours: first
        (FULL, "DC02-FAN_RUN-1"),
        (SPARSE, "DC01-HOPPER_TEMP-1"),  # never reported: last
    ]
    assert report.stale.rows[0].last_seen is not None
    assert (total.points, total.online, total.stale, total.bad, total.frequent) == (5, 2, 3, 3, 1)


def test_the_online_trend_reads_the_daily_statistics(dsn: str) -> None:
    report = pudong(dsn)
    day = next(s for s in report.stats if s.day == STATS_DAY and s.adcode == PUDONG)
    fig = online_trend_chart(report, "zh")
    # FULL 18 of 24 h, SPARSE and the closed one never: the region's mean is 0.75 / 3
    assert day.online_rate == pytest.approx(0.25)
    assert day.enterprises == 3
    assert fig.data[0].name == "浦东新区"
    assert STATS_DAY in list(fig.data[0].x)


def test_charts_count_per_sub_region(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        shanghai = analysis(
            conn, Scope.regulator("shanghai", "310000"), "310100", NOW, load_catalog()
        )
    assert shanghai is not None
    fig = coverage_chart(shanghai, "en")
    pudong_at = list(fig.data[0].x).index("浦东新区")
    assert [tr.name for tr in fig.data] == ["To connect", "Connected", "Online"]
    assert [tr.y[pudong_at] for tr in fig.data] == [2, 1, 1]
    assert len(fig.data[0].x) == 16  # Shanghai's districts


# ---------------------------------------------------------------- jurisdiction


def test_a_jiading_regulator_sees_no_baoshan_enterprise(dsn: str) -> None:
    report = run_analysis(dsn, JIADING_SCOPE, "310114")
    assert report is not None
    shown = str([table.rows for table in tables(report, "zh")])
    codes = {g.credit_code for g in report.worst} | {
        p.credit_code
        for listing in (report.frequent, report.bad, report.stale)
        for p in listing.rows
    }
    assert report.coverage[-1].enterprises >= len(JIADING)  # the demo's 18 (+ other tests')
    assert codes
    assert all(code.startswith("91310114") for code in codes)
    assert not any(e.record.credit_code in shown for e in BAOSHAN)
    assert not any(name in shown for name in BAOSHAN_ONLY_NAMES)
    assert run_analysis(dsn, JIADING_SCOPE, "310113") is None
    assert run_analysis(dsn, JIADING_SCOPE, "310000") is None
    assert (
        run_analysis(dsn, Scope.enterprise("qiye-310114", JIADING[0].record.credit_code), "310114")
        is None
    )


# ---------------------------------------------------------------- the page and its export


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str) -> dash.Dash:
    """The Dash app on the seeded database."""
    return create_app(override(settings, database_url=dsn))


def page() -> Any:
    """The analysis page module as Dash Pages imported it."""
    found = next(p for p in dash.page_registry.values() if p["path"] == "/analysis")
    return sys.modules[found["module"]]


def headers(settings: Settings, username: str) -> dict[str, str]:
    """A browser's headers carrying ``username``'s login cookie."""
    return {"Cookie": f"{COOKIE}={issue_token(settings.secret_key.get_secret_value(), username)}"}


def browser(app: dash.Dash, settings: Settings, username: str) -> Any:
    """An HTTP client holding ``username``'s login cookie, as a browser would."""
    client = app.server.test_client()
    client.set_cookie(COOKIE, issue_token(settings.secret_key.get_secret_value(), username))
    client.get("/_dash-layout")  # Dash sets up its routes on the first request
    return client


def _ids(component: Any) -> set[str]:
    return {c.id for c in walk(component) if isinstance(getattr(c, "id", None), str)}


def test_the_page_follows_the_login_cookie(app: dash.Dash, settings: Settings) -> None:
    module = page()
    with app.server.test_request_context("/analysis", headers=headers(settings, "jiading")):
        own = module.layout()
        other = module.layout(adcode="310113")
        nonsense = module.layout(adcode="abc")
    with app.server.test_request_context("/analysis", headers=headers(settings, "qiye-310114")):
        enterprise_user = module.layout()
    with app.server.test_request_context("/analysis"):
        anonymous = module.layout(adcode="310114")
    expected = {
        module.ANALYSIS_EXPORT,
        module.ANALYSIS_COVERAGE_CHART,
        module.ANALYSIS_ONLINE_TREND,
        module.ANALYSIS_MISSING_CHART,
        module.ANALYSIS_QUALITY_CHART,
        "analysis-table-coverage",
        "analysis-table-stale",
    }
    links = [c.href for c in walk(anonymous) if isinstance(c, dcc.Link)]  # type: ignore[attr-defined]
    assert expected <= _ids(own)
    assert "嘉定区 · 综合分析" in str(own)
    assert module.ANALYSIS_NOT_FOUND in _ids(other)
    assert not any(name in str(other) for name in BAOSHAN_ONLY_NAMES)
    assert str(other).replace("310113", "X") == str(nonsense).replace("abc", "X")
    assert module.ANALYSIS_NOT_FOUND in _ids(enterprise_user)
    assert links == ["/login?next=/analysis%3Fadcode%3D310114"]


def _sheet_rows(book: Any, title: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in book[title].iter_rows(values_only=True)]


def _cells(table: Table) -> list[tuple[Any, ...]]:
    """The table's rows as the sheet holds them (a link's text, an empty cell for none)."""
    return [tuple(_cell(v) for v in row) for row in table.rows]


def _cell(value: Any) -> Any:
    if isinstance(value, Link):
        return value.text
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time())  # Excel has no date without time
    return value


def test_the_export_of_jiading_holds_exactly_the_rows_shown(app: dash.Dash, dsn: str) -> None:
    module = page()
    with app.server.test_request_context("/analysis"):
        sent, message = module.export_file(JIADING_SCOPE, None, "zh", dsn, NOW)
    report = run_analysis(dsn, JIADING_SCOPE, "310114")
    assert report is not None
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(sent["content"])))
    shown = tables(report, "zh")
    headers_ = _sheet_rows(book, "接入情况")[0]
    assert sent["filename"].startswith("综合分析_310114_")
    assert "已生成" in message
    assert book.sheetnames == [
        "接入情况",
        "在线率趋势",
        "完整性按区域",
        "缺失项统计",
        "基础信息缺失企业",
        "数据质量按区域",
        "频繁报警点位",
        "超量程或故障点位",
        "离线点位",
        "说明",
    ]
    assert headers_[:4] == ("区域", "应接入企业", "其中重点企业", "已接入企业")
    for table, title in zip(shown, book.sheetnames, strict=False):
        assert _sheet_rows(book, title)[1:] == _cells(table), title
    stale = _sheet_rows(book, "离线点位")[1:]
    assert len(stale) == min(MAX_LISTED, report.stale.total)
    assert all(row[1] == "嘉定区" for row in stale)


def test_the_export_speaks_english_and_never_writes_a_formula(app: dash.Dash, dsn: str) -> None:
    module = page()
    with app.server.test_request_context("/analysis"):
        sent, _ = module.export_file(PUDONG_SCOPE, PUDONG, "en", dsn, NOW)
        refused, why = module.export_file(JIADING_SCOPE, PUDONG, "en", dsn, NOW)
        anonymous, login = module.export_file(None, PUDONG, "zh", dsn, NOW)
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(sent["content"])))
    worst = book["Incomplete enterprises"]
    assert worst["A1"].value == "Enterprise"
    assert worst["A2"].value == SPARSE_NAME
    assert worst["A2"].data_type == "s"
    assert book["Connection"]["G3"].value == 0.5  # online rate of the total row
    assert book["Connection"]["G3"].number_format == "0.0%"
    assert refused is None
    assert "outside your jurisdiction" in why
    assert anonymous is None
    assert "请先登录" in login


def test_the_export_callback_over_http_refuses_a_forged_region(
    app: dash.Dash, settings: Settings
) -> None:
    module = page()
    client = browser(app, settings, "jiading")

    def click(adcode: str | None) -> dict[str, Any]:
        body = {
            "output": (
                f"..{module.ANALYSIS_DOWNLOAD}.data...{module.ANALYSIS_EXPORT_MESSAGE}.children.."
            ),
            "outputs": [
                {"id": module.ANALYSIS_DOWNLOAD, "property": "data"},
                {"id": module.ANALYSIS_EXPORT_MESSAGE, "property": "children"},
            ],
            "inputs": [{"id": module.ANALYSIS_EXPORT, "property": "n_clicks", "value": 1}],
            "changedPropIds": [f"{module.ANALYSIS_EXPORT}.n_clicks"],
            "state": [
                {"id": module.ANALYSIS_ADCODE, "property": "data", "value": adcode},
                {"id": "lang-store", "property": "data", "value": "zh"},
            ],
        }
        reply = client.post("/_dash-update-component", json=body)
        assert reply.status_code == 200, reply.get_data(as_text=True)
        response: dict[str, Any] = json.loads(reply.get_data(as_text=True))["response"]
        return response

    own = click(None)
    forged = click("310113")
    book = openpyxl.load_workbook(
        io.BytesIO(base64.b64decode(own[module.ANALYSIS_DOWNLOAD]["data"]["content"]))
    )
    assert len(_sheet_rows(book, "接入情况")) == 1 + 1 + 1  # header, 嘉定区, 合计
    assert module.ANALYSIS_DOWNLOAD not in forged
    assert (
        forged[module.ANALYSIS_EXPORT_MESSAGE]["children"] == "该行政区划不存在或不在您的辖区内。"
    )
