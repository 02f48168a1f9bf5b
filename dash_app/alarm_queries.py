"""What the alarms page (报警预警, 企业端) reads and does, always as the caller (their ``Scope``).

Reads and writes go through the risk room (``risk.alarms``, ``risk.warnings_store``), so roles,
jurisdictions and the closed loop's order are enforced there, exactly as for the API. What this
module adds is what the page needs around them:

- ``alarms_view``: the enterprise's open alarms (most severe, then newest first) and open warnings,
  with the point each alarm is on; None when the enterprise is not the caller's.
- ``new_high_alarms``: which high-level alarms (the two top severities) are new since the previous
  refresh — a pure function, the page beeps and shows a banner for them.
- ``acknowledge`` and ``feed_back``: one lifecycle step on one alarm or warning of *this*
  enterprise; a feedback's photos are checked (``twins.photos.check_photo``), stored in the
  ``PhotoStore`` and recorded in ``photos`` (kind ``alarm_feedback`` / ``warning_feedback``, ref the
  alarm's or warning's id) in the same transaction as the step, and referenced in the feedback as
  ``/api/v1/photos/{id}`` (the API serves them there, within the jurisdiction). A refused step
  stores nothing: the transaction rolls back and the stored bytes are deleted again.
- ``history_view``: the enterprise's closed alarms of the last days with every step
  (``alarm_history``: who acknowledged, fed back, closed, and when), and its cleared warnings.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from psycopg import AsyncConnection

from dash_app.components.history import gateway_label
from dash_app.enterprise_queries import EnterpriseHeader, enterprise_header, plant
from dash_app.uploads import split_data_url
from device_catalog import Catalog, UnknownIndicatorError
from risk import alarms as alarm_store
from risk import lifecycle, warnings_store
from risk.alarms import AlarmFilter
from risk.errors import (
    ActionNotPermittedError,
    AlarmNotFoundError,
    LifecycleError,
    WarningNotFoundError,
)
from risk.warnings_store import WarningAction, WarningFilter
from twins.photos import (
    DEFAULT_MAX_BYTES,
    CheckedPhoto,
    NotAnImageError,
    PhotoStore,
    StoredPhoto,
    check_photo,
    photo_key,
    record_photo,
)
from twins.scope import Scope

__all__ = [
    "HIGH_LEVELS",
    "MAX_PHOTOS",
    "AlarmsView",
    "History",
    "ItemKind",
    "PhotoUpload",
    "PointLabel",
    "acknowledge",
    "alarms_view",
    "announceable",
    "decode_upload",
    "feed_back",
    "handles_alarms",
    "high_alarm_ids",
    "history_view",
    "new_high_alarms",
    "next_alarm_action",
    "next_warning_action",
    "own_item",
    "photo_ref",
    "point_label",
    "point_labels",
    "severity_order",
]

ItemKind = Literal["alarm", "warning"]

# The two top severities of twins.graph.ALARM_SEVERITY (EXPLOSION; HHA and LLA): a new alarm at
# one of these levels is announced with a banner and a sound.
_TOP_RANKS: Final = sorted(set(lifecycle.LEVEL_RANK.values()), reverse=True)[:2]
HIGH_LEVELS: Final = frozenset(
    level for level, rank in lifecycle.LEVEL_RANK.items() if rank in _TOP_RANKS
)
MAX_PHOTOS: Final = 9  # the API's feedback takes at most 9 photo references
OPEN_LIMIT: Final = 200  # open alarms read per refresh (all high ones are read besides)
WARNINGS_LIMIT: Final = 50
HISTORY_PAGE: Final = 20
CLEARED_WARNINGS_LIMIT: Final = 20


# ---------------------------------------------------------------- labels of the points


@dataclass(frozen=True)
class PointLabel:
    """How an alarm's twin is named on the page: its system and point, and the unit."""

    system: str
    point: str
    unit: str


def _indicator_name(code: str | None, catalog: Catalog, lang: str) -> str:
    if not code:
        return ""
    try:
        ind = catalog.indicator(code)
    except UnknownIndicatorError:
        return code
    return ind.name_zh if lang == "zh" else ind.name_en


