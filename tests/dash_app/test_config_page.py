"""The configuration page (配置): cleaning plans are created, edited and withdrawn through the
domain, compressed-air blowing is refused with the rule's message, filings are filed and
withdrawn (the withdrawal over HTTP, as the browser sends it), refusals change nothing, and
another enterprise's page is "not found"."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import dash
import psycopg
import pytest

from dash_app.app import create_app
from dash_app.auth import COOKIE
from dusttwin.settings import Settings
from risk.statistics import CHINA
from tests.api.demo_data import JIADING_ONE, OWN
from tests.helpers import override
from twins.tokens import issue_token

OWN_CODE = OWN.record.credit_code
UNKNOWN_CODE = "91310113MA1GXXXXX0"


@pytest.fixture(scope="module")
def dsn(seeded: dict[str, str]) -> str:
    """The seeded demo database."""
    return seeded["DUSTTWIN_DATABASE_URL"]


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str) -> dash.Dash:
    """The Dash app on the seeded database."""
    return create_app(override(settings, database_url=dsn))


@pytest.fixture(scope="module")
def page(app: dash.Dash) -> Any:
    """The page module as Dash Pages imported it."""
    found = next(
        p for p in dash.page_registry.values() if p["path_template"] == "/config/<credit_code>"
    )
    return sys.modules[found["module"]]


@pytest.fixture
def as_user(app: dash.Dash, settings_secret: str) -> Iterator[Any]:
    """``as_user(name)``: run what follows in a request of that logged-in user."""
    contexts: list[Any] = []

    def enter(username: str) -> None:
        token = issue_token(settings_secret, username)
        ctx = app.server.test_request_context(
            f"/config/{OWN_CODE}", headers={"Cookie": f"{COOKIE}={token}"}
        )
        ctx.push()
        contexts.append(ctx)

    yield enter
    for ctx in reversed(contexts):
        ctx.pop()


def plan_values(page: Any, **changes: Any) -> tuple[Any, ...]:
    """The plan form's control values (a daily plan for the hopper, zone 21, unless changed)."""
    base = page.PlanValues(
        area="1#除尘器灰斗",
        area_kind="collector",
        zone=21,
        frequency="daily",
        window_start="09:00",
        window_minutes=120,
        method="wet",
        responsible="王班长",
        phone="13800000000",
    )
    return tuple(base._replace(**changes).controls())


def save(page: Any, values: tuple[Any, ...], plan_id: int | None = None) -> tuple[Any, ...]:
    """Press "save plan" with these form values."""
    return tuple(page.submit_plan(1, OWN_CODE, plan_id, *values, "zh", 0, 0))


