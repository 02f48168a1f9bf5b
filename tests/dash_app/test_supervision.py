"""Supervision: a regulator closes or sends back an enterprise's feedback and clears a warning
through the platform's rules; deadlines and escalations show; feedback photos appear only within
the jurisdiction; a forged id, a wrong role or a wrong state is refused and changes nothing."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dash
import httpx
import psycopg
import pytest
import pytest_asyncio
from PIL import Image

from dash_app.app import create_app
from dash_app.auth import COOKIE
from dash_app.enterprise_queries import run
from dusttwin.settings import Settings
from risk.alarms import Change, Deadlines, Subject, act, apply_changes, get_alarm
from risk.warnings_store import get_warning
from tests.api.demo_data import JIADING_ONE
from tests.helpers import made_up_credit_code, override
from twins.photos import LocalPhotoStore, check_photo, photo_key, record_photo
from twins.scope import Scope
from twins.tokens import issue_token

CC = made_up_credit_code("DBN", 1)  # a Baoshan enterprise of this module's own (blue, offline)
BAOSHAN_REG = Scope.regulator("baoshan", "310113")
JIADING_REG = Scope.regulator("jiading", "310114")
OWNER = Scope.enterprise("qiye-dbn", CC)
serial = iter(range(1, 1000))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the Dash app under test keeps its photos."""
    return tmp_path_factory.mktemp("supervision-data")


@pytest_asyncio.fixture(scope="module")
async def dsn(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> str:
    """The seeded database with this module's enterprise registered (blue, offline)."""
    body = {
        "credit_code": CC,
        "name": "上海督办测试铝业有限公司",
        "adcode": "310113",
        "dust_workers": 40,
        "dust_types": ["aluminium"],
    }
    made = await api.post("/api/v1/enterprises", json=body, headers=tokens["admin"])
    assert made.status_code == 201, made.text
    url = seeded["DUSTTWIN_DATABASE_URL"]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "UPDATE things SET features = jsonb_set(features, '{risk,properties,level}',"
            " '\"blue\"') WHERE kind = 'enterprise' AND credit_code = %s",
            (CC,),
        )
    return url


@pytest.fixture(scope="module")
def app(settings: Settings, dsn: str, data_dir: Path) -> dash.Dash:
    """The Dash app on the seeded database, its photos under ``data_dir``."""
    return create_app(override(settings, database_url=dsn, data_dir=data_dir))


def page() -> Any:
    """The supervision page module as Dash Pages imported it."""
    found = next(p for p in dash.page_registry.values() if p["path"] == "/supervision")
    return sys.modules[found["module"]]


# ---------------------------------------------------------------- alarms, warnings, photos


def an_alarm(
    dsn: str,
    *,
    fed_back: bool = True,
    cleared: bool = True,
    photos: tuple[int, ...] = (),
    raised: datetime | None = None,
) -> int:
    """An HHA alarm of CC of its own, taken as far as asked by the enterprise; its id."""
    now = datetime.now(UTC)
    at = raised or now
    subject = Subject(f"dusttwin:point-{CC}-DC01-T{next(serial)}", CC, "310113", None, "DC01")

    async def make(conn: psycopg.AsyncConnection[Any]) -> int:
        raise_ = Change("raise", "HIGH", "HHA", at, value=96.0, limit=90.0)
        await apply_changes(conn, [(subject, raise_)], at, Deadlines())
        cur = await conn.execute(
            "SELECT id FROM alarms WHERE thing_id = %s AND state <> 'CLOSED'", (subject.thing_id,)
        )
        row = await cur.fetchone()
        assert row is not None
        alarm_id = int(row[0])
        if fed_back:
            await act(conn, OWNER, alarm_id, "acknowledge", now, {"verification": "REAL"})
            feedback = {
                "cause": "灰斗积灰",
                "measures": "停机清灰",
                "photos": [str(p) for p in photos],
            }
            await act(conn, OWNER, alarm_id, "feedback", now, feedback)
        if cleared:
            clear = Change("clear", "HIGH", "HHA", now)
            await apply_changes(conn, [(subject, clear)], now, Deadlines())
        return alarm_id

    return run(dsn, make)