async def point_labels(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, catalog: Catalog, lang: str
) -> dict[str, PointLabel]:
    """The enterprise's points by thing id, named as its plant names them (system, point)."""
    the_plant = await plant(conn, scope, credit_code, catalog, lang)
    return {
        p.thing_id: PointLabel(s.name, p.name, p.unit) for s in the_plant.systems for p in s.points
    }


def point_label(
    alarm: Mapping[str, Any], labels: Mapping[str, PointLabel], catalog: Catalog, lang: str
) -> PointLabel:
    """The alarm's point as the plant names it; else its indicator, system and twin id."""
    known = labels.get(alarm["thing_id"])
    if known is not None:
        return known
    gateway = gateway_label(str(alarm["thing_id"]), lang)
    if gateway is not None:
        return PointLabel("", gateway, "")
    name = _indicator_name(alarm.get("indicator"), catalog, lang)
    thing = str(alarm["thing_id"]).removeprefix("dusttwin:")
    return PointLabel(alarm.get("system_code") or "", name or thing, "")


# ---------------------------------------------------------------- open alarms and warnings


@dataclass(frozen=True)
class AlarmsView:
    """One refresh of the page: the enterprise's open alarms and warnings."""

    header: EnterpriseHeader
    alarms_total: int
    alarms: list[dict[str, Any]]  # most severe first, then newest
    warnings_total: int
    warnings: list[dict[str, Any]]
    labels: dict[str, PointLabel]  # thing_id -> point label


def severity_order(alarm: Mapping[str, Any]) -> tuple[int, float, int]:
    """Sort key: most severe first, then newest, then the higher id."""
    raised: datetime = alarm["raised_at"]
    return (-lifecycle.rank(alarm["level"]), -raised.timestamp(), -int(alarm["id"]))


async def alarms_view(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    now: datetime,
    catalog: Catalog,
    lang: str = "zh",
) -> AlarmsView | None:
    """The enterprise's open alarms and warnings; None when it is not the caller's."""
    header = await enterprise_header(conn, scope, credit_code)
    if header is None:
        return None
    labels = await point_labels(conn, scope, credit_code, catalog, lang)
    total, newest = await alarm_store.list_alarms(
        conn, scope, AlarmFilter(credit_code=credit_code, open_only=True), now, limit=OPEN_LIMIT
    )
    # every open high-level alarm, even when more than OPEN_LIMIT alarms are open
    _, high = await alarm_store.list_alarms(
        conn,
        scope,
        AlarmFilter(credit_code=credit_code, open_only=True, levels=tuple(sorted(HIGH_LEVELS))),
        now,
        limit=OPEN_LIMIT,
    )
    merged = {a["id"]: a for a in [*newest, *high]}
    alarms = sorted(merged.values(), key=severity_order)
    wtotal, warnings = await warnings_store.list_warnings(
        conn,
        scope,
        WarningFilter(credit_code=credit_code, open_only=True),
        now,
        limit=WARNINGS_LIMIT,
    )
    return AlarmsView(header, total, alarms, wtotal, warnings, labels)


# ---------------------------------------------------------------- new high-level alarms (pure)


def announceable(alarm: Mapping[str, Any]) -> bool:
    """Whether an open alarm is one to announce: a high level, not raised during an approved
    maintenance, and not a backfilled one that has already cleared (old news)."""
    if alarm["level"] not in HIGH_LEVELS or alarm.get("suppressed"):
        return False
    return not alarm.get("backfilled") or bool(alarm.get("condition_active"))


def high_alarm_ids(alarms: Iterable[Mapping[str, Any]]) -> list[int]:
    """The ids of the announceable alarms (what the page remembers between refreshes)."""
    return sorted(int(a["id"]) for a in alarms if announceable(a))