def plans_named(dsn: str, area: str) -> list[tuple[Any, ...]]:
    """The stored plans of the own enterprise for this area: (id, zone, method, active, window)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT id, zone, method, active, window_minutes FROM cleaning_plans"
            " WHERE credit_code = %s AND area = %s ORDER BY id",
            (OWN_CODE, area),
        ).fetchall()


# ---------------------------------------------------------------- cleaning plans


def test_compressed_air_blowing_is_refused_with_the_rules_message(
    page: Any, as_user: Any, dsn: str
) -> None:
    as_user("qiye-310113")
    area = "抛光工位 地面（压缩空气）"
    shown, version, reset = save(page, plan_values(page, area=area, method="compressed_air"))
    assert shown.className == "cln-refused"
    assert "compressed-air blowing is forbidden" in shown.children
    assert "严禁使用压缩空气吹扫" in shown.children
    assert (version, reset) == (dash.no_update, dash.no_update)
    assert plans_named(dsn, area) == []


def test_a_plan_is_created_edited_and_withdrawn(page: Any, as_user: Any, dsn: str) -> None:
    as_user("qiye-310113")
    area = "2#打磨车间 梁架"
    shown, version, reset = save(page, plan_values(page, area=area))
    assert shown.className == "cln-ok"
    assert "已新建清扫计划" in shown.children
    assert (version, reset) == (1, 1)  # the lists are read again, the form empties
    [(plan_id, zone, method, active, minutes)] = plans_named(dsn, area)
    assert (zone, method, active, minutes) == (21, "wet", True, 120)

    rendered = page.render("zh", 1, OWN_CODE, None)
    assert f"cfg-plan-{plan_id}" in str(rendered[1])

    edited, *_ = save(page, plan_values(page, area=area, zone=20, window_minutes=60), plan_id)
    assert edited.className == "cln-ok"
    assert plans_named(dsn, area) == [(plan_id, 20, "wet", True, 60)]

    ok, text = page.stop_plan_for(page.request_scope(), dsn, OWN_CODE, plan_id, "zh")
    assert ok
    assert "已停用" in text
    assert plans_named(dsn, area) == [(plan_id, 20, "wet", False, 60)]
    assert f"cfg-plan-{plan_id}" not in str(page.render("zh", 2, OWN_CODE, None)[1])


def test_a_per_shift_plan_ignores_the_window_fields_left_in_the_form(
    page: Any, as_user: Any, dsn: str
) -> None:
    as_user("qiye-310113")
    area = "3#筛分工位"
    shown, *_ = save(page, plan_values(page, area=area, frequency="per_shift"))
    assert shown.className == "cln-ok"
    assert [row[4] for row in plans_named(dsn, area)] == [None]


def test_a_plan_without_a_zone_or_with_a_bad_time_is_refused_with_a_message(
    page: Any, as_user: Any, dsn: str
) -> None:
    as_user("qiye-310113")
    area = "4#输送管道"
    no_zone, *_ = save(page, plan_values(page, area=area, zone=None))
    assert "请选择粉尘爆炸危险区域" in no_zone.children
    bad_time, *_ = save(page, plan_values(page, area=area, window_start="8点"))
    assert "格式不对" in bad_time.children
    assert plans_named(dsn, area) == []


def test_a_regulator_reads_the_plans_but_its_writes_are_refused(
    page: Any, as_user: Any, dsn: str
) -> None:
    as_user("baoshan")
    shown = page.layout(credit_code=OWN_CODE)
    assert "cln-hidden" in _find(shown, page.CFG_PLAN_FORM).className
    assert "cln-hidden" not in _find(shown, page.CFG_READONLY).className
    area = "5#监管代填"
    refused, *_ = save(page, plan_values(page, area=area))
    assert refused.className == "cln-refused"
    assert "only enterprise" in refused.children
    assert plans_named(dsn, area) == []


def _find(component: Any, element_id: str) -> Any:
    if getattr(component, "id", None) == element_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, element_id)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------- filings


def _at(delta: timedelta) -> str:
    return (datetime.now(CHINA) + delta).strftime("%Y-%m-%d %H:%M")


def file_window(page: Any, starts: str, ends: str, reason: str, system: str = "") -> Any:
    """Press "file" with this window."""
    return page.submit_filing(1, OWN_CODE, system, "maintenance", starts, ends, reason, "zh", 0)


def filing_named(dsn: str, reason: str) -> list[tuple[Any, ...]]:
    """The own enterprise's filings with this reason: (id, state, system)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT id, state, system_code FROM maintenance_filings"
            " WHERE credit_code = %s AND reason = %s ORDER BY id",
            (OWN_CODE, reason),
        ).fetchall()


def callback_body(app: dash.Dash, first_input: str, inputs: list[Any], state: list[Any]) -> Any:
    """The request the browser sends for the callback whose first input has this id."""
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    [dep] = [d for d in deps if d["inputs"] and d["inputs"][0]["id"] == first_input]
    outputs = []
    for part in dep["output"].strip(".").split("..."):
        element, _, prop = part.rpartition(".")
        outputs.append({"id": element, "property": prop})
    changed = inputs[0][0] if isinstance(inputs[0], list) else inputs[0]
    changed_id = json.dumps(changed["id"], separators=(",", ":"), sort_keys=True)
    return {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": inputs,
        "changedPropIds": [f"{changed_id}.{changed['property']}"],
        "state": state,
    }


