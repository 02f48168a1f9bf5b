"""Bulk import of registry records from spreadsheets (批量导入), all or nothing per file.

Two kinds: ``enterprises`` — the regulators' 粉尘涉爆企业基础情况表, one row per enterprise — and
``points`` — an integrator's point list (监测点位表), one row per monitoring point, naming its
enterprise by credit code. Files are ``.xlsx`` (first sheet) or ``.csv`` (UTF-8, or GB18030 as
Chinese Excel exports it).

The columns are data (``ColumnSpec`` tables) mapped onto the registry's ``EnterpriseCreate`` and
``PointCreate``; headers are matched in Chinese or English (whitespace and case ignored), title
rows above the header are skipped. Reading a file (``read_sheet``) and checking its rows
(``check_sheet``) are pure; ``apply_import`` then writes every row through the registry, inside
one transaction, each row in its own savepoint, so that every problem is found and reported — and
if there is any, nothing is imported. What is wrong with a file's content is an
``ImportProblem`` (row, column, value, reason) in the result, never an exception;
``ImportFileError`` (a ``TwinsError``) means the file could not be read at all.

Re-importing: an enterprise whose credit code is registered already is UPDATED from its row (the
regulators re-import their updated sheet): the file's columns replace those fields, an empty cell
clears an optional field, fields without a column in the file stay as they are. A point whose code
is registered already is a problem ("registered already"): points are registered once, then
changed through the API.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any, Literal

import openpyxl  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.datavalidation import DataValidation  # type: ignore[import-untyped]
from psycopg import AsyncConnection, Rollback
from pydantic import BaseModel, ValidationError

from device_catalog import DeviceCatalogError, load_catalog
from twins.errors import (
    InvalidThingError,
    ThingExistsError,
    ThingNotFoundError,
    TwinsError,
)
from twins.identifiers import ADCODE_RE, CREDIT_CODE_ALPHABET, is_valid_credit_code
from twins.model import Json, TwinKind, merge_patch
from twins.records import create_record, ensure_regions
from twins.regions import region
from twins.registry import INITIAL_FEATURES, KINDS, thing_id
from twins.schemas import DUST_TYPE_NAMES, EnterpriseCreate, PointCreate
from twins.scope import Scope
from twins.store import NotAllowedError, PostgresTwinStore

__all__ = [
    "IMPORT_KINDS",
    "SPECS",
    "CheckedRow",
    "CheckedSheet",
    "ColumnSpec",
    "ImportFileError",
    "ImportKind",
    "ImportProblem",
    "ImportResult",
    "ImportSpec",
    "Sheet",
    "SheetRow",
    "TemplateFormat",
    "apply_import",
    "check_sheet",
    "read_sheet",
    "template",
]

ImportKind = Literal["enterprises", "points"]
TemplateFormat = Literal["xlsx", "csv"]
IMPORT_KINDS: tuple[ImportKind, ...] = ("enterprises", "points")
Outcome = Literal["created", "updated", "unchanged"]


class ImportFileError(TwinsError):
    """The file cannot be read as a spreadsheet: not .xlsx or .csv, damaged, or not text."""


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an import file (导入问题).

    ``row`` is the spreadsheet's row number (1-based, header row counted), ``column`` the header
    as written in the file ("" for the whole row), ``value`` the cell as read.
    """

    row: int
    column: str
    value: str
    reason: str


@dataclass(frozen=True)
class SheetRow:
    """A non-empty row of a sheet: its number and the text of its cells."""

    number: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Sheet:
    """A spreadsheet as read: its non-empty rows, the header row among them."""

    rows: tuple[SheetRow, ...]


# ---------------------------------------------------------------- cell parsers

_SEPARATORS = re.compile(r"[、,，;；/／\n]+")
# What officials write in a cell that does not apply; read as an empty cell.
NOT_APPLICABLE = frozenset({"/", "／", "-", "—", "无"})


def _text(value: str) -> str:
    return value


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("not a number / 不是数字") from None
    if not math.isfinite(number):
        raise ValueError("not a finite number / 不是有效数字")
    return number


def _count(value: str) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError("not a whole number / 应为整数")
    return int(number)


def _credit_code(value: str) -> str:
    code = value.upper()
    if is_valid_credit_code(code):
        return code
    if len(code) != 18:
        reason = (
            f"a unified social credit code has 18 characters, not {len(code)} / "
            f"统一社会信用代码应为18位（此处{len(code)}位）"
        )
    elif any(c not in CREDIT_CODE_ALPHABET for c in code):
        reason = (
            "contains characters a credit code never has (I, O, S, V, Z, punctuation) / "
            "含有统一社会信用代码不使用的字符"
        )
    else:
        reason = "check character does not match (GB 32100) / 校验位不符（GB 32100）"
    if code.isdigit():
        reason += (
            "; if Excel stored it as a number its last digits are lost: format the column as"
            " text / 若被 Excel 存为数字会丢失末位，请将该列设为文本格式"
        )
    raise ValueError(reason)


