"""``/api/v1/import``: regulators import their enterprise sheet, integrators their point lists.

All or nothing: a file with one bad row imports nothing and lists every problem. The rows are
written with the caller's scope, so a regulator cannot import outside its jurisdiction.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator, Sequence
from urllib.parse import quote

import httpx
import openpyxl  # type: ignore[import-untyped]
import psycopg
import pytest

from api.routes import imports
from dusttwin.demo import demo_plant
from tests.helpers import made_up_credit_code, spreadsheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = [
    "企业名称",
    "统一社会信用代码",
    "行政区划代码",
    "经度",
    "纬度",
    "粉尘种类",
    "涉粉作业人数",
]
POINT_HEADERS = ["统一社会信用代码", "除尘系统编码", "点位编码", "监测指标", "单位", "点位名称"]
# A Baoshan enterprise the demo integrator was engaged by (the demo grants it the first ten).
GRANTED = next(e for e in demo_plant() if e.record.adcode == "310113").record.credit_code
_serial = itertools.count(1)


def new_credit_code(adcode: str = "310113") -> str:
    """A made-up valid credit code (…DTA…) that neither the demo nor other tests use."""
    return made_up_credit_code("DTA", next(_serial), adcode)


xlsx = spreadsheet


def csv_text(rows: Sequence[Sequence[object]]) -> str:
    return "".join(",".join(str(c) for c in row) + "\r\n" for row in rows)


def upload(name: str, data: bytes, media: str = XLSX) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, data, media)}


def problems(response: httpx.Response) -> list[tuple[int, str, str]]:
    return [(p["row"], p["column"], p["value"]) for p in response.json()["problems"]]


@pytest.fixture
def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API over the seeded database (the import router is mounted with the others)."""
    return api


@pytest.fixture
def remove_afterwards(seeded: dict[str, str]) -> Iterator[list[str]]:
    """Credit codes and point thingIds a test created, removed for good once it is over.

    The demo region stays exactly as seeded for the tests that count what it holds.
    """
    created: list[str] = []
    yield created
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"]) as conn:
        conn.execute(
            "DELETE FROM things WHERE (kind = 'enterprise' AND credit_code = ANY(%s))"
            " OR thing_id = ANY(%s)",
            (created, created),
        )


async def _enterprise_total(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.get("/api/v1/enterprises", params={"page_size": 1}, headers=headers)
    total: int = response.json()["total"]
    return total


async def test_regulator_imports_new_enterprises_from_xlsx(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], remove_afterwards: list[str]
) -> None:
    first, second = new_credit_code(), new_credit_code()
    remove_afterwards += [first, second]
    data = xlsx(
        [
            [*HEADERS, "主要负责人", "主要负责人电话"],
            [
                "上海导入铝业有限公司",
                first,
                310113,
                121.45,
                31.4,
                "铝、镁",
                35,
                "赵一",
                13800001111,
            ],
            ["上海导入木业有限公司", second, "310113", None, None, "木", 8, None, None],
        ]
    )
    response = await client.post(
        "/api/v1/import/enterprises", files=upload("企业.xlsx", data), headers=tokens["baoshan"]
    )
    listed = await client.get(
        "/api/v1/enterprises",
        params={"region": "310113", "q": "上海导入", "page_size": 200},
        headers=tokens["baoshan"],
    )
    by_code = {e["credit_code"]: e for e in listed.json()["items"]}
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert by_code[first]["name"] == "上海导入铝业有限公司"
    assert by_code[first]["dust_types"] == ["aluminium", "magnesium"]
    assert by_code[first]["key_enterprise"] is True
    assert by_code[first]["principal"] == {"name": "赵一", "phone": "13800001111"}
    assert by_code[first]["location"] == {"lon": 121.45, "lat": 31.4}
    assert by_code[second]["dust_workers"] == 8
    assert by_code[second]["location"] is None