def new_high_alarms(
    previous_ids: Collection[int] | None, alarms: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The announceable alarms that were not there on the previous refresh.

    ``previous_ids`` None means there was no previous refresh: nothing is new then. An alarm
    that escalated to a high level, or that was raised during maintenance and is still there
    after it, counts as new: it was not an announceable one before.
    """
    if previous_ids is None:
        return []
    seen = {int(i) for i in previous_ids}
    return [a for a in alarms if announceable(a) and int(a["id"]) not in seen]


# ---------------------------------------------------------------- what the caller may do next


def _may(action: lifecycle.Action, alarm: Mapping[str, Any], role: lifecycle.Role) -> bool:
    try:
        lifecycle.take(
            action,
            alarm["state"],
            role,
            level=alarm["level"],
            condition_active=bool(alarm["condition_active"]),
        )
    except (ActionNotPermittedError, LifecycleError):
        return False
    return True


def handles_alarms(scope: Scope) -> bool:
    """Whether the caller's role acknowledges and feeds back (the enterprise, an admin)."""
    probe = {"state": "ACTIVE", "level": "HA", "condition_active": True}
    return _may("acknowledge", probe, scope.role)


def next_alarm_action(alarm: Mapping[str, Any], scope: Scope) -> str | None:
    """The step the caller may take on this alarm now: acknowledge, feedback or none."""
    for action in ("acknowledge", "feedback"):
        if _may(action, alarm, scope.role):
            return action
    return None


# Clearing (消警) is the regulator's, on the supervision page: not offered here.
# risk.warnings_store checks the same again, under the row lock, when the step is taken.
_WARNING_STEPS: Final[tuple[WarningAction, ...]] = ("acknowledge", "feedback")


def next_warning_action(warning: Mapping[str, Any], scope: Scope) -> str | None:
    """The step the caller may take on this warning now: acknowledge, feedback or none."""
    for action in _WARNING_STEPS:
        if warnings_store.may_take(action, warning["state"], scope.role):
            return action
    return None


# ---------------------------------------------------------------- photos


@dataclass(frozen=True)
class PhotoUpload:
    """One photo as the browser sent it (``dcc.Upload``): its name, bytes and declared type."""

    name: str
    data: bytes
    declared_type: str | None


def decode_upload(name: str, contents: str) -> PhotoUpload:
    """A ``data:<type>;base64,<bytes>`` URL from ``dcc.Upload`` as bytes (NotAnImageError if it
    is not one)."""
    split = split_data_url(contents)
    if split is None:
        raise NotAnImageError(f"{name}: not an uploaded file / 不是上传的文件")
    declared, body = split
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as err:
        raise NotAnImageError(f"{name}: the upload is damaged / 上传数据损坏") from err
    return PhotoUpload(name, data, declared)


def photo_ref(photo: StoredPhoto) -> str:
    """How a feedback refers to a stored photo: where the API serves it."""
    return f"/api/v1/photos/{photo.id}"


# ---------------------------------------------------------------- the steps


async def own_item(
    conn: AsyncConnection[Any],
    scope: Scope,
    kind: ItemKind,
    item_id: int,
    credit_code: str,
    now: datetime,
) -> dict[str, Any]:
    """The alarm or warning, if the caller sees it and it belongs to this enterprise."""
    if kind == "alarm":
        alarm = await alarm_store.get_alarm(conn, scope, item_id, now)
        if alarm["credit_code"] != credit_code:
            raise AlarmNotFoundError(f"no alarm {item_id} / 报警不存在")
        return alarm
    warning = await warnings_store.get_warning(conn, scope, item_id, now)
    if warning["credit_code"] != credit_code:
        raise WarningNotFoundError(f"no warning {item_id} / 预警不存在")
    return warning


async def acknowledge(
    conn: AsyncConnection[Any],
    scope: Scope,
    kind: ItemKind,
    item_id: int,
    credit_code: str,
    now: datetime,
    *,
    verification: str | None = None,
    remark: str | None = None,
) -> dict[str, Any]:
    """确认 an alarm (with its verification result) or 签收 a warning, as the caller."""
    await own_item(conn, scope, kind, item_id, credit_code, now)
    note = {"remark": remark.strip()} if remark and remark.strip() else {}
    if kind == "alarm":
        if verification not in lifecycle.VERIFICATIONS:
            raise ValueError(f"unknown verification result {verification!r}")
        detail = {"verification": verification, **note}
        return await alarm_store.act(conn, scope, item_id, "acknowledge", now, detail)
    return await warnings_store.act(conn, scope, item_id, "acknowledge", now, note)


async def feed_back(
    conn: AsyncConnection[Any],
    scope: Scope,
    kind: ItemKind,
    item_id: int,
    credit_code: str,
    now: datetime,
    *,
    cause: str,
    measures: str,
    photos: Sequence[PhotoUpload],
    store: PhotoStore,
    max_photo_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, Any]:
    """处置反馈 on an alarm or warning with cause, measures and photos, as the caller.

    Every photo is checked before anything is stored; the photos' records and the step are one
    transaction, and the stored bytes are deleted again when the step is refused.
    """
    if len(photos) > MAX_PHOTOS:
        raise ValueError(f"at most {MAX_PHOTOS} photos")
    checked = [(p, check_photo(p.data, p.declared_type, max_photo_bytes)) for p in photos]
    item = await own_item(conn, scope, kind, item_id, credit_code, now)
    if kind == "alarm":
        # the same check act() makes under the lock, here before any photo is stored
        lifecycle.take(
            "feedback",
            item["state"],
            scope.role,
            level=item["level"],
            condition_active=bool(item["condition_active"]),
        )
    stored: list[tuple[str, CheckedPhoto]] = []
    try:
        for upload, photo in checked:
            key = photo_key(item["credit_code"], photo.content_type, now)
            await asyncio.to_thread(store.put, key, upload.data, photo.content_type)
            stored.append((key, photo))
        async with conn.transaction():
            records = [
                await record_photo(
                    conn,
                    key,
                    photo,
                    credit_code=item["credit_code"],
                    adcode=item["adcode"],
                    uploaded_by=scope.username,
                    uploaded_at=now,
                    kind=f"{kind}_feedback",
                    ref=str(item_id),
                )
                for key, photo in stored
            ]
            detail = {
                "cause": cause.strip(),
                "measures": measures.strip(),
                "photos": [photo_ref(r) for r in records],
            }
            if kind == "alarm":
                return await alarm_store.act(conn, scope, item_id, "feedback", now, detail)
            return await warnings_store.act(conn, scope, item_id, "feedback", now, detail)
    except BaseException:
        # nothing recorded: take the stored bytes back so no orphan photo stays behind
        for key, _ in stored:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.delete, key)
        raise


