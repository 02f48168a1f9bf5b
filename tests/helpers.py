"""Small helpers shared by tests."""

from __future__ import annotations

import io
from collections.abc import Sequence

import openpyxl  # type: ignore[import-untyped]

from dusttwin.settings import Settings
from twins.identifiers import credit_code_check_char


def override(settings: Settings, **changes: object) -> Settings:
    """A copy of ``settings`` with some values changed, validated like the environment's."""
    return Settings.model_validate({**settings.model_dump(), **changes})


def spreadsheet(rows: Sequence[Sequence[object]]) -> bytes:
    """An .xlsx file whose first sheet holds ``rows``."""
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def made_up_credit_code(tag: str, serial: int, adcode: str = "310113") -> str:
    """A valid credit code that neither the demo nor other tests use (``tag``: 3 letters/digits)."""
    body = f"91{adcode}{tag}{serial:06d}"
    return body + credit_code_check_char(body)
