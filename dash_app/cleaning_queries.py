"""What the cleaning (粉尘清扫) and configuration (配置) pages read and write, in a caller's scope.

Thin wrappers over the workflow rooms: ``risk.cleaning`` (plans, tasks, check-ins, KPIs),
``risk.filings`` (检修/停产报备) and ``twins.photos``. Every function takes the caller's ``Scope``;
reads treat "outside the scope" exactly like "does not exist" (None), and writes go through the
domain function, which enforces roles and jurisdictions. A refused write comes back as an
``Outcome`` carrying the domain's own reason (English / Chinese), with nothing changed.
Like ``enterprise_queries``, the functions are ``async`` over one connection; the pages call
them through ``enterprise_queries.run``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from psycopg import AsyncConnection

from dash_app.enterprise_queries import EnterpriseHeader, enterprise_header, plant
from dash_app.uploads import split_data_url
from device_catalog import load_catalog
from risk.cleaning import (
    CleaningKpi,
    CleaningNotFoundError,
    PhotoUpload,
    PlanSpec,
    Side,
    check_in,
    create_plan,
    day_range,
    deactivate_plan,
    enterprise_kpis_by_day,
    get_plan,
    list_plans,
    list_tasks,
    summed_kpi,
    update_plan,
)
from risk.errors import RiskError
from risk.filings import (
    FilingFilter,
    FilingRules,
    file_filing,
    list_filings,
    withdraw_filing,
)
from risk.statistics import china_day
from twins.errors import TwinsError
from twins.photos import PhotoStore, StoredPhoto, get_photo
from twins.scope import Scope

__all__ = [
    "FILINGS_SHOWN",
    "HISTORY_DAYS",
    "HISTORY_SHOWN",
    "CleaningView",
    "ConfigView",
    "Outcome",
    "TaskState",
    "cleaning_view",
    "config_view",
    "decode_upload",
    "may_write",
    "new_filing",
    "photo_of",
    "plan_of",
    "save_plan",
    "stop_plan",
    "submit_check_in",
    "task_state",
    "withdraw",
]

HISTORY_DAYS: Final = 30  # the history and the period KPIs cover the last 30 China days
HISTORY_SHOWN: Final = 200  # newest tasks of the history shown (the total is shown too)
FILINGS_SHOWN: Final = 50  # newest filings shown on the configuration page
TaskState = Literal["upcoming", "open", "done", "late", "overdue"]


@dataclass(frozen=True)
class Outcome:
    """A write's result: done (with what the domain returned) or refused (with its reason)."""

    ok: bool
    reason: str = ""
    value: dict[str, Any] = field(default_factory=dict)


async def _outcome(write: Awaitable[dict[str, Any]]) -> Outcome:
    """Take the write: done with what it returns, or refused with the platform's reason."""
    try:
        value = await write
    except (RiskError, TwinsError) as err:
        return Outcome(False, str(err))
    return Outcome(True, value=value)


def may_write(scope: Scope, credit_code: str) -> bool:
    """Whether the page offers its forms: the enterprise itself or an administrator.

    Presentation only: the domain functions decide (a regulator or integrator reads).
    """
    return scope.role == "admin" or (
        scope.role == "enterprise" and credit_code in scope.credit_codes
    )


def task_state(task: dict[str, Any], now: datetime) -> TaskState:
    """How a task reads to the person holding the phone (the domain's state, split at the window).

    ``PENDING`` before its window is "upcoming", inside it "open"; a pending task past its window
    is shown ``OVERDUE`` by the domain already.
    """
    state = task["state"]
    if state == "DONE":
        return "done"
    if state == "LATE":
        return "late"
    if state == "OVERDUE":
        return "overdue"
    return "upcoming" if now < task["window_start"] else "open"


# ---------------------------------------------------------------- the cleaning page


@dataclass(frozen=True)
class CleaningView:
    """Everything the cleaning page shows of one enterprise at one moment."""

    header: EnterpriseHeader
    now: datetime
    today: tuple[dict[str, Any], ...]  # tasks whose window overlaps today, in window order
    history_total: int
    history: tuple[dict[str, Any], ...]  # begun in the last 30 days, newest first
    kpi_today: CleaningKpi
    kpi_period: CleaningKpi
    daily: tuple[CleaningKpi, ...]  # oldest first, one per day of the period
    writable: bool

    @property
    def checkable(self) -> tuple[dict[str, Any], ...]:
        """Tasks a check-in is accepted for now: open ones, then overdue ones (marked late)."""
        open_ = [t for t in self.today if task_state(t, self.now) == "open"]
        overdue = [t for t in self.history if task_state(t, self.now) == "overdue"]
        seen = {t["id"] for t in open_}
        return tuple(open_ + [t for t in overdue if t["id"] not in seen])


async def cleaning_view(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, now: datetime
) -> CleaningView | None:
    """Today's tasks, the last 30 days' tasks and KPIs; None outside the scope."""
    header = await enterprise_header(conn, scope, credit_code)
    if header is None:
        return None
    today = china_day(now)
    first = today - timedelta(days=HISTORY_DAYS - 1)
    try:
        start, end = day_range(today)
        _, tasks = await list_tasks(conn, scope, credit_code, start, end, now, limit=1000)
        total, history = await list_tasks(
            conn,
            scope,
            credit_code,
            day_range(first)[0],
            now,
            now,
            newest_first=True,
            limit=HISTORY_SHOWN,
        )
        daily = await enterprise_kpis_by_day(conn, scope, credit_code, first, HISTORY_DAYS, now)
    except CleaningNotFoundError:
        return None  # removed between the two reads: as if it never was
    adcode = header.adcode or ""
    return CleaningView(
        header=header,
        now=now,
        today=tuple(tasks),
        history_total=total,
        history=tuple(history),
        kpi_today=daily[-1],
        kpi_period=summed_kpi(daily, credit_code, adcode),
        daily=tuple(daily),
        writable=may_write(scope, credit_code),
    )