def _adcode(value: str) -> str:
    if not ADCODE_RE.match(value):
        raise ValueError("an adcode has 6 digits / 行政区划代码应为6位数字")
    try:
        region(value)
    except InvalidThingError:
        raise ValueError("unknown adcode (GB/T 2260) / 未知的行政区划代码") from None
    return value


def _items(value: str) -> list[str]:
    return [item.strip() for item in _SEPARATORS.split(value) if item.strip()]


_DUST_BY_NAME = {name: code for code, name in DUST_TYPE_NAMES.items()}


def _dust_type(item: str) -> str:
    if item.lower() in DUST_TYPE_NAMES:
        return item.lower()
    for name in (item, item.removesuffix("粉尘"), item.removesuffix("粉")):
        if name in _DUST_BY_NAME:
            return _DUST_BY_NAME[name]
    raise ValueError(
        f"unknown dust type {item!r}; expected {'、'.join(DUST_TYPE_NAMES.values())} / "
        f"未知的粉尘种类“{item}”"
    )


def _dust_types(value: str) -> list[str]:
    return list(dict.fromkeys(_dust_type(item) for item in _items(value)))


def _choice(options: Mapping[str, str]) -> Callable[[str], str]:
    by_spelling = {k.lower(): v for k, v in options.items()} | {v: v for v in options.values()}

    def parse(value: str) -> str:
        try:
            return by_spelling[value.lower()]
        except KeyError:
            raise ValueError(
                f"expected one of {'、'.join(options)} / 取值应为 {'、'.join(options)}"
            ) from None

    return parse


_flag = _choice({"是": "yes", "否": "no", "y": "yes", "n": "no", "true": "yes", "false": "no"})


def _yes_no(value: str) -> bool:
    return _flag(value) == "yes"


def _limit(value: str) -> float | None:
    """A limit, or 关闭/off to switch the catalog's default off for this point."""
    if value.lower() in ("关闭", "off"):
        return None
    return _number(value)


def _indicator(value: str) -> str:
    catalog = load_catalog()
    if value.upper() in catalog.indicators:
        return value.upper()
    by_name = {i.name_zh: i.code for i in catalog.indicators.values()}
    if value in by_name:
        return by_name[value]
    raise ValueError(
        "not an indicator of the device catalog (use its code or Chinese name) / "
        "设备目录中没有该监测指标（填写指标编码或中文名称）"
    )


