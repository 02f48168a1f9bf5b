"""Lists shown a page at a time (spot check, supervision): which page, its summary line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, TypeVar

from dash_app.i18n import t

__all__ = ["PAGE_SIZE", "PageShown", "load_page", "page_shown", "summary"]

PAGE_SIZE: Final = 20
Row = TypeVar("Row")


class PageShown(NamedTuple):
    """One page of a list, ready to show."""

    table: Any
    summary: str
    page: int
    has_prev: bool
    has_next: bool


def load_page(
    page: int, fetch: Callable[[int], tuple[int, Sequence[Row]]]
) -> tuple[int, int, Sequence[Row]]:
    """(page, total, rows) of page ``page``; past the end (the list shrank meanwhile), the last."""
    page = max(page, 0)
    total, rows = fetch(page)
    if not rows and total > 0:
        page = (total - 1) // PAGE_SIZE
        total, rows = fetch(page)
    return page, total, rows


def summary(key: str, total: int, page: int, lang: str) -> str:
    """The count line (``key`` formats total, page and pages): "32 enterprises, page 1 of 2"."""
    pages = max(1, -(-total // PAGE_SIZE))
    return t(key, lang).format(total=total, page=page + 1, pages=pages)


def page_shown(table: Any, line: str, page: int, total: int) -> PageShown:
    """The page with the way to the previous and the next one where there is one."""
    return PageShown(table, line, page, page > 0, (page + 1) * PAGE_SIZE < total)