async def test_one_bad_row_imports_nothing_and_every_problem_is_listed(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], remove_afterwards: list[str]
) -> None:
    good = [new_credit_code() for _ in range(3)]
    remove_afterwards += good
    broken = good[0][:-1] + ("0" if good[0][-1] != "0" else "1")  # wrong check character
    data = xlsx(
        [
            HEADERS,
            ["上海甲金属制品有限公司", good[0], "310113", 121.4, 31.3, "铁", 12],
            ["上海乙金属制品有限公司", good[1], "310113", 121.4, 31.3, "铁", 12],
            ["上海丙金属制品有限公司", broken, "310113", 121.4, 31.3, "铁", 12],
            ["上海丁金属制品有限公司", good[2], "310113", 121.4, 31.3, "铁", 12],
            ["上海戊金属制品有限公司", new_credit_code(), "999999", 121.4, 31.3, "铁", 12],
        ]
    )
    before = await _enterprise_total(client, tokens["admin"])
    response = await client.post(
        "/api/v1/import/enterprises", files=upload("bad.xlsx", data), headers=tokens["baoshan"]
    )
    after = await _enterprise_total(client, tokens["admin"])
    untouched = await client.get(f"/api/v1/enterprises/{good[0]}", headers=tokens["admin"])
    body = response.json()
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "nothing was imported" in body["detail"]
    assert problems(response) == [
        (4, "统一社会信用代码", broken),
        (6, "行政区划代码", "999999"),
    ]
    assert "check character" in body["problems"][0]["reason"]
    assert "unknown adcode" in body["problems"][1]["reason"]
    assert after == before
    assert untouched.status_code == 404


async def test_a_gbk_csv_from_chinese_excel_imports(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], remove_afterwards: list[str]
) -> None:
    code = new_credit_code()
    remove_afterwards.append(code)
    text = csv_text(
        [
            [
                "企业名称",
                "统一社会信用代码",
                "行政区划代码",
                "地址",
                "粉尘种类",
                "涉粉工艺",
                "企业规模",
            ],
            [
                "上海宝钢粉末冶金有限公司",
                code,
                "310113",
                "上海市宝山区友谊路1号",
                "铁粉",
                "筛分；粉碎研磨",
                "中型",
            ],
        ]
    )
    response = await client.post(
        "/api/v1/import/enterprises",
        files=upload("企业.csv", text.encode("gbk"), "text/csv"),
        headers=tokens["baoshan"],
    )
    stored = await client.get(f"/api/v1/enterprises/{code}", headers=tokens["baoshan"])
    assert response.status_code == 200, response.text
    assert stored.json()["name"] == "上海宝钢粉末冶金有限公司"
    assert stored.json()["address"] == "上海市宝山区友谊路1号"
    assert stored.json()["processes"] == ["筛分", "粉碎研磨"]
    assert stored.json()["scale"] == "medium"


async def test_reimporting_the_updated_sheet_updates_the_enterprises(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], remove_afterwards: list[str]
) -> None:
    code = new_credit_code()
    remove_afterwards.append(code)
    headers = ["企业名称", "统一社会信用代码", "行政区划代码", "涉粉作业人数", "安全负责人"]
    first = csv_text(
        [[*headers, "主要负责人"], ["上海复导木业有限公司", code, "310113", 20, "钱二", "孙三"]]
    )
    changed = csv_text([headers, ["上海复导木业有限公司", code, "310113", 40, ""]])
    h = tokens["baoshan"]

    async def send(text: str) -> httpx.Response:
        files = upload("sheet.csv", text.encode("utf-8-sig"), "text/csv")
        return await client.post("/api/v1/import/enterprises", files=files, headers=h)

    created = await send(first)
    again = await send(first)
    updated = await send(changed)
    stored = (await client.get(f"/api/v1/enterprises/{code}", headers=h)).json()
    assert created.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 1}
    assert updated.json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert stored["dust_workers"] == 40
    assert stored["safety_officer"] is None  # an empty cell clears the field
    assert stored["principal"]["name"] == "孙三"  # a column not in the file stays as it was