def alarm_now(dsn: str, alarm_id: int) -> dict[str, Any]:
    """The alarm as stored now, with its history."""
    now = datetime.now(UTC)
    found: dict[str, Any] = run(dsn, lambda conn: get_alarm(conn, Scope.admin(), alarm_id, now))
    return found


def a_warning(dsn: str, trigger: str, level: str, *, fed_back: bool) -> int:
    """A warning of CC (raised 3 h ago, escalated to the city an hour ago); its id."""
    now = datetime.now(UTC)

    async def make(conn: psycopg.AsyncConnection[Any]) -> int:
        cur = await conn.execute(
            "INSERT INTO warnings (credit_code, adcode, trigger, level, state, raised_at, tier,"
            " tier_adcode, ack_deadline, feedback_deadline, acknowledged_at, fed_back_at,"
            " feedback, detail) VALUES (%s, '310113', %s, %s, %s, %s, 'city', '310000', %s, %s,"
            " %s, %s, %s, %s) RETURNING id",
            (
                CC,
                trigger,
                level,
                "FED_BACK" if fed_back else "OPEN",
                now - timedelta(hours=3),
                now - timedelta(hours=2),
                now + timedelta(hours=20),
                now - timedelta(minutes=30) if fed_back else None,
                now - timedelta(minutes=20) if fed_back else None,
                json.dumps({"cause": "清灰不及时", "measures": "已清扫"}) if fed_back else None,
                json.dumps({"reason_zh": "风险等级升高", "reason_en": "risk rose"}),
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        step = {"tier": "city", "requested_tier": "city", "regulator_adcode": "310000"}
        await conn.execute(
            "INSERT INTO warning_history (warning_id, at, action, actor, detail)"
            " VALUES (%s, %s, 'escalated', 'system', %s)",
            (row[0], now - timedelta(hours=1), json.dumps({**step, "at": now.isoformat()})),
        )
        return int(row[0])

    return run(dsn, make)


def a_photo(dsn: str, data_dir: Path, credit_code: str, adcode: str) -> int:
    """A PNG stored as the enterprise's upload; its photo id."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "orange").save(out, format="PNG")
    data = out.getvalue()
    now = datetime.now(UTC)
    key = photo_key(credit_code, "image/png", now)
    LocalPhotoStore(data_dir / "photos").put(key, data, "image/png")

    async def record(conn: psycopg.AsyncConnection[Any]) -> int:
        stored = await record_photo(
            conn,
            key,
            check_photo(data, "image/png"),
            credit_code=credit_code,
            adcode=adcode,
            uploaded_by="test",
            uploaded_at=now,
            kind="alarm_feedback",
            ref=None,
        )
        return stored.id

    return run(dsn, record)


# ---------------------------------------------------------------- close and reject


def test_close_changes_the_alarm_and_records_who(app: dash.Dash, dsn: str) -> None:
    alarm_id = an_alarm(dsn)
    sup = page()
    with app.server.test_request_context("/supervision"):
        outcome = sup.take_action(
            BAOSHAN_REG, {"kind": "alarm", "id": alarm_id}, "close", " 同意闭环 ", dsn, "zh"
        )
    after = alarm_now(dsn, alarm_id)
    assert outcome.changed
    assert outcome.message == f"报警 #{alarm_id} 已闭环。"
    assert (after["state"], after["closed_by"]) == ("CLOSED", "baoshan")
    last = after["history"][-1]
    assert (last["action"], last["actor"], last["detail"]) == (
        "closed",
        "baoshan",
        {"remark": "同意闭环"},
    )


def test_reject_needs_a_reason_and_sends_the_feedback_back(app: dash.Dash, dsn: str) -> None:
    alarm_id = an_alarm(dsn)
    selected = {"kind": "alarm", "id": alarm_id}
    sup = page()
    with app.server.test_request_context("/supervision"):
        no_reason = sup.take_action(BAOSHAN_REG, selected, "reject", "   ", dsn, "en")
        unchanged = alarm_now(dsn, alarm_id)
        rejected = sup.take_action(BAOSHAN_REG, selected, "reject", "照片不清楚", dsn, "zh")
    after = alarm_now(dsn, alarm_id)
    assert not no_reason.changed
    assert no_reason.message == "Sending back needs a reason; nothing changed."
    assert unchanged["state"] == "FED_BACK"
    assert rejected.changed
    assert after["state"] == "REJECTED"
    assert after["feedback"]["rejected_reason"] == "照片不清楚"
    assert after["feedback"]["rejected_by"] == "baoshan"


def test_a_forged_id_from_another_jurisdiction_is_refused_and_changes_nothing(
    app: dash.Dash, dsn: str
) -> None:
    alarm_id = an_alarm(dsn)
    before = alarm_now(dsn, alarm_id)
    sup = page()
    with app.server.test_request_context("/supervision"):
        closing = sup.take_action(
            JIADING_REG, {"kind": "alarm", "id": alarm_id}, "close", "", dsn, "zh"
        )
        rejecting = sup.take_action(
            JIADING_REG, {"kind": "alarm", "id": alarm_id}, "reject", "x", dsn, "zh"
        )
        looking = sup.detail(JIADING_REG, {"kind": "alarm", "id": alarm_id}, dsn, "zh")
    after = alarm_now(dsn, alarm_id)
    assert not closing.changed
    assert not rejecting.changed
    assert closing.message.startswith("未找到该记录")
    assert after == before
    assert "sup-not-found" in str(looking.content)
    assert (looking.can_close, looking.can_clear) == (False, False)
    assert "灰斗积灰" not in str(looking.content)


@pytest.mark.parametrize(
    ("scope", "cleared", "says"),
    [
        (BAOSHAN_REG, False, "异常仍在持续"),  # the condition is still present
        (OWNER, True, "当前角色无权执行此操作"),  # an enterprise does not close its own loop
    ],
)
def test_a_close_the_rules_refuse_says_why_and_changes_nothing(
    app: dash.Dash, dsn: str, scope: Scope, cleared: bool, says: str
) -> None:
    alarm_id = an_alarm(dsn, cleared=cleared)
    before = alarm_now(dsn, alarm_id)
    sup = page()
    with app.server.test_request_context("/supervision"):
        outcome = sup.take_action(scope, {"kind": "alarm", "id": alarm_id}, "close", "", dsn, "zh")
    assert not outcome.changed
    assert outcome.message.startswith("操作未执行")
    assert says in outcome.message
    assert alarm_now(dsn, alarm_id) == before


def test_forged_selections_are_refused(app: dash.Dash, dsn: str) -> None:
    sup = page()
    alarm_id = an_alarm(dsn)
    with app.server.test_request_context("/supervision"):
        nonsense = [
            sup.take_action(BAOSHAN_REG, forged, "close", "", dsn, "en")
            for forged in (None, "12", {"kind": "alarm", "id": "1 OR 1=1"}, {"kind": "x", "id": 1})
        ]
        wrong_action = sup.take_action(
            BAOSHAN_REG, {"kind": "alarm", "id": alarm_id}, "clear", "", dsn, "en"
        )
    assert not any(o.changed for o in nonsense)
    assert not wrong_action.changed
    assert alarm_now(dsn, alarm_id)["state"] == "FED_BACK"


# ---------------------------------------------------------------- what the regulator sees


def test_the_list_shows_deadlines_and_marks_the_overdue(app: dash.Dash, dsn: str) -> None:
    late = an_alarm(dsn, fed_back=False, raised=datetime.now(UTC) - timedelta(hours=2))
    on_time = an_alarm(dsn)
    sup = page()
    overdue_only = sup.Query(kind="alarm", flags=["open", "overdue"], enterprise=CC)
    everything_open = sup.Query(kind="alarm", flags=["open"], enterprise=CC.lower())
    with app.server.test_request_context("/supervision"):
        overdue = str(sup.listing(BAOSHAN_REG, overdue_only, 0, dsn, "zh").table)
        open_ = str(sup.listing(BAOSHAN_REG, everything_open, 0, dsn, "zh").table)
        outsider = str(sup.listing(JIADING_REG, everything_open, 0, dsn, "zh").table)
    assert f"sup-alarm-{late}" in overdue
    assert f"sup-alarm-{on_time}" not in overdue
    assert "已超期" in overdue
    assert f"sup-alarm-{late}" in open_
    assert f"sup-alarm-{on_time}" in open_
    assert "sup-alarm-" not in outsider


def test_feedback_photos_show_only_within_the_jurisdiction(
    app: dash.Dash, dsn: str, data_dir: Path
) -> None:
    own = a_photo(dsn, data_dir, CC, "310113")
    foreign = a_photo(dsn, data_dir, JIADING_ONE.record.credit_code, "310114")
    alarm_id = an_alarm(dsn, photos=(own, foreign))
    sup = page()
    with app.server.test_request_context("/supervision"):
        shown = sup.detail(BAOSHAN_REG, {"kind": "alarm", "id": alarm_id}, dsn, "zh")
    text = str(shown.content)
    assert shown.can_close
    assert "灰斗积灰" in text
    assert "停机清灰" in text
    assert f"sup-photo-{own}" in text
    assert "data:image/jpeg;base64," in text
    assert f"sup-photo-{foreign}" not in text
    assert f"#{foreign} 照片无法显示" in text


def test_warnings_show_their_escalations_and_clear_only_where_the_rules_allow(
    app: dash.Dash, dsn: str
) -> None:
    fed_back = a_warning(dsn, "level_rise", "yellow", fed_back=True)
    silent = a_warning(dsn, "red", "red", fed_back=False)
    sup = page()
    warnings = sup.Query(kind="warning", flags=["open"], enterprise=CC)
    with app.server.test_request_context("/supervision"):
        listed = str(sup.listing(BAOSHAN_REG, warnings, 0, dsn, "zh").table)
        opened = sup.detail(BAOSHAN_REG, {"kind": "warning", "id": fed_back}, dsn, "zh")
        refused = sup.take_action(
            BAOSHAN_REG, {"kind": "warning", "id": silent}, "clear", "", dsn, "zh"
        )
        outsider = sup.take_action(
            JIADING_REG, {"kind": "warning", "id": fed_back}, "clear", "", dsn, "zh"
        )
        cleared = sup.take_action(
            BAOSHAN_REG, {"kind": "warning", "id": fed_back}, "clear", "已整改", dsn, "zh"
        )
    now = datetime.now(UTC)
    after = run(dsn, lambda conn: get_warning(conn, Scope.admin(), fed_back, now))
    still = run(dsn, lambda conn: get_warning(conn, Scope.admin(), silent, now))
    assert f"sup-warning-{fed_back}" in listed
    assert "市级 上海市" in listed  # escalated to the municipal bureau
    assert opened.can_clear
    assert "清灰不及时" in str(opened.content)
    assert "督办至" in str(opened.content)
    assert not refused.changed
    assert "企业尚未反馈，不能消警" in refused.message
    assert still["state"] == "OPEN"
    assert not outsider.changed
    assert outsider.message.startswith("未找到该记录")
    assert cleared.changed
    assert (after["state"], after["cleared_by"]) == ("CLEARED", "baoshan")


# ---------------------------------------------------------------- the page and its callbacks


def _callback_body(app: dash.Dash, output_has: str, values: dict[str, Any]) -> dict[str, Any]:
    """The request a browser sends to run the callback whose outputs include ``output_has``."""
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if output_has in d["output"])

    def item(spec: dict[str, Any]) -> dict[str, Any]:
        return {**spec, "value": values.get(f"{spec['id']}.{spec['property']}")}

    outputs = [
        {"id": part.split(".")[0], "property": part.split(".")[1].split("@")[0]}
        for part in dep["output"].strip(".").split("...")
    ]
    return {
        "output": dep["output"],
        "outputs": outputs,
        "inputs": [item(i) for i in dep["inputs"]],
        "state": [item(s) for s in dep["state"]],
        "changedPropIds": [k for k in values if k.endswith(".n_clicks")],
    }


def post_as(app: dash.Dash, settings: Settings, username: str | None, body: dict[str, Any]) -> Any:
    """A callback request of a browser logged in as ``username`` (None: not logged in)."""
    client = app.server.test_client()
    if username is not None:
        client.set_cookie(COOKIE, issue_token(settings.secret_key.get_secret_value(), username))
    return client.post("/_dash-update-component", json=body)


def test_the_close_button_over_http_acts_as_the_cookie_says(
    app: dash.Dash, dsn: str, settings: Settings
) -> None:
    alarm_id = an_alarm(dsn)
    body = _callback_body(
        app,
        "sup-message.className",
        {
            "sup-close.n_clicks": 1,
            "sup-selected.data": {"kind": "alarm", "id": alarm_id},
            "sup-remark.value": "同意",
            "sup-refresh.data": 0,
            "lang-store.data": "zh",
        },
    )
    forged = post_as(app, settings, "jiading", body)
    anonymous = post_as(app, settings, None, body)
    untouched = alarm_now(dsn, alarm_id)["state"]
    closed = post_as(app, settings, "baoshan", body)
    assert forged.status_code == 200
    assert "未找到该记录" in json.dumps(forged.get_json(), ensure_ascii=False)
    assert anonymous.status_code == 204
    assert untouched == "FED_BACK"
    assert closed.status_code == 200, closed.get_data(as_text=True)
    response = closed.get_json()["response"]
    assert response["sup-message"]["children"] == f"报警 #{alarm_id} 已闭环。"
    assert response["sup-refresh"]["data"] == 1
    assert alarm_now(dsn, alarm_id)["state"] == "CLOSED"


def test_the_layout_opens_an_item_from_its_url_within_the_jurisdiction(
    app: dash.Dash, dsn: str, settings: Settings
) -> None:
    alarm_id = an_alarm(dsn)
    sup = page()

    def as_user(username: str | None) -> Any:
        token = (
            ""
            if username is None
            else issue_token(settings.secret_key.get_secret_value(), username)
        )
        headers = {"Cookie": f"{COOKIE}={token}"} if token else {}
        with app.server.test_request_context("/supervision", headers=headers):
            return sup.layout(alarm=str(alarm_id))

    def close_button(layout: Any) -> Any:
        stack = [layout]
        while stack:
            node = stack.pop()
            if getattr(node, "id", None) == sup.SUP_CLOSE:
                return node
            children = getattr(node, "children", None)
            if isinstance(children, list):
                stack += children
            elif children is not None:
                stack.append(children)
        return None

    baoshan, jiading = as_user("baoshan"), as_user("jiading")
    enterprise, anonymous = as_user("qiye-310113"), as_user(None)
    assert "灰斗积灰" in str(baoshan)
    assert close_button(baoshan).style == {}  # shown: the alarm is fed back
    assert "sup-not-found" in str(jiading)
    assert "灰斗积灰" not in str(jiading)
    assert close_button(jiading).style == {"display": "none"}
    assert sup.SUP_DENIED in str(enterprise)
    assert close_button(enterprise) is None
    assert "请先登录后查看" in str(anonymous)
