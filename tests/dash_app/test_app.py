"""The Dash app answers in Chinese first, switches to English, and loads nothing from outside."""

from __future__ import annotations

import re
from typing import Any

import dash
import pytest

from dash_app import ids
from dash_app.app import create_app, render_chrome, switch_language
from dash_app.components.status import status_table
from dusttwin.health import Check, HealthReport
from dusttwin.settings import Settings
from tests.helpers import override


@pytest.fixture(scope="module")
def app(settings: Settings, migrated_dsns: dict[str, str]) -> dash.Dash:
    """The app, its database migrated, its Redis unreachable (so one service shows as down)."""
    return create_app(
        override(settings, database_url=migrated_dsns["plain"], redis_url="redis://127.0.0.1:1/0")
    )


def test_index_is_chinese_and_needs_no_outside_host(app: dash.Dash) -> None:
    response = app.server.test_client().get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "粉尘涉爆企业安全生产风险监测预警系统" in html
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', html) == []


def test_language_switch_toggles_between_chinese_and_english() -> None:
    assert switch_language(1, "zh") == "en"
    assert switch_language(2, "en") == "zh"
    assert render_chrome("en") == ("Dust Explosion Risk Monitoring and Early Warning", "中文")
    assert render_chrome("zh")[1] == "English"


def test_status_table_marks_the_failing_service() -> None:
    report = HealthReport(
        [
            Check("database", True, "PostgreSQL 15"),
            Check("redis", False, "cannot reach Redis", fix="run services.sh up"),
        ]
    )
    table = status_table(report, "en")
    rows = {row.id: row.children for row in table.children[1].children}
    assert rows["status-database"][1].children == "OK"
    assert rows["status-redis"][1].children == "Down"
    assert rows["status-redis"][1].className == "down"
    assert rows["status-redis"][3].children == "run services.sh up"


def test_home_page_callback_over_http_reports_each_service(app: dash.Dash) -> None:
    outputs = [
        {"id": ids.HOME_HEADING, "property": "children"},
        {"id": ids.HOME_INTRO, "property": "children"},
        {"id": ids.HOME_STATUS, "property": "children"},
    ]
    body = {
        "output": "..home-heading.children...home-intro.children...home-status.children..",
        "outputs": outputs,
        "inputs": [{"id": ids.LANG_STORE, "property": "data", "value": "zh"}],
        "changedPropIds": [f"{ids.LANG_STORE}.data"],
        "state": [],
    }
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()["response"]
    assert result[ids.HOME_HEADING]["children"] == "平台状态"
    text = str(result[ids.HOME_STATUS]["children"])
    assert "正常" in text
    assert "异常" in text
    assert "cannot reach Redis" in text