# ---------------------------------------------------------------- the column tables


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an import file and where its value goes.

    ``field`` is a dotted path into the record (``principal.phone``); ``parser`` turns the cell's
    text into the value or raises ValueError with the reason; ``needs`` names a field whose column
    must be in the file too (a phone needs its person, a longitude its latitude).
    """

    header_zh: str
    header_en: str
    field: str
    required: bool
    parser: Callable[[str], Any]
    note: str
    sample: str = ""
    aliases: tuple[str, ...] = ()
    needs: str | None = None
    choices: tuple[str, ...] = ()  # offered as a drop-down list in the .xlsx template


SAMPLE_CREDIT_CODE = "91310113MA1EXAMPLE"  # 18 allowed characters, wrong check character

ENTERPRISE_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "企业名称",
        "name",
        "name",
        True,
        _text,
        "2–200 字",
        "示例：上海某某木业有限公司",
        aliases=("单位名称",),
    ),
    ColumnSpec(
        "统一社会信用代码",
        "credit_code",
        "credit_code",
        True,
        _credit_code,
        "18 位（GB 32100，含校验位）；请将该列设为文本格式",
        SAMPLE_CREDIT_CODE,
        aliases=("社会信用代码", "信用代码"),
    ),
    ColumnSpec(
        "行政区划代码",
        "adcode",
        "adcode",
        True,
        _adcode,
        "6 位区县代码（GB/T 2260），如宝山区 310113；须在您的辖区内",
        "310113",
        aliases=("区划代码", "所在区县代码"),
    ),
    ColumnSpec(
        "地址",
        "address",
        "address",
        False,
        _text,
        "最多 300 字",
        "上海市宝山区某某路1号",
        aliases=("企业地址", "详细地址"),
    ),
    ColumnSpec(
        "经度",
        "lon",
        "location.lon",
        False,
        _number,
        "十进制度数，73–136",
        "121.44",
        needs="location.lat",
    ),
    ColumnSpec(
        "纬度",
        "lat",
        "location.lat",
        False,
        _number,
        "十进制度数，3–54",
        "31.36",
        needs="location.lon",
    ),
    ColumnSpec(
        "行业",
        "industry",
        "industry",
        False,
        _text,
        "国民经济行业分类（GB/T 4754）",
        "C20 木材加工",
        aliases=("国民经济行业分类", "所属行业"),
    ),
    ColumnSpec(
        "监管行业",
        "regulated_industry",
        "regulated_industry",
        False,
        _text,
        "如 机械、轻工",
        "轻工",
    ),
    ColumnSpec(
        "经营状态",
        "operating_state",
        "operating_state",
        False,
        _choice({"在营": "operating", "停产": "suspended", "关闭": "closed"}),
        "在营、停产、关闭（或 operating、suspended、closed）；空为在营",
        "在营",
        choices=("在营", "停产", "关闭"),
    ),
    ColumnSpec(
        "法定代表人", "legal_representative", "legal_representative", False, _text, "姓名", "张三"
    ),
    ColumnSpec("主要负责人", "principal", "principal.name", False, _text, "姓名", "李四"),
    ColumnSpec(
        "主要负责人电话",
        "principal_phone",
        "principal.phone",
        False,
        _text,
        "数字、+、-、空格，5–20 位；须同时有“主要负责人”列",
        "13800000000",
        aliases=("主要负责人联系电话",),
        needs="principal.name",
    ),
    ColumnSpec("安全负责人", "safety_officer", "safety_officer.name", False, _text, "姓名", "王五"),
    ColumnSpec(
        "安全负责人电话",
        "safety_officer_phone",
        "safety_officer.phone",
        False,
        _text,
        "数字、+、-、空格，5–20 位；须同时有“安全负责人”列",
        "13900000000",
        aliases=("安全负责人联系电话",),
        needs="safety_officer.name",
    ),
    ColumnSpec(
        "职工总数",
        "staff_total",
        "staff_total",
        False,
        _count,
        "整数",
        "120",
        aliases=("从业人员数",),
    ),
    ColumnSpec("安全管理人员数", "safety_staff", "safety_staff", False, _count, "整数", "2"),
    ColumnSpec(
        "涉粉作业人数",
        "dust_workers",
        "dust_workers",
        False,
        _count,
        "整数；空为 0",
        "35",
        aliases=("涉粉人数", "涉尘作业人数"),
    ),
    ColumnSpec("单班最大作业人数", "max_per_shift", "max_per_shift", False, _count, "整数", "20"),
    ColumnSpec(
        "粉尘种类",
        "dust_types",
        "dust_types",
        False,
        _dust_types,
        f"{'、'.join(DUST_TYPE_NAMES.values())}（或英文编码）；多种以 、 , ; / 分隔",
        "木",
    ),
    ColumnSpec(
        "涉粉工艺",
        "processes",
        "processes",
        False,
        _items,
        "如 打磨抛光、砂光、粉碎研磨；多项以 、 , ; / 分隔",
        "砂光、打磨抛光",
        aliases=("涉粉作业工艺",),
    ),
    ColumnSpec(
        "遇湿自燃金属粉尘",
        "moisture_reactive",
        "moisture_reactive",
        False,
        _yes_no,
        "是、否；空为否",
        "否",
        choices=("是", "否"),
    ),
    ColumnSpec(
        "企业规模",
        "scale",
        "scale",
        False,
        _choice(
            {
                "大型": "large",
                "中型": "medium",
                "小型": "small",
                "微型": "micro",
            }
        ),
        "大型、中型、小型、微型（或 large、medium、small、micro）",
        "小型",
        choices=("大型", "中型", "小型", "微型"),
    ),
)

POINT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "统一社会信用代码",
        "credit_code",
        "credit_code",
        True,
        _credit_code,
        "点位所属企业；18 位，请将该列设为文本格式",
        SAMPLE_CREDIT_CODE,
        aliases=("社会信用代码", "信用代码"),
    ),
    ColumnSpec(
        "除尘系统编码",
        "system_code",
        "system_code",
        True,
        _text,
        "已登记的除尘系统编码（字母、数字、_、-，最多 32 位）",
        "DC01",
        aliases=("系统编码",),
    ),
    ColumnSpec(
        "点位编码",
        "point_code",
        "point_code",
        True,
        _text,
        "企业内唯一（字母、数字、_ . -，最多 64 位）",
        "DC01-DUST_CONC-1",
    ),
    ColumnSpec("点位名称", "name", "name", False, _text, "最多 100 字", "1#除尘器出口粉尘浓度"),
    ColumnSpec(
        "监测指标",
        "indicator",
        "indicator",
        True,
        _indicator,
        "设备目录中的指标编码或中文名称（见“监测指标”工作表）",
        "DUST_CONC",
        aliases=("指标", "指标编码"),
    ),
    ColumnSpec("单位", "unit", "unit", True, _text, "须与监测指标的单位一致", "mg/m³"),
    ColumnSpec("量程下限", "range_low", "range_low", False, _number, "空为目录默认值", ""),
    ColumnSpec("量程上限", "range_high", "range_high", False, _number, "空为目录默认值", ""),
    ColumnSpec(
        "上上限",
        "hha",
        "limits.hha",
        False,
        _limit,
        "报警限值：空为目录默认值，“关闭”为不设该限值",
        "",
    ),
    ColumnSpec("上限", "ha", "limits.ha", False, _limit, "同上", ""),
    ColumnSpec("下限", "la", "limits.la", False, _limit, "同上", ""),
    ColumnSpec("下下限", "lla", "limits.lla", False, _limit, "同上", ""),
    ColumnSpec(
        "设计值",
        "design_value",
        "design_value",
        False,
        _number,
        "如设计循环水量；相对限值按它计算",
        "",
    ),
    ColumnSpec(
        "网关编号",
        "gateway_id",
        "gateway_id",
        False,
        _text,
        "已登记的数采网关编号",
        "GW01",
        aliases=("上报网关",),
    ),
)


def _point_checks(record: BaseModel) -> list[tuple[str, str]]:
    """What a point's row says against the device catalog: (field, reason) pairs."""
    assert isinstance(record, PointCreate)
    indicator = load_catalog().indicator(record.indicator)
    problems: list[tuple[str, str]] = []
    if not indicator.accepts_unit(record.unit):
        problems.append(
            (
                "unit",
                f"unit {record.unit!r} contradicts indicator {indicator.code} "
                f"({indicator.name_en}), which is measured in {indicator.unit!r} / "
                f"单位与监测指标“{indicator.name_zh}”不符，应为 {indicator.unit}",
            )
        )
    low, high = record.range_low, record.range_high
    if low is not None and high is not None and not low < high:
        problems.append(("range_high", "range high must be above range low / 量程上限须大于下限"))
    return problems