async def test_integrator_imports_points_for_a_demo_enterprise(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], remove_afterwards: list[str]
) -> None:
    systems = await client.get(f"/api/v1/enterprises/{GRANTED}/systems", headers=tokens["admin"])
    system = systems.json()[0]["system_code"]
    codes = [f"IMPORT-{next(_serial)}" for _ in range(2)]
    remove_afterwards += [f"dusttwin:point-{GRANTED}-{c}" for c in codes]
    text = csv_text(
        [
            [*POINT_HEADERS, "上限"],
            [GRANTED, system, codes[0], "DUST_CONC", "mg/m3", "出口粉尘浓度", 3000],
            [GRANTED.lower(), system, codes[1], "粉尘浓度", "mg/m³", "入口粉尘浓度", ""],
        ]
    )
    response = await client.post(
        "/api/v1/import/points",
        files=upload("点位.csv", text.encode(), "text/csv"),
        headers=tokens["integrator"],
    )
    point = await client.get(
        f"/api/v1/enterprises/{GRANTED}/points/{codes[0]}", headers=tokens["integrator"]
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert point.json()["system_code"] == system
    assert point.json()["unit"] == "mg/m³"
    assert point.json()["effective_limits"]["ha"] == 3000


async def test_a_unit_contradicting_its_indicator_fails_the_whole_points_file(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], remove_afterwards: list[str]
) -> None:
    systems = await client.get(f"/api/v1/enterprises/{GRANTED}/systems", headers=tokens["admin"])
    system = systems.json()[0]["system_code"]
    codes = [f"IMPORT-{next(_serial)}" for _ in range(3)]
    remove_afterwards += [f"dusttwin:point-{GRANTED}-{c}" for c in codes]
    text = csv_text(
        [
            POINT_HEADERS,
            [GRANTED, system, codes[0], "DUST_CONC", "mg/m³", "好点位"],
            [GRANTED, system, codes[1], "DUST_CONC", "Pa", "单位错误"],
            [GRANTED, "NO-SUCH-SYSTEM", codes[2], "DUST_CONC", "mg/m³", "系统未登记"],
        ]
    )
    response = await client.post(
        "/api/v1/import/points",
        files=upload("点位.csv", text.encode(), "text/csv"),
        headers=tokens["integrator"],
    )
    good = await client.get(
        f"/api/v1/enterprises/{GRANTED}/points/{codes[0]}", headers=tokens["admin"]
    )
    assert response.status_code == 422, response.text
    assert problems(response) == [(3, "单位", "Pa"), (4, "除尘系统编码", "NO-SUCH-SYSTEM")]
    assert "contradicts indicator DUST_CONC" in response.json()["problems"][0]["reason"]
    assert "not registered" in response.json()["problems"][1]["reason"]
    assert good.status_code == 404


