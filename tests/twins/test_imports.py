"""Bulk import: reading spreadsheets as officials save them, checking every row, all or nothing.

The pure part (files, columns, rows, templates) runs without services; ``apply_import`` and the
``dusttwin import`` command run against the seeded database.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import psycopg
import pytest
import pytest_asyncio
from psycopg_pool import AsyncConnectionPool

from device_catalog import load_catalog
from tests.helpers import made_up_credit_code, spreadsheet
from twins.imports import (
    SPECS,
    ImportFileError,
    ImportKind,
    ImportProblem,
    TemplateFormat,
    apply_import,
    check_sheet,
    read_sheet,
    template,
)
from twins.registry import RegistryValidator
from twins.schemas import EnterpriseCreate, PointCreate
from twins.scope import Scope
from twins.store import NotAllowedError, PostgresTwinStore

_serial = itertools.count(1)
BAOSHAN = Scope.regulator("baoshan", "310113")


def new_credit_code(adcode: str = "310113") -> str:
    """A made-up valid credit code (…DTB…) that neither the demo nor other tests use."""
    return made_up_credit_code("DTB", next(_serial), adcode)


xlsx = spreadsheet


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "".join(",".join(row) + "\r\n" for row in rows).encode(encoding)


# ---------------------------------------------------------------- reading and checking (pure)


def test_codes_typed_as_numbers_in_excel_are_read_as_text() -> None:
    code = new_credit_code()
    data = xlsx(
        [
            ["粉尘涉爆企业基础情况表（2026年）"],  # a title row above the header
            [
                " 企业名称 ",
                "credit_code",
                "行政区划代码",
                "涉粉作业人数",
                "主要负责人电话",
                "主要负责人",
            ],
            [],
            ["上海数字木业有限公司", code, 310113.0, 35.0, 13800001234, "周四"],
        ]
    )
    checked = check_sheet("enterprises", read_sheet(data, "sheet.xlsx"))
    record = checked.rows[0].record
    assert checked.problems == ()
    assert checked.rows[0].number == 4  # the sheet's own row number, header row counted
    assert isinstance(record, EnterpriseCreate)
    assert record.adcode == "310113"
    assert record.dust_workers == 35
    assert record.principal is not None
    assert record.principal.phone == "13800001234"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_reads_alike_in_every_encoding_chinese_excel_writes(encoding: str) -> None:
    rows = [
        ["企业名称", "统一社会信用代码", "行政区划代码", "粉尘种类"],
        ["上海镁铝合金有限公司", "91310113MA1GL8QH2X", "310113", "铝、镁"],
    ]
    sheet = read_sheet(csv_bytes(rows, encoding), "企业.csv")
    assert [list(r.cells) for r in sheet.rows] == rows


def test_dust_types_are_read_in_chinese_or_as_codes_with_any_separator() -> None:
    code = new_credit_code()
    rows = [
        ["企业名称", "统一社会信用代码", "行政区划代码", "粉尘种类"],
        ["上海多粉尘有限公司", code, "310113", '"铝粉、镁;wood/面粉，zinc"'],
    ]
    checked = check_sheet("enterprises", read_sheet(csv_bytes(rows), "x.csv"))
    record = checked.rows[0].record
    assert isinstance(record, EnterpriseCreate)
    assert record.dust_types == ["aluminium", "magnesium", "wood", "flour", "zinc"]


def test_unknown_and_missing_columns_are_named_and_no_row_is_checked() -> None:
    rows = [["企业名称", "统一社会信用代码", "备注", "经度"], ["x", "y", "z", "w"]]
    checked = check_sheet("enterprises", read_sheet(csv_bytes(rows), "x.csv"))
    assert [(p.row, p.column, p.reason.split(" / ")[0]) for p in checked.problems] == [
        (1, "备注", "unknown column (see the template)"),
        (1, "行政区划代码", "required column is missing"),
        (1, "经度", "needs the column 纬度 too"),
    ]
    assert checked.rows == ()


def test_every_problem_of_every_row_is_reported_with_its_column() -> None:
    code = new_credit_code()
    rows = [
        [
            "企业名称",
            "统一社会信用代码",
            "行政区划代码",
            "涉粉作业人数",
            "企业规模",
            "主要负责人电话",
            "主要负责人",
        ],
        ["上海甲有限公司", code, "310113", "12", "小型", "", ""],
        ["乙", "91310113MA1GL8QH2Y", "310113", "3.5", "巨型", "12", "吴五"],
        ["上海丙有限公司", code.lower(), "310113", "", "", "13800000000", ""],
        ["上海丁有限公司", "", "", "", "", "", ""],
    ]
    checked = check_sheet("enterprises", read_sheet(csv_bytes(rows), "x.csv"))
    assert [(p.row, p.column, p.value) for p in checked.problems] == [
        (3, "企业名称", "乙"),
        (3, "统一社会信用代码", "91310113MA1GL8QH2Y"),
        (3, "涉粉作业人数", "3.5"),
        (3, "企业规模", "巨型"),
        (3, "主要负责人电话", "12"),
        (4, "主要负责人", ""),  # a phone without its person
        (4, "统一社会信用代码", code.lower()),  # the enterprise of row 2 again
        (5, "统一社会信用代码", ""),
        (5, "行政区划代码", ""),
    ]
    assert checked.problems[-1].reason == "required / 必填"
    assert "与第 2 行重复" in checked.problems[6].reason
    assert len(checked.rows) == 1


def test_a_point_row_is_checked_against_the_device_catalog() -> None:
    code = new_credit_code()
    rows = [
        [
            "统一社会信用代码",
            "除尘系统编码",
            "点位编码",
            "监测指标",
            "单位",
            "量程下限",
            "量程上限",
            "上上限",
        ],
        [code, "DC01", "P1", "灰斗温度", "℃", "0", "150", "关闭"],
        [code, "DC01", "P2", "HOPPER_TEMP", "Pa", "", "", ""],
        [code, "DC01", "P3", "NO_SUCH", "°C", "10", "5", ""],
    ]
    checked = check_sheet("points", read_sheet(csv_bytes(rows), "points.csv"))
    record = checked.rows[0].record
    assert isinstance(record, PointCreate)
    assert (record.indicator, record.limits) == ("HOPPER_TEMP", {"hha": None})
    assert [(p.row, p.column, p.value) for p in checked.problems] == [
        (3, "单位", "Pa"),
        (4, "监测指标", "NO_SUCH"),
    ]
    assert "measured in '°C'" in checked.problems[0].reason


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (b"%PDF-1.7 ...", "scan.pdf", "not a spreadsheet"),
        (bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 32, "old.xls", "old Excel .xls"),
        (b"PK\x03\x04" + b"\x00" * 40, "broken.xlsx", "not a valid .xlsx workbook"),
        (b"just text", "renamed.xlsx", "not a valid .xlsx workbook"),
        (b"\xff\xfe\x00a\x00b", "utf16.csv", "not a text (CSV) file"),
        (b"\x81\x30\xff\xfe", "garbled.csv", "neither UTF-8 nor GBK"),
        (b"\r\n , ,\r\n", "blank.csv", "holds no data"),
    ],
)
def test_files_that_cannot_be_read_say_why(data: bytes, name: str, says: str) -> None:
    with pytest.raises(ImportFileError, match=re.escape(says)):
        read_sheet(data, name)


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [("enterprises", "xlsx"), ("enterprises", "csv"), ("points", "xlsx"), ("points", "csv")],
)
def test_a_template_as_downloaded_stops_at_its_sample_row(
    kind: ImportKind, fmt: TemplateFormat
) -> None:
    sheet = read_sheet(template(kind, fmt), f"template.{fmt}")
    checked = check_sheet(kind, sheet)
    assert list(sheet.rows[0].cells) == [c.header_zh for c in SPECS[kind].columns]
    assert [(p.row, p.column) for p in checked.problems] == [(2, "")]
    assert "sample row" in checked.problems[0].reason


def test_the_xlsx_template_explains_every_column_and_lists_the_indicators() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(template("points", "xlsx")))
    explained = {row[0] for row in workbook["说明"].iter_rows(values_only=True)}
    indicators = {row[0] for row in workbook["监测指标"].iter_rows(min_row=2, values_only=True)}
    assert workbook.sheetnames == ["监测点位表", "说明", "监测指标"]
    assert {c.header_zh for c in SPECS["points"].columns} <= explained
    assert indicators == set(load_catalog().indicators)


def test_a_filled_in_points_template_passes_the_checks() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(template("points", "xlsx")))
    sheet = workbook.worksheets[0]
    sheet["A2"] = new_credit_code()
    out = io.BytesIO()
    workbook.save(out)
    checked = check_sheet("points", read_sheet(out.getvalue(), "points.xlsx"))
    assert checked.problems == ()
    assert len(checked.rows) == 1


# ---------------------------------------------------------------- writing, against the database


@pytest_asyncio.fixture(scope="module")
async def store_pool(
    seeded: dict[str, str],
) -> AsyncIterator[tuple[PostgresTwinStore, AsyncConnectionPool]]:
    """The twin store with the registry's rules over the seeded database."""
    pool = AsyncConnectionPool(seeded["DUSTTWIN_DATABASE_URL"], min_size=1, max_size=2, open=False)
    await pool.open()
    yield PostgresTwinStore(pool, RegistryValidator(load_catalog())), pool
    await pool.close()