@dataclass(frozen=True)
class ImportSpec:
    """One kind of import file: its columns, the record each row becomes, how rows are keyed."""

    kind: ImportKind
    twin_kind: TwinKind
    title_zh: str
    title_en: str
    columns: tuple[ColumnSpec, ...]
    model: type[BaseModel]
    key: tuple[str, ...]  # the fields that name a row's record: twice in a file is a problem
    owner: str | None = None  # a field naming the enterprise, outside the record's model
    checks: Callable[[BaseModel], list[tuple[str, str]]] | None = None
    notes: tuple[str, ...] = ()


SPECS: dict[ImportKind, ImportSpec] = {
    "enterprises": ImportSpec(
        "enterprises",
        "enterprise",
        "粉尘涉爆企业基础情况表",
        "dust-explosion enterprises",
        ENTERPRISE_COLUMNS,
        EnterpriseCreate,
        key=("credit_code",),
        notes=(
            "每行一家企业。已登记的企业（统一社会信用代码相同）按本表更新：表中有的列覆盖原值，"
            "空单元格清除该项，表中没有的列保持不变。 / One row per enterprise; a registered "
            "one is updated from its row (empty cells clear, missing columns stay).",
        ),
    ),
    "points": ImportSpec(
        "points",
        "point",
        "监测点位表",
        "monitoring points",
        POINT_COLUMNS,
        PointCreate,
        key=("credit_code", "point_code"),
        owner="credit_code",
        checks=_point_checks,
        notes=(
            "每行一个监测点位，可包含多家企业。除尘系统（和网关）须已登记；点位编码已登记时报错，"
            "已登记点位请在系统中修改。 / One row per point, several enterprises per file allowed; "
            "systems must be registered; a registered point code is an error.",
        ),
    ),
}


# ---------------------------------------------------------------- reading files

MAX_ROWS = 100_000
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")  # the old binary .xls (and .doc) container


def read_sheet(data: bytes, filename: str | None = None) -> Sheet:
    """The non-empty rows of an .xlsx workbook's first sheet or of a .csv file.

    Raises ImportFileError for anything else: an old .xls, a damaged workbook, binary data, text
    in neither UTF-8 nor GB18030, a file without any data.
    """
    suffix = PurePath(filename).suffix.lower() if filename else ""
    if not data:
        raise ImportFileError("the file is empty / 文件为空")
    if data.startswith(_ZIP_MAGIC):
        rows = _xlsx_rows(data)
    elif data.startswith(_OLE_MAGIC):
        raise ImportFileError(
            "an old Excel .xls workbook: save it as .xlsx (Excel 工作簿) or .csv and upload "
            "again / 旧版 .xls 格式，请另存为 .xlsx 或 .csv 后上传"
        )
    elif suffix in (".xlsx", ".xlsm"):
        raise ImportFileError(
            "not a valid .xlsx workbook (damaged, or another kind of file renamed) / "
            "文件已损坏或不是 .xlsx 工作簿"
        )
    elif suffix not in (".csv", ""):
        raise ImportFileError(
            f"{filename} is not a spreadsheet: upload an .xlsx workbook or a .csv file / "
            "请上传 .xlsx 或 .csv 文件"
        )
    else:
        rows = _csv_rows(data)
    sheet = Sheet(tuple(rows))
    if not sheet.rows:
        raise ImportFileError("the file holds no data / 文件中没有数据")
    return sheet


def _xlsx_rows(data: bytes) -> list[SheetRow]:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl lets its zip and XML layers' errors through, any class
        raise ImportFileError(
            f"not a valid .xlsx workbook ({type(err).__name__}) / 文件已损坏或不是 .xlsx 工作簿"
        ) from err
    try:
        if not workbook.worksheets:
            raise ImportFileError("the workbook has no worksheet / 工作簿中没有工作表")
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers record wrong dimensions: read what is there
        rows = _limited(
            SheetRow(number, cells)
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            if any(cells := tuple(_cell_text(v) for v in values))
        )
    except ImportFileError:
        raise
    except Exception as err:  # a damaged sheet fails while it is being read, with any class
        raise ImportFileError(
            f"the workbook's first sheet cannot be read ({type(err).__name__}) / 工作表无法读取"
        ) from err
    finally:
        workbook.close()
    return rows


