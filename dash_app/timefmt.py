"""Times as the pages show them: China time (UTC+8, no daylight saving), whatever the server's.

Users read "18:20" as Beijing time; the database and the twins hold instants in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from risk.statistics import CHINA

__all__ = ["CHINA", "china_axis", "china_time", "in_china", "local_time"]


def in_china(moment: datetime) -> datetime:
    """The same instant on China's clock (a naive time is taken as UTC, as stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA)


def china_time(moment: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``moment`` formatted on China's clock."""
    return in_china(moment).strftime(fmt)


def local_time(at: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    """A moment in China time (how every user of the platform reads the clock); "—" for none."""
    return "—" if at is None else china_time(at, fmt)


def china_axis(moments: Sequence[datetime]) -> list[datetime]:
    """Times for a Plotly axis: Plotly draws a time as its wall-clock digits, so give China's."""
    return [in_china(m) for m in moments]