@pytest.fixture
def remove_afterwards(seeded: dict[str, str]) -> Iterator[list[str]]:
    """Credit codes of enterprises a test created, removed for good once it is over (the demo
    region stays exactly as seeded for the tests that count what it holds)."""
    created: list[str] = []
    yield created
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        conn.execute(
            "DELETE FROM things WHERE kind = 'enterprise' AND credit_code = ANY(%s)", (created,)
        )


def _registered(seeded: dict[str, str], codes: list[str]) -> list[str]:
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT credit_code FROM things WHERE kind = 'enterprise' AND credit_code = ANY(%s)"
            " AND deleted_at IS NULL ORDER BY credit_code",
            (codes,),
        ).fetchall()
    return [str(r[0]) for r in rows]


async def test_one_refused_row_rolls_back_the_rows_before_it_and_progress_counts_all(
    store_pool: tuple[PostgresTwinStore, AsyncConnectionPool],
    seeded: dict[str, str],
    remove_afterwards: list[str],
) -> None:
    store, pool = store_pool
    codes = [new_credit_code(), new_credit_code(), new_credit_code("310114")]
    remove_afterwards += codes
    sheet = read_sheet(
        csv_bytes(
            [
                ["企业名称", "统一社会信用代码", "行政区划代码"],
                ["上海回滚一有限公司", codes[0], "310113"],
                ["上海回滚二有限公司", codes[1], "310113"],
                ["上海嘉定越界有限公司", codes[2], "310114"],  # Jiading: outside Baoshan
            ]
        ),
        "x.csv",
    )
    seen: list[tuple[int, int]] = []
    async with pool.connection() as conn:
        result = await apply_import(
            store, conn, BAOSHAN, "enterprises", sheet, lambda d, t: seen.append((d, t))
        )
    assert result.problems == (
        ImportProblem(
            4,
            "行政区划代码",
            "310114",
            f"not allowed to create dusttwin:enterprise-{codes[2]} outside your jurisdiction"
            " / 不在您的辖区内，无权操作",
        ),
    )
    assert (result.created, result.updated) == (0, 0)
    assert seen[-1] == (3, 3)
    assert _registered(seeded, codes) == []