def _limited(rows: Iterable[SheetRow]) -> list[SheetRow]:
    """The rows, refusing a file with more than MAX_ROWS of them (a bomb, not a register)."""
    kept: list[SheetRow] = []
    for row in rows:
        if len(kept) == MAX_ROWS:
            raise ImportFileError(
                f"more than {MAX_ROWS} rows: split the file / 超过 {MAX_ROWS} 行，请分成多个文件"
            )
        kept.append(row)
    return kept


def _cell_text(value: object) -> str:
    """A cell's value as text; numbers as written (310113.0 is "310113": codes stay codes)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def _csv_rows(data: bytes) -> list[SheetRow]:
    if b"\x00" in data:
        raise ImportFileError("not a text (CSV) file / 不是文本 CSV 文件")
    text = _decode(data)
    try:
        return _limited(
            SheetRow(number, cells)
            for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
            if any(cells := tuple(cell.strip() for cell in row))
        )
    except csv.Error as err:
        raise ImportFileError(f"not a valid CSV file: {err} / CSV 文件格式错误") from err


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of the GBK of Chinese Excel)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("the CSV file is neither UTF-8 nor GBK/GB18030 / CSV 文件编码无法识别")


# ---------------------------------------------------------------- checking rows


@dataclass(frozen=True)
class CheckedRow:
    """A row that passed every check that needs no database: its record, ready to write."""

    number: int
    record: BaseModel
    credit_code: str
    cells: Mapping[str, tuple[str, str]]  # field -> (header as written, cell text)


@dataclass(frozen=True)
class CheckedSheet:
    """A sheet checked against its kind's columns: good rows, and problems with the others."""

    kind: ImportKind
    total: int  # data rows
    rows: tuple[CheckedRow, ...]
    problems: tuple[ImportProblem, ...]
    covered: frozenset[str] = frozenset()  # fields the file's columns set
    readable: bool = True  # False when the header is wrong and no row was checked


def _norm(header: str) -> str:
    return "".join(header.split()).strip("*＊").lower()


def _lookup(spec: ImportSpec) -> dict[str, ColumnSpec]:
    return {
        _norm(name): column
        for column in spec.columns
        for name in (column.header_zh, column.header_en, *column.aliases)
    }


# Title rows (表名, 填报单位…) may stand above the header; they are skipped.
_MAX_TITLE_ROWS = 5


def _header_row(sheet: Sheet, lookup: Mapping[str, ColumnSpec]) -> int:
    """Index in ``sheet.rows`` of the header: the first row naming a known column."""
    for index, row in enumerate(sheet.rows[: _MAX_TITLE_ROWS + 1]):
        if any(_norm(cell) in lookup for cell in row.cells):
            return index
    return 0


@dataclass(frozen=True)
class _Header:
    """A file's header matched to a kind's columns."""

    columns: Mapping[int, ColumnSpec]  # cell index -> column
    written: Mapping[str, str]  # field -> its header as written in the file
    problems: tuple[ImportProblem, ...]


def _match_header(spec: ImportSpec, header: SheetRow, data: tuple[SheetRow, ...]) -> _Header:
    """Which column is which; unknown, repeated, missing and lone companion columns."""
    lookup = _lookup(spec)
    columns: dict[int, ColumnSpec] = {}
    written: dict[str, str] = {}
    problems: list[tuple[str, str, str]] = []
    for index, text in enumerate(header.cells):
        column = lookup.get(_norm(text))
        if not text:
            if any(index < len(r.cells) and r.cells[index] for r in data):
                reason = "values under a column without a header / 该列有数据但无列名"
                problems.append((_column_letter(index), "", reason))
        elif column is None:
            problems.append(
                (text, text, "unknown column (see the template) / 未知列名（见导入模板）")
            )
        elif column.field in written:
            problems.append((text, text, "the same column twice / 列重复"))
        else:
            columns[index] = column
            written[column.field] = text
    for column in spec.columns:
        if column.required and column.field not in written:
            problems.append((column.header_zh, "", "required column is missing / 缺少必填列"))
        if column.field in written and column.needs and column.needs not in written:
            companion = next(c for c in spec.columns if c.field == column.needs).header_zh
            reason = f"needs the column {companion} too / 须同时有“{companion}”列"
            problems.append((written[column.field], "", reason))
    if not data:
        problems.append(("", "", "no data rows under the header / 表头下没有数据行"))
    return _Header(
        columns,
        written,
        tuple(ImportProblem(header.number, c, v, r) for c, v, r in problems),
    )


