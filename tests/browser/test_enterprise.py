"""An enterprise safety officer in a real browser: checks in the dust cleaning from a phone, handles
the alarm the simulator raised, and cannot open another enterprise's pages."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import FilePayload, Page, expect

from tests.api.demo_data import JIADING_ONE, OWN

OWN_CODE = OWN.record.credit_code
OTHER_CODE = JIADING_ONE.record.credit_code
ALARM_WAIT_MS = 60_000  # the simulator reports every 2 s; a fault is raised at once


def a_photo(colour: str) -> bytes:
    """A small JPEG as a phone camera would hand it over."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def test_an_enterprise_user_plans_and_checks_in_cleaning_from_a_phone(
    login: Callable[..., Page], screenshots: Path
) -> None:
    page = login("qiye-310113", f"/config/{OWN_CODE}", phone=True)
    area = "1#打磨车间 梁架（浏览器测试）"
    page.fill("#cfg-area", area)
    page.click("#cfg-zone label:has-text('21 区')")
    page.click("#cfg-frequency label:has-text('每班')")  # every shift: a task is always open
    page.fill("#cfg-responsible", "张工")
    page.click("#cfg-plan-save")
    expect(page.locator("#cfg-plan-message .cln-ok")).to_be_visible()
    expect(page.locator("#cfg-plans")).to_contain_text(area)
    page.screenshot(path=screenshots / "config-phone.png", full_page=True)

    page.goto(page.url.replace(f"/config/{OWN_CODE}", f"/cleaning/{OWN_CODE}"))
    page.wait_for_selector("#cln-form")
    page.click(f"#cln-task label:has-text('{area}')")
    for side, colour in (("before", "gray"), ("after", "white")):
        upload: FilePayload = {
            "name": f"{side}.jpg",
            "mimeType": "image/jpeg",
            "buffer": a_photo(colour),
        }
        page.set_input_files(f"#cln-{side} input[type=file]", files=[upload])
        expect(page.locator(f"#cln-{side}-names")).to_contain_text(f"{side}.jpg")
    page.fill("#cln-operator", "李师傅")
    page.fill("#cln-remarks", "梁架积尘已用防爆吸尘器清理")
    page.click("#cln-submit")
    expect(page.locator("#cln-message .cln-ok")).to_be_visible()
    expect(page.locator("#cln-today .cln-done").filter(has_text=area)).to_have_count(1)
    # nothing on the phone's page is wider than its screen
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the cleaning page is {overflow} px wider than a phone"
    page.screenshot(path=screenshots / "cleaning-phone.png", full_page=True)


def test_an_enterprise_user_acknowledges_the_simulators_alarm_and_feeds_back(
    login: Callable[..., Page], screenshots: Path, tmp_path: Path
) -> None:
    """The simulator's sensor fault on the first Baoshan enterprise raised a FAULT alarm; its
    safety officer acknowledges it as a device fault and feeds back with a photo."""
    page = login("qiye-310113", f"/alarms/{OWN_CODE}")
    card = page.locator("[id^=alm-alarm-]").filter(has_text="设备故障").first
    expect(card).to_be_visible(timeout=ALARM_WAIT_MS)
    page.screenshot(path=screenshots / "alarms.png", full_page=True)
    alarm_id = (card.get_attribute("id") or "").removeprefix("alm-alarm-")
    page.click(f"#alm-alarm-{alarm_id} button.alm-pick")
    expect(page.locator("#alm-form-title")).to_contain_text(f"#{alarm_id}")
    page.click("#alm-verification input[value=DEVICE_FAULT]")
    page.click("#alm-ack")
    expect(page.locator("#alm-message.alm-ok")).to_be_visible()
    expect(page.locator("#alm-feedback")).to_be_enabled()

    photo = tmp_path / "sensor.jpg"
    photo.write_bytes(a_photo("gray"))
    page.fill("#alm-cause", "粉尘浓度传感器探头积灰，信号中断")
    page.fill("#alm-measures", "已清理探头并重新标定，恢复正常")
    page.set_input_files("#alm-upload input[type=file]", str(photo))
    expect(page.locator("#alm-photo-list li")).to_have_count(1)
    page.click("#alm-feedback")
    expect(page.locator("#alm-message")).to_contain_text("反馈已提交")
    page.screenshot(path=screenshots / "alarms-fed-back.png", full_page=True)


@pytest.mark.parametrize("path", ["enterprise", "alarms", "cleaning", "config"])
def test_another_enterprises_pages_are_not_found(login: Callable[..., Page], path: str) -> None:
    page = login("qiye-310113", f"/{path}/{OWN_CODE}")
    page.goto(re.sub(rf"/{path}/{OWN_CODE}$", f"/{path}/{OTHER_CODE}", page.url))
    expect(page.locator("#_pages_content")).to_contain_text("未找到该企业")
    expect(page.locator("#_pages_content")).not_to_contain_text(JIADING_ONE.record.name)


def test_the_live_twin_fits_a_phone_and_logging_out_closes_it(
    login: Callable[..., Page], screenshots: Path
) -> None:
    page = login("qiye-310113", f"/enterprise/{OWN_CODE}", phone=True)
    expect(page.locator("#ent-plant table").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the live twin is {overflow} px wider than a phone"
    page.screenshot(path=screenshots / "enterprise-phone.png", full_page=True)
    page.click("a.logout")
    page.wait_for_url("**/login")
    page.goto(page.url.replace("/login", f"/enterprise/{OWN_CODE}"))
    expect(page.locator(".login-required")).to_be_visible()
    expect(page.locator("#ent-plant")).to_have_count(0)