def withdraw_over_http(app: dash.Dash, settings_secret: str, username: str, filing_id: int) -> Any:
    """Confirm "withdraw" on a filing's card, as the browser posts it."""
    pattern = json.dumps({"filing": ["ALL"], "type": "cfg-filing-withdraw"}, separators=(",", ":"))
    clicked = {
        "id": {"filing": filing_id, "type": "cfg-filing-withdraw"},
        "property": "submit_n_clicks",
        "value": 1,
    }
    state = [
        {"id": "lang-store", "property": "data", "value": "zh"},
        {"id": "cfg-version", "property": "data", "value": 0},
    ]
    body = callback_body(app, pattern, [[clicked]], state)
    client = app.server.test_client()
    client.set_cookie(COOKIE, issue_token(settings_secret, username))
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"]


def test_a_filing_is_filed_and_withdrawn(
    page: Any, app: dash.Dash, settings_secret: str, dsn: str
) -> None:
    reason = "更换 DC01 滤袋（页面测试）"
    token = issue_token(settings_secret, "qiye-310113")
    # a request context of its own: the HTTP requests below must not share its flask.g
    with app.server.test_request_context("/", headers={"Cookie": f"{COOKIE}={token}"}):
        shown, version, cleared = file_window(
            page, _at(timedelta(hours=30)), _at(timedelta(hours=34)), reason
        )
        [(filing_id, state, system)] = filing_named(dsn, reason)
        listed = str(page.render("zh", 1, OWN_CODE, None)[2])
    assert shown.className == "cln-ok"
    assert (version, cleared) == (1, "")
    assert (state, system) == ("APPROVED", None)
    assert f"cfg-filing-{filing_id}" in listed

    # another enterprise forging the withdrawal of this filing is refused; nothing changes
    foreign = withdraw_over_http(app, settings_secret, "qiye-310114", filing_id)
    assert "报备不存在" in str(foreign["cfg-filing-message"])
    assert filing_named(dsn, reason) == [(filing_id, "APPROVED", None)]

    own = withdraw_over_http(app, settings_secret, "qiye-310113", filing_id)
    assert "报备已撤回" in str(own["cfg-filing-message"])
    assert filing_named(dsn, reason) == [(filing_id, "WITHDRAWN", None)]


def test_a_filing_in_the_past_or_without_a_reason_is_refused_and_nothing_is_filed(
    page: Any, as_user: Any, dsn: str
) -> None:
    as_user("qiye-310113")
    reason = "补报昨日检修（页面测试）"
    past, *_ = file_window(page, _at(timedelta(days=-1)), _at(timedelta(hours=-20)), reason)
    assert past.className == "cln-refused"
    assert "报备不能追溯" in past.children
    no_reason, *_ = file_window(page, _at(timedelta(hours=40)), _at(timedelta(hours=41)), " ")
    assert "请填写事由" in no_reason.children
    bad_time, *_ = file_window(page, "明天上午", _at(timedelta(hours=41)), reason)
    assert "格式不对" in bad_time.children
    assert filing_named(dsn, reason) == []


def test_a_regulator_cannot_file_for_the_enterprise(page: Any, as_user: Any, dsn: str) -> None:
    as_user("baoshan")
    reason = "监管代报（页面测试）"
    shown, *_ = file_window(page, _at(timedelta(hours=50)), _at(timedelta(hours=51)), reason)
    assert shown.className == "cln-refused"
    assert "检修报备由企业填报" in shown.children
    assert filing_named(dsn, reason) == []


# ---------------------------------------------------------------- who sees the page


def test_another_enterprise_or_an_unknown_code_is_not_found(
    page: Any, app: dash.Dash, settings_secret: str
) -> None:
    token = issue_token(settings_secret, "qiye-310114")
    with app.server.test_request_context(
        f"/config/{OWN_CODE}", headers={"Cookie": f"{COOKIE}={token}"}
    ):
        other = str(page.layout(credit_code=OWN_CODE))
        unknown = str(page.layout(credit_code=UNKNOWN_CODE))
        own_of_other = str(page.layout(credit_code=JIADING_ONE.record.credit_code))
    assert "未找到该企业" in other
    assert OWN.record.name not in other
    assert other == unknown
    assert JIADING_ONE.record.name in own_of_other
    with app.server.test_request_context(f"/config/{OWN_CODE}"):
        nobody = str(page.layout(credit_code=OWN_CODE))
    assert "请先登录后查看" in nobody