def check_sheet(kind: ImportKind, sheet: Sheet) -> CheckedSheet:
    """Match the header to the kind's columns and check every row without the database.

    Header problems (unknown, missing, repeated columns, no data rows) stop there: no row is
    checked. A record named twice (same credit code, same point code) is a problem of the later row.
    """
    spec = SPECS[kind]
    start = _header_row(sheet, _lookup(spec))
    data = sheet.rows[start + 1 :]
    header = _match_header(spec, sheet.rows[start], data)
    if header.problems:
        return CheckedSheet(kind, len(data), (), header.problems, readable=False)
    problems: list[ImportProblem] = []
    good: list[CheckedRow] = []
    first_of: dict[tuple[str, ...], int] = {}
    key_at = [next((i, c) for i, c in header.columns.items() if c.field == f) for f in spec.key]
    order = {text: index for index, text in enumerate(sheet.rows[start].cells)}
    for row in data:
        checked, row_problems = _check_row(spec, header.columns, header.written, row)
        problems += sorted(row_problems, key=lambda p: order.get(p.column, -1))  # as in the file
        key = tuple(_key_text(row, i, c) for i, c in key_at)
        if all(key) and key in first_of:
            reason = f"the same record as row {first_of[key]} / 与第 {first_of[key]} 行重复"
            index, column = key_at[-1]
            problems.append(
                ImportProblem(row.number, header.written[column.field], row.cells[index], reason)
            )
            continue
        first_of.setdefault(key, row.number)
        if checked is not None:
            good.append(checked)
    return CheckedSheet(kind, len(data), tuple(good), tuple(problems), frozenset(header.written))


def _key_text(row: SheetRow, index: int, column: ColumnSpec) -> str:
    """A key cell as the registry will compare it (credit codes are case-blind, codes are not)."""
    text = row.cells[index] if index < len(row.cells) else ""
    if _is_empty(text):
        return ""
    return text.upper() if column.parser is _credit_code else text


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"({letters})"