# ---------------------------------------------------------------- history


@dataclass(frozen=True)
class History:
    """A page of the enterprise's closed alarms (with their steps) and its cleared warnings."""

    days: int
    page: int
    pages: int
    total: int
    alarms: list[dict[str, Any]]  # each with "history": [{at, action, actor, ...}]
    warnings: list[dict[str, Any]]
    labels: dict[str, PointLabel]


async def history_view(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    now: datetime,
    catalog: Catalog,
    *,
    days: int = 30,
    page: int = 0,
    lang: str = "zh",
) -> History | None:
    """Closed alarms raised in the last ``days`` (newest first, one page), cleared warnings of
    the same period; None when the enterprise is not the caller's."""
    if await enterprise_header(conn, scope, credit_code) is None:
        return None
    since = now - timedelta(days=days)
    f = AlarmFilter(credit_code=credit_code, states=("CLOSED",), since=since)
    total, _ = await alarm_store.list_alarms(conn, scope, f, now, limit=1)
    pages = max(1, -(-total // HISTORY_PAGE))
    page = min(max(page, 0), pages - 1)
    _, rows = await alarm_store.list_alarms(
        conn, scope, f, now, limit=HISTORY_PAGE, offset=page * HISTORY_PAGE
    )
    alarms = [await alarm_store.get_alarm(conn, scope, int(r["id"]), now) for r in rows]
    _, cleared = await warnings_store.list_warnings(
        conn,
        scope,
        WarningFilter(credit_code=credit_code, states=("CLEARED",)),
        now,
        limit=CLEARED_WARNINGS_LIMIT,
    )
    warnings = [w for w in cleared if w["raised_at"] >= since]
    labels = await point_labels(conn, scope, credit_code, catalog, lang)
    return History(days, page, pages, total, alarms, warnings, labels)