def decode_upload(contents: str, max_bytes: int) -> tuple[bytes, str | None]:
    """The bytes and declared type of one ``dcc.Upload`` data URL (``data:<type>;base64,...``).

    At most ``max_bytes + 1`` bytes are decoded, as the API reads at most one byte over the
    limit: enough for ``check_photo`` to refuse it. Anything that is not a base64 data URL
    gives no bytes, which ``check_photo`` refuses as not an image.
    """
    split = split_data_url(contents)
    if split is None:
        return b"", None
    declared, body = split
    # 4 base64 characters per 3 bytes: decode only what can matter
    keep = ((max_bytes + 1) // 3 + 1) * 4
    try:
        data = base64.b64decode(body[:keep], validate=False)
    except (binascii.Error, ValueError):
        return b"", declared
    return data[: max_bytes + 1], declared


async def submit_check_in(
    conn: AsyncConnection[Any],
    scope: Scope,
    task_id: int,
    *,
    photos: Sequence[tuple[Side, str]],
    store: PhotoStore,
    now: datetime,
    operator: str | None,
    remarks: str | None,
    max_photo_bytes: int,
) -> Outcome:
    """Check a task in through ``risk.cleaning.check_in`` with the uploads' (side, data URL)."""
    uploads = [
        PhotoUpload(side, *decode_upload(contents, max_photo_bytes)) for side, contents in photos
    ]
    return await _outcome(
        check_in(
            conn,
            scope,
            task_id,
            photos=uploads,
            store=store,
            now=now,
            operator=operator,
            remarks=remarks,
            max_photo_bytes=max_photo_bytes,
        )
    )


async def photo_of(
    conn: AsyncConnection[Any], scope: Scope, photo_id: int, store: PhotoStore
) -> tuple[StoredPhoto, bytes] | None:
    """One photo's record and bytes within the caller's jurisdiction; None otherwise."""
    try:
        found = await get_photo(conn, scope, photo_id)
        return found, await asyncio.to_thread(store.get, found.key)
    except TwinsError:
        return None


# ---------------------------------------------------------------- the configuration page


@dataclass(frozen=True)
class ConfigView:
    """The enterprise's cleaning plans, its filings and its systems (to choose from)."""

    header: EnterpriseHeader
    systems: tuple[tuple[str, str], ...]  # (system code, name)
    plans: tuple[dict[str, Any], ...]  # active plans, in the order they were made
    filings_total: int
    filings: tuple[dict[str, Any], ...]  # latest window first
    writable: bool


async def config_view(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, lang: str = "zh"
) -> ConfigView | None:
    """What the configuration page shows; None outside the scope."""
    header = await enterprise_header(conn, scope, credit_code)
    if header is None:
        return None
    try:
        plans = await list_plans(conn, scope, credit_code)
    except CleaningNotFoundError:
        return None
    total, filings = await list_filings(
        conn, scope, FilingFilter(credit_code=credit_code), limit=FILINGS_SHOWN
    )
    systems = (await plant(conn, scope, credit_code, load_catalog(), lang)).systems
    return ConfigView(
        header=header,
        systems=tuple((s.system_code, s.name) for s in systems),
        plans=tuple(plans),
        filings_total=total,
        filings=tuple(filings),
        writable=may_write(scope, credit_code),
    )


async def plan_of(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, plan_id: int
) -> dict[str, Any] | None:
    """One plan of the enterprise within the caller's jurisdiction; None otherwise."""
    try:
        return await get_plan(conn, scope, credit_code, plan_id)
    except CleaningNotFoundError:
        return None


async def save_plan(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    plan_id: int | None,
    spec: PlanSpec,
    now: datetime,
) -> Outcome:
    """Create a plan (``plan_id`` None) or replace one, through ``risk.cleaning``."""
    if plan_id is None:
        return await _outcome(create_plan(conn, scope, credit_code, spec, now))
    return await _outcome(update_plan(conn, scope, credit_code, plan_id, spec, now))


async def stop_plan(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, plan_id: int, now: datetime
) -> Outcome:
    """Withdraw (停用) a plan: no new tasks, its open unchecked tasks go, its history stays."""

    async def stop() -> dict[str, Any]:
        await deactivate_plan(conn, scope, credit_code, plan_id, now)
        return {"id": plan_id}

    return await _outcome(stop())


async def new_filing(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    *,
    system_code: str | None,
    kind: Any,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    now: datetime,
    rules: FilingRules,
) -> Outcome:
    """File a maintenance or shutdown window through ``risk.filings.file_filing``."""
    return await _outcome(
        file_filing(
            conn,
            scope,
            credit_code,
            system_code=system_code,
            kind=kind,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            now=now,
            rules=rules,
        )
    )


async def withdraw(
    conn: AsyncConnection[Any], scope: Scope, filing_id: int, now: datetime
) -> Outcome:
    """Withdraw a filing (before its window) or end it now (during it)."""
    return await _outcome(withdraw_filing(conn, scope, filing_id, now, None))