def _get(document: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _set(document: Json, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _is_empty(text: str) -> bool:
    return not text or text in NOT_APPLICABLE


def _check_row(
    spec: ImportSpec, columns: Mapping[int, ColumnSpec], written: Mapping[str, str], row: SheetRow
) -> tuple[CheckedRow | None, list[ImportProblem]]:
    """The row's record, or every problem found in it without the database."""
    cells = {
        c.field: (written[c.field], row.cells[i] if i < len(row.cells) else "")
        for i, c in columns.items()
    }
    samples = [(c, cells[c.field][1]) for c in columns.values() if c.sample]
    if samples and all(text == c.sample for c, text in samples):
        reason = (
            "the template's sample row: overwrite it with real data or delete it / "
            "模板示例行，请填写真实数据或删除"
        )
        return None, [ImportProblem(row.number, "", "", reason)]
    problems: list[ImportProblem] = []
    failed: set[str] = set()
    values: Json = {}
    for column in columns.values():
        header_text, text = cells[column.field]
        if _is_empty(text):
            continue
        try:
            _set(values, column.field, column.parser(text))
        except ValueError as err:
            problems.append(ImportProblem(row.number, header_text, text, str(err)))
            failed.add(column.field)
    credit_code = ""
    if spec.owner is not None:
        credit_code = str(values.pop(spec.owner, ""))
        if not credit_code and spec.owner not in failed:
            header_text, text = cells[spec.owner]
            problems.append(ImportProblem(row.number, header_text, text, "required / 必填"))
    try:
        record = spec.model.model_validate(values)
    except ValidationError as err:
        for error in err.errors():
            at = _column_at(columns.values(), error["loc"])
            if at is not None and at.field in failed:
                continue  # reported already: its cell could not be read
            header_text, text = cells[at.field] if at is not None else ("", "")
            problems.append(ImportProblem(row.number, header_text, text, _reason(error, at)))
        return None, problems
    for field_name, reason in spec.checks(record) if spec.checks else []:
        header_text, text = cells[field_name]
        problems.append(ImportProblem(row.number, header_text, text, reason))
    if problems:
        return None, problems
    if spec.owner is None:
        credit_code = str(getattr(record, "credit_code", ""))
    return CheckedRow(row.number, record, credit_code, cells), []


def _column_at(columns: Iterable[ColumnSpec], loc: Iterable[int | str]) -> ColumnSpec | None:
    """The file's column a validation error points at (a group's first column for the group)."""
    path = ".".join(p for p in loc if isinstance(p, str))
    present = list(columns)
    for column in present:
        if column.field == path or path.startswith(column.field + "."):
            return column
    return next((c for c in present if c.field.startswith(path + ".")), None)


# pydantic's error types, said in both languages (ctx fills the braces)
_REASONS: dict[str, str] = {
    "missing": "required / 必填",
    "string_too_short": "too short: at least {min_length} characters / 至少 {min_length} 个字符",
    "string_too_long": "too long: at most {max_length} characters / 最多 {max_length} 个字符",
    "greater_than_equal": "must be at least {ge} / 不能小于 {ge}",
    "greater_than": "must be above {gt} / 须大于 {gt}",
    "less_than_equal": "must be at most {le} / 不能大于 {le}",
    "less_than": "must be below {lt} / 须小于 {lt}",
}


def _reason(error: Any, column: ColumnSpec | None) -> str:
    if error["type"] == "string_pattern_mismatch" and column is not None:
        return f"wrong format / 格式不正确（{column.note}）"
    template = _REASONS.get(error["type"])
    if template is None:
        return str(error["msg"]).removeprefix("Value error, ")
    try:
        return template.format(**error.get("ctx", {}))
    except KeyError:
        return str(error["msg"])


# ---------------------------------------------------------------- writing through the registry


@dataclass(frozen=True)
class ImportResult:
    """What an import did: counts when it went through, else the problems (nothing imported)."""

    kind: ImportKind
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: tuple[ImportProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every row was imported."""
        return not self.problems


class _RowRefusedError(Exception):
    """A row the registry refused, pinned to one of its cells."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name
        self.reason = reason


async def apply_import(
    store: PostgresTwinStore,
    conn: AsyncConnection[Any],
    scope: Scope,
    kind: ImportKind,
    sheet: Sheet,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Check every row and write it through the registry with the caller's scope; all or nothing.

    Everything runs in one transaction block on ``conn`` (a savepoint when the caller has a
    transaction open, whose commit is then the caller's), each row in a savepoint of its own so a
    refused row is reported and the next still checked. Any problem rolls the whole block back.
    ``progress(done, total)`` is called as rows are checked. NotAllowedError when the caller's
    role may not create this kind of record at all.
    """
    spec = SPECS[kind]
    if not scope.may_manage(spec.twin_kind):
        raise NotAllowedError(f"your role may not import {kind} / 您的角色不能导入{spec.title_zh}")
    checked = check_sheet(kind, sheet)
    problems = list(checked.problems)
    if not checked.readable:
        return ImportResult(kind, checked.total, problems=checked.problems)
    done = checked.total - len(checked.rows)
    if progress is not None:
        progress(done, checked.total)
    apply = _APPLY[kind]
    outcomes: list[Outcome] = []
    async with conn.transaction():
        inside = store.within(conn)
        for row in checked.rows:
            try:
                async with conn.transaction():
                    outcomes.append(await apply(inside, scope, row, checked.covered))
            except _RowRefusedError as err:
                header_text, text = row.cells[err.field_name]
                problems.append(ImportProblem(row.number, header_text, text, err.reason))
            except (TwinsError, DeviceCatalogError) as err:
                problems.append(_refused(spec, row, err))
            done += 1
            if progress is not None:
                progress(done, checked.total)
        if problems:
            raise Rollback()
    if problems:
        return ImportResult(
            kind, checked.total, problems=tuple(sorted(problems, key=lambda p: p.row))
        )
    return ImportResult(
        kind,
        checked.total,
        created=outcomes.count("created"),
        updated=outcomes.count("updated"),
        unchanged=outcomes.count("unchanged"),
    )


def _refused(spec: ImportSpec, row: CheckedRow, err: Exception) -> ImportProblem:
    """A registry refusal as a problem; jurisdiction refusals name the adcode, as the API would."""
    if isinstance(err, NotAllowedError) and "adcode" in row.cells:
        header_text, text = row.cells["adcode"]
        return ImportProblem(row.number, header_text, text, f"{err} / 不在您的辖区内，无权操作")
    return ImportProblem(row.number, "", "", str(err))


async def _apply_enterprise(
    store: PostgresTwinStore, scope: Scope, row: CheckedRow, covered: frozenset[str]
) -> Outcome:
    """Register the enterprise, or update it from the row when it is registered already."""
    record = row.record
    assert isinstance(record, EnterpriseCreate)
    await ensure_regions(store, record.adcode)
    attributes = record.model_dump(mode="json", exclude_none=True)
    full = record.model_dump(mode="json")
    patch: Json = {}
    for path in covered:  # an empty cell is None in ``full``: the merge patch removes the field
        _set(patch, path, _get(full, path))
    patch = {k: None if _all_none(v) else v for k, v in patch.items()}
    before: list[Json | None] = []

    def change(current: Json | None) -> Json:
        before.append(current)
        if current is None:
            return {"attributes": attributes, "features": INITIAL_FEATURES["enterprise"]}
        return {**current, "attributes": merge_patch(current["attributes"], patch)}

    thing, created = await store.modify(thing_id("enterprise", record.credit_code), change, scope)
    assert thing is not None
    if created:
        return "created"
    previous = before[-1]
    return "unchanged" if previous and thing.attributes == previous["attributes"] else "updated"


def _all_none(value: Any) -> bool:
    return isinstance(value, dict) and all(v is None for v in value.values())


async def _apply_point(
    store: PostgresTwinStore, scope: Scope, row: CheckedRow, covered: frozenset[str]
) -> Outcome:
    """Register a point under a registered system; a registered point code is a problem."""
    record = row.record
    assert isinstance(record, PointCreate)
    cc = row.credit_code
    needed = [
        ("credit_code", thing_id("enterprise", cc), f"enterprise {cc}", "企业"),
        (
            "system_code",
            thing_id("system", cc, record.system_code),
            f"dust-removal system {record.system_code} of enterprise {cc}",
            "除尘系统",
        ),
    ]
    if record.gateway_id is not None:
        gateway = thing_id("gateway", cc, record.gateway_id)
        needed.append(("gateway_id", gateway, f"gateway {record.gateway_id}", "网关"))
    for field_name, tid, label, label_zh in needed:
        try:
            await store.get(tid, scope)
        except ThingNotFoundError:  # outside the scope reads exactly as absent: nothing leaks
            raise _RowRefusedError(
                field_name,
                f"{label} is not registered or not within your access / "
                f"{label_zh}未登记或不在您的权限范围内",
            ) from None
    try:
        await create_record(store, scope, KINDS["point"], record, credit_code=cc)
    except ThingExistsError:
        raise _RowRefusedError(
            "point_code",
            f"point {record.point_code} is registered already / 点位编码已登记",
        ) from None
    return "created"


_APPLY: dict[
    ImportKind,
    Callable[[PostgresTwinStore, Scope, CheckedRow, frozenset[str]], Awaitable[Outcome]],
] = {"enterprises": _apply_enterprise, "points": _apply_point}


# ---------------------------------------------------------------- templates

_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TEMPLATE_ROWS = 1000  # rows given the columns' formats (text for codes) in the .xlsx template


def template(kind: ImportKind, fmt: TemplateFormat) -> bytes:
    """A file to fill in: Chinese headers in row 1, a sample row in row 2 (replace or delete it).

    The .xlsx has a second sheet 说明 (each column: English name, required, format and values)
    and, for points, a third listing the device catalog's indicators and their units. The .csv is
    UTF-8 with a BOM, so that Excel opens the Chinese correctly.
    """
    spec = SPECS[kind]
    headers = [c.header_zh for c in spec.columns]
    samples = [c.sample for c in spec.columns]
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([headers, samples])
        return out.getvalue().encode("utf-8-sig")
    return _xlsx_template(spec, headers, samples)


def _xlsx_template(spec: ImportSpec, headers: list[str], samples: list[str]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = spec.title_zh
    sheet.append(headers)
    sheet.append([_sample_value(c) for c in spec.columns])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True, color="C00000" if column.required else "000000")
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
        sheet.column_dimensions[letter].width = max(12, 2 * len(column.header_zh) + 4)
        if column.parser in (_text, _credit_code, _adcode):  # typed codes must stay text
            for row in range(2, _TEMPLATE_ROWS + 2):
                sheet.cell(row=row, column=index).number_format = "@"
        if column.choices:
            listed = DataValidation(
                type="list", formula1=f'"{",".join(column.choices)}"', allow_blank=True
            )
            listed.add(f"{letter}2:{letter}{_TEMPLATE_ROWS + 1}")
            sheet.add_data_validation(listed)
    _notes_sheet(workbook.create_sheet("说明"), spec)
    if spec.kind == "points":
        _indicators_sheet(workbook.create_sheet("监测指标"))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _sample_value(column: ColumnSpec) -> str | float:
    if column.parser in (_number, _count) and column.sample:
        return float(column.sample) if "." in column.sample else int(column.sample)
    return column.sample


def _notes_sheet(sheet: Any, spec: ImportSpec) -> None:
    lines = [
        f"{spec.title_zh}（导入模板） / {spec.title_en} import template",
        "第一个工作表第 1 行为列名（中文或英文列名均可，列的顺序不限，不需要的选填列可以删除），"
        "第 2 行为示例：请用真实数据覆盖或删除。红色列名为必填。",
        *spec.notes,
        "整个文件要么全部导入，要么全部不导入：任何一行有问题都不会导入任何数据，并列出全部问题"
        "（行号、列名、原因）。 / All or nothing: any problem and nothing is imported; every "
        "problem is listed.",
        "单元格填 /、-、— 或 无 视为空。 / A cell holding /, -, — or 无 counts as empty.",
        "",
    ]
    for line in lines:
        sheet.append([line])
    sheet.append(["列名", "英文列名 / column", "必填 / required", "格式与取值 / format", "示例"])
    header_row = sheet.max_row
    for column in spec.columns:
        sheet.append(
            [
                column.header_zh,
                column.header_en,
                "是" if column.required else "否",
                column.note + (f"；也可写作 {'、'.join(column.aliases)}" if column.aliases else ""),
                column.sample,
            ]
        )
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    sheet["A1"].font = Font(bold=True, size=14)
    for letter, width in zip("ABCDE", (20, 22, 14, 70, 24), strict=True):
        sheet.column_dimensions[letter].width = width


def _indicators_sheet(sheet: Any) -> None:
    catalog = load_catalog()
    sheet.append(
        ["指标编码", "指标名称", "indicator", "单位", "单位其他写法", "适用除尘器", "默认量程"]
    )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
    collectors = {"dry": "干式", "wet": "湿式"}
    for indicator in catalog.indicators.values():
        low, high = indicator.measuring_range
        sheet.append(
            [
                indicator.code,
                indicator.name_zh,
                indicator.name_en,
                indicator.unit,
                "、".join(indicator.unit_aliases),
                "、".join(collectors.get(c, c) for c in indicator.collectors),
                f"{low:g} – {high:g}",
            ]
        )
    for letter, width in zip("ABCDEFG", (18, 16, 32, 10, 14, 12, 14), strict=True):
        sheet.column_dimensions[letter].width = width