async def test_a_regulator_cannot_import_outside_its_jurisdiction(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    code = new_credit_code()
    data = xlsx([HEADERS, ["上海越界铝业有限公司", code, "310113", 121.4, 31.4, "铝", 40]])
    response = await client.post(
        "/api/v1/import/enterprises", files=upload("越界.xlsx", data), headers=tokens["jiading"]
    )
    stored = await client.get(f"/api/v1/enterprises/{code}", headers=tokens["admin"])
    assert response.status_code == 422, response.text
    assert problems(response) == [(2, "行政区划代码", "310113")]
    assert "not allowed" in response.json()["problems"][0]["reason"]
    assert stored.status_code == 404


async def test_points_outside_the_integrators_engagements_read_as_unknown(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    jiading = next(e for e in demo_plant() if e.record.adcode == "310114")
    cc, system = jiading.record.credit_code, jiading.systems[0].system_code
    text = csv_text([POINT_HEADERS, [cc, system, "IMPORT-X", "DUST_CONC", "mg/m³", "越权"]])
    response = await client.post(
        "/api/v1/import/points",
        files=upload("点位.csv", text.encode(), "text/csv"),
        headers=tokens["integrator"],
    )
    assert response.status_code == 422, response.text
    assert problems(response) == [(2, "统一社会信用代码", cc)]
    assert "not registered or not within your access" in response.json()["problems"][0]["reason"]


async def test_a_regulator_may_not_import_points(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    text = csv_text([POINT_HEADERS, [GRANTED, "DC01", "IMPORT-R", "DUST_CONC", "mg/m³", "x"]])
    response = await client.post(
        "/api/v1/import/points",
        files=upload("点位.csv", text.encode(), "text/csv"),
        headers=tokens["baoshan"],
    )
    assert response.status_code == 403, response.text


async def test_the_template_downloads_and_imports_once_filled(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]], remove_afterwards: list[str]
) -> None:
    code = new_credit_code()
    remove_afterwards.append(code)
    h = tokens["baoshan"]
    download = await client.get(
        "/api/v1/import/enterprises/template", params={"format": "xlsx"}, headers=h
    )
    workbook = openpyxl.load_workbook(io.BytesIO(download.content))
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    as_downloaded = await client.post(
        "/api/v1/import/enterprises", files=upload("模板.xlsx", download.content), headers=h
    )
    sheet.cell(row=2, column=header.index("企业名称") + 1, value="上海模板回填木业有限公司")
    sheet.cell(row=2, column=header.index("统一社会信用代码") + 1, value=code)
    filled = io.BytesIO()
    workbook.save(filled)
    imported = await client.post(
        "/api/v1/import/enterprises", files=upload("模板.xlsx", filled.getvalue()), headers=h
    )
    stored = await client.get(f"/api/v1/enterprises/{code}", headers=h)
    assert download.status_code == 200
    assert download.headers["content-type"] == XLSX
    assert (
        f"filename*=UTF-8''{quote('粉尘涉爆企业基础情况表-导入模板.xlsx')}"
        in download.headers["content-disposition"]
    )
    assert header[:3] == ["企业名称", "统一社会信用代码", "行政区划代码"]
    assert workbook.sheetnames[1] == "说明"
    assert as_downloaded.status_code == 422  # the sample row is not imported by mistake
    assert "sample row" in as_downloaded.json()["problems"][0]["reason"]
    assert imported.status_code == 200, imported.text
    assert stored.json()["name"] == "上海模板回填木业有限公司"


async def test_the_points_template_comes_as_csv_that_excel_reads_as_chinese(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    download = await client.get(
        "/api/v1/import/points/template", params={"format": "csv"}, headers=tokens["integrator"]
    )
    assert download.status_code == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    assert download.content.startswith("\ufeff统一社会信用代码,除尘系统编码".encode())
    assert quote("监测点位表-导入模板.csv") in download.headers["content-disposition"]


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a spreadsheet"),
        ("old.xls", bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 64, "save it as .xlsx"),
        ("broken.xlsx", b"PK\x03\x04 this is not a workbook", "not a valid .xlsx workbook"),
        ("data.csv", b"\x00\x01\x02binary", "not a text (CSV) file"),
        ("empty.csv", b"", "the file is empty"),
    ],
)
async def test_a_file_that_is_not_a_spreadsheet_is_refused_clearly(
    client: httpx.AsyncClient,
    tokens: dict[str, dict[str, str]],
    name: str,
    data: bytes,
    says: str,
) -> None:
    response = await client.post(
        "/api/v1/import/enterprises",
        files=upload(name, data, "application/octet-stream"),
        headers=tokens["baoshan"],
    )
    assert response.status_code == 400, response.text
    assert says in response.json()["detail"]


async def test_a_file_over_the_size_limit_is_refused(
    client: httpx.AsyncClient, tokens: dict[str, dict[str, str]]
) -> None:
    data = b"x" * (imports.MAX_UPLOAD_BYTES + 1)
    response = await client.post(
        "/api/v1/import/enterprises",
        files=upload("huge.csv", data, "text/csv"),
        headers=tokens["baoshan"],
    )
    assert response.status_code == 413, response.text
