"""A regulator's other pages in a real browser: spot check down to the one-screen view of an
enterprise, supervision of the district's alarms, comprehensive analysis with its Excel export;
and an integrator's gateway diagnostics."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from openpyxl import load_workbook  # type: ignore[import-untyped]
from playwright.sync_api import Page, expect

from tests.api.demo_data import BAOSHAN, OWN

OWN_CODE = OWN.record.credit_code
CREDIT_CODE = re.compile(r"[0-9A-Z]{18}")


def test_a_regulator_finds_an_enterprise_and_sees_it_on_one_screen(
    login: Callable[..., Page], screenshots: Path
) -> None:
    page = login("baoshan", "/spotcheck")
    name = OWN.record.name
    page.fill("#spot-name", name[2:6])  # a part of the name, as a regulator types it
    page.click("#spot-search")
    row = page.locator(f"#spot-row-{OWN_CODE}")
    expect(row).to_be_visible()
    expect(page.locator("#spot-count")).not_to_be_empty()
    page.screenshot(path=screenshots / "spotcheck.png", full_page=True)

    page.click(f"#spot-open-{OWN_CODE}")
    page.wait_for_url(f"**/onescreen/{OWN_CODE}")
    expect(page.locator("#one-name")).to_contain_text(name)
    for section in ("#one-systems", "#one-alarms", "#one-cleaning", "#one-devices", "#one-cameras"):
        expect(page.locator(section)).to_be_visible()
    # the simulator's sensor fault is on this enterprise: its alarm shows with its handling
    expect(page.locator("#one-alarms")).to_contain_text("故障")
    page.screenshot(path=screenshots / "onescreen.png", full_page=True)


def test_the_supervision_page_lists_the_districts_alarms_with_deadlines(
    login: Callable[..., Page], screenshots: Path
) -> None:
    page = login("baoshan", "/supervision")
    page.click("#sup-search")
    first = page.locator("[id^=sup-alarm-]").first
    expect(first).to_be_visible()
    first.locator("button.sup-pick").click()
    expect(page.locator("#sup-detail")).not_to_be_empty()
    page.screenshot(path=screenshots / "supervision.png", full_page=True)


def test_the_analysis_exports_what_it_shows_to_excel(
    login: Callable[..., Page], screenshots: Path, tmp_path: Path
) -> None:
    page = login("baoshan", "/analysis")
    expect(page.locator("#analysis-table-coverage")).to_be_visible()
    page.screenshot(path=screenshots / "analysis.png", full_page=True)
    with page.expect_download() as download:
        page.click("#analysis-export")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("综合分析_310113_")
    workbook = load_workbook(saved, read_only=True)
    codes = {
        str(cell)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if isinstance(cell, str) and CREDIT_CODE.fullmatch(cell)
    }
    baoshan = {e.record.credit_code for e in BAOSHAN}
    assert codes, "the workbook lists no enterprise"
    assert codes <= baoshan, f"enterprises outside Baoshan exported: {codes - baoshan}"


def test_an_integrator_sees_its_gateways_diagnostics(
    login: Callable[..., Page], screenshots: Path
) -> None:
    page = login("integrator", "/integrator")
    page.click("#int-enterprise")
    page.keyboard.type(OWN.record.name[:6])
    page.keyboard.press("Enter")
    gateway = page.locator("#int-gw-GW01")
    expect(gateway).to_be_visible()
    expect(gateway).to_contain_text("在线")
    page.screenshot(path=screenshots / "integrator.png", full_page=True)
