"""``/api/v1/import``: bulk import (批量导入) of enterprises and points from .xlsx or .csv.

All or nothing per file: 200 with the counts, or 422 with every problem (row, column, value,
reason) and nothing imported. Every row is written with the caller's own scope, exactly as
through the registry routes. The templates to fill in are served here too.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, Field

from api.deps import ConnDep, ScopeDep, StoreDep, UserDep
from api.errors import ApiError
from twins.imports import (
    SPECS,
    ImportFileError,
    ImportKind,
    TemplateFormat,
    apply_import,
    read_sheet,
    template,
)

router = APIRouter(prefix="/api/v1/import", tags=["import / 批量导入"])

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MEDIA_TYPES: dict[TemplateFormat, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


class ImportSummary(BaseModel):
    """What an import did (all rows went through)."""

    created: int = Field(description="新登记 / Newly registered")
    updated: int = Field(description="已登记，按表更新 / Registered already, updated")
    unchanged: int = Field(description="已登记，无变化 / Registered already, unchanged")


class ImportProblemOut(BaseModel):
    """One problem with an import file."""

    row: int = Field(description="行号（含表头行，从 1 起） / Row number, header counted")
    column: str = Field(description="列名（整行问题为空） / Column as written, '' for the row")
    value: str = Field(description="单元格内容 / The cell as read")
    reason: str = Field(description="原因 / Reason")


class ImportRejected(BaseModel):
    """Problem detail of a refused import: nothing was imported."""

    type: str
    title: str
    status: int
    detail: str
    problems: list[ImportProblemOut]


@router.post(
    "/{kind}",
    summary="Import a spreadsheet, all or nothing / 批量导入（全部成功或全部不导入）",
    responses={
        400: {"description": "Not a readable .xlsx or .csv / 文件无法读取"},
        403: {"description": "Your role may not register these records / 无权导入"},
        413: {"description": f"Larger than {MAX_UPLOAD_BYTES // 2**20} MiB / 文件过大"},
        422: {
            "model": ImportRejected,
            "description": "Problems; nothing imported / 有问题，未导入",
        },
    },
)
async def import_file(
    kind: ImportKind,
    file: Annotated[UploadFile, File(description="企业基础情况表或点位表 .xlsx/.csv / The file")],
    conn: ConnDep,
    store: StoreDep,
    scope: ScopeDep,
) -> ImportSummary:
    """Register (enterprises: or update) every row of the file within the caller's scope.

    ``enterprises``: the 粉尘涉爆企业基础情况表, one row per enterprise; a registered credit code is
    updated from its row. ``points``: one row per monitoring point of registered systems; a
    registered point code is a problem. Download a template from ``/{kind}/template``.
    """
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(
            413,
            f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB: split it / "
            "文件过大，请分成多个文件",
            error="import:file.too-large",
        )
    try:
        sheet = read_sheet(data, file.filename)
    except ImportFileError as err:
        raise ApiError(400, str(err), error="import:file.unreadable") from err
    result = await apply_import(store, conn, scope, kind, sheet)
    if not result.ok:
        count = len(result.problems)
        raise ApiError(
            422,
            f"{count} problem(s) in the file; nothing was imported / "
            f"文件中有 {count} 处问题，未导入任何数据",
            error="import:rows.invalid",
            problems=[asdict(p) for p in result.problems],
        )
    await conn.commit()  # durable before the answer says it is done
    return ImportSummary(created=result.created, updated=result.updated, unchanged=result.unchanged)


@router.get(
    "/{kind}/template",
    summary="Download an import template / 下载导入模板",
    response_class=Response,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
)
async def download_template(
    kind: ImportKind,
    _user: UserDep,
    fmt: Annotated[
        TemplateFormat, Query(alias="format", description="xlsx（含填写说明） 或 csv")
    ] = "xlsx",
) -> Response:
    """Chinese headers and a sample row to overwrite; the .xlsx explains every column."""
    name = f"{SPECS[kind].title_zh}-导入模板.{fmt}"
    disposition = (
        f'attachment; filename="dusttwin-{kind}-template.{fmt}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )
    return Response(
        template(kind, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": disposition},
    )