async def test_a_role_that_may_not_register_enterprises_cannot_import_them(
    store_pool: tuple[PostgresTwinStore, AsyncConnectionPool],
) -> None:
    store, pool = store_pool
    sheet = read_sheet(
        csv_bytes(
            [
                ["企业名称", "统一社会信用代码", "行政区划代码"],
                ["上海某有限公司", new_credit_code(), "310113"],
            ]
        ),
        "x.csv",
    )
    async with pool.connection() as conn:
        with pytest.raises(NotAllowedError):
            await apply_import(
                store, conn, Scope.integrator("integrator", frozenset()), "enterprises", sheet
            )


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dusttwin.cli", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_import_command_imports_a_good_file_and_lists_the_problems_of_a_bad_one(
    seeded: dict[str, str], tmp_path: Path, remove_afterwards: list[str]
) -> None:
    codes = [new_credit_code(), new_credit_code()]
    remove_afterwards += codes
    good = tmp_path / "宝山区企业.xlsx"
    good.write_bytes(
        xlsx(
            [
                ["企业名称", "统一社会信用代码", "行政区划代码", "粉尘种类"],
                ["上海命令行铝业有限公司", codes[0], 310113, "铝"],
            ]
        )
    )
    bad = tmp_path / "宝山区企业-有误.xlsx"
    bad.write_bytes(
        xlsx(
            [
                ["企业名称", "统一社会信用代码", "行政区划代码", "粉尘种类"],
                ["上海命令行木业有限公司", codes[1], 310113, "木"],
                ["上海命令行钢业有限公司", codes[1], 310113, "钢"],
            ]
        )
    )
    imported = _cli(seeded, "import", str(good), "--kind", "enterprises", "--as", "baoshan")
    refused = _cli(seeded, "import", str(bad), "--kind", "enterprises", "--as", "baoshan")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "created 1, updated 0, unchanged 0" in imported.stdout
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "unknown dust type '钢'" in refused.stdout
    assert "与第 2 行重复" in refused.stdout
    assert "nothing was imported" in refused.stderr
    assert _registered(seeded, codes) == [codes[0]]
