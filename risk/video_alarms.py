"""Video alarms (视频AI报警) with their snapshots, and the cameras that look at an alarm.

A video AI alarm (protocol.md §9 ``videosData``: smoke, fire, a person where none may be) is an
observation at one instant: the service sends no "ended". It is raised and its condition cleared
at the same time, as an alarm of type ``VIDEO`` on the camera twin, so its closed loop works like
any other: the enterprise acknowledges and feeds back, and a fed-back ``HA`` alarm closes. Its
snapshot (≤ 500 KB JPEG) is kept in ``video_snapshots`` with the alarm it belongs to; a repeated
alarm of the same camera joins the open one and adds its snapshot.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from risk.alarms import Change, Deadlines, Subject, apply_changes, get_alarm
from risk.errors import RiskError
from twins.scope import Scope

__all__ = [
    "MAX_SNAPSHOT_BYTES",
    "PLAYBACK_AFTER",
    "PLAYBACK_BEFORE",
    "VIDEO_ALARM_LEVEL",
    "VIDEO_ALARM_TYPE",
    "AlarmCameras",
    "SnapshotNotFoundError",
    "SnapshotRefusedError",
    "UnknownCameraError",
    "VideoAlarm",
    "cameras_for_alarm",
    "check_snapshot",
    "get_snapshot",
    "record_video_alarm",
]

MAX_SNAPSHOT_BYTES: Final = 500 * 1024  # domain.md §7: a snapshot is at most 500 KB
VIDEO_ALARM_TYPE: Final = "VIDEO"
VIDEO_ALARM_LEVEL: Final = "HA"  # [DEFAULT] closes by itself once fed back
PLAYBACK_BEFORE: Final = timedelta(minutes=2)  # [DEFAULT] playback starts before the alarm
PLAYBACK_AFTER: Final = timedelta(minutes=5)  # [DEFAULT] and ends after it was last seen
_JPEG_START: Final = b"\xff\xd8\xff"  # SOI and the first marker
_JPEG_END: Final = b"\xff\xd9"  # EOI


class SnapshotRefusedError(RiskError):
    """A snapshot that is not a JPEG or is larger than 500 KB."""


class SnapshotNotFoundError(RiskError):
    """No such snapshot, or the caller may not see it."""


class UnknownCameraError(RiskError):
    """A video alarm names a camera that is not registered (or was removed)."""


def check_snapshot(data: bytes) -> None:
    """Refuse a snapshot that is empty, larger than 500 KB, or not a whole JPEG."""
    if not data:
        raise SnapshotRefusedError("the snapshot is empty / 抓图为空")
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotRefusedError(
            f"the snapshot is {len(data)} bytes; at most {MAX_SNAPSHOT_BYTES} (500 KB)"
            " / 抓图超过 500 KB"
        )
    # cameras pad after the end marker, so EOI is looked for near the end, not at the last byte
    if not data.startswith(_JPEG_START) or _JPEG_END not in data[-4096:]:
        raise SnapshotRefusedError("the snapshot is not a (whole) JPEG image / 抓图不是 JPEG 图片")


@dataclass(frozen=True)
class VideoAlarm:
    """Where a video AI alarm went: its alarm and its snapshot; ``repeat`` for a retried post."""

    alarm_id: int
    snapshot_id: int | None
    repeat: bool = False


async def record_video_alarm(
    conn: AsyncConnection[Any],
    camera_thing_id: str,
    alarm_kind: str,
    at: datetime,
    snapshot: bytes | None,
    now: datetime,
    *,
    credit_code: str | None = None,
    content: str | None = None,
    deadlines: Deadlines | None = None,
) -> VideoAlarm:
    """Store a video AI alarm's snapshot and raise its alarm on the camera, in one transaction.

    The same snapshot of the same camera at the same time (a retried post) is stored once and
    raises nothing again. ``credit_code``: the enterprise that reported it (a gateway), whose
    camera it must be. SnapshotRefusedError and UnknownCameraError before anything is written.
    """
    kind = alarm_kind.strip()[:64] or "ALARM"
    if snapshot is not None:
        check_snapshot(snapshot)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT credit_code, adcode, attributes ->> 'system_code' AS system_code,"
            " attributes ->> 'gb28181_id' AS gb28181_id FROM things"
            " WHERE thing_id = %s AND kind = 'camera' AND deleted_at IS NULL",
            (camera_thing_id,),
        )
        camera = await cur.fetchone()
        if camera is None or credit_code not in (None, camera["credit_code"]):
            raise UnknownCameraError(f"camera {camera_thing_id} is not registered / 摄像机未登记")
        snapshot_id: int | None = None
        if snapshot is not None:
            await cur.execute(
                "INSERT INTO video_snapshots (thing_id, credit_code, adcode, alarm_kind, taken_at,"
                " content_type, bytes, sha256) VALUES (%s, %s, %s, %s, %s, 'image/jpeg', %s, %s)"
                " ON CONFLICT (thing_id, taken_at, sha256) DO NOTHING RETURNING id",
                (
                    camera_thing_id,
                    camera["credit_code"],
                    camera["adcode"],
                    kind,
                    at,
                    snapshot,
                    hashlib.sha256(snapshot).hexdigest(),
                ),
            )
            row = await cur.fetchone()
            if row is None:
                return await _stored_already(cur, camera_thing_id, at, snapshot)
            snapshot_id = int(row["id"])
        subject = Subject(
            camera_thing_id,
            camera["credit_code"],
            camera["adcode"],
            system_code=camera["system_code"],
        )
        detail = {
            "kind": kind,
            "camera": camera["gb28181_id"],
            "snapshot_id": snapshot_id,
            **({"content": content[:500]} if content else {}),
        }
        raised = Change("raise", VIDEO_ALARM_TYPE, VIDEO_ALARM_LEVEL, at, detail=detail)
        cleared = Change("clear", VIDEO_ALARM_TYPE, VIDEO_ALARM_LEVEL, at)
        await apply_changes(
            conn, [(subject, raised), (subject, cleared)], now, _deadlines(deadlines)
        )
        await cur.execute(
            "SELECT id FROM alarms WHERE thing_id = %s AND alarm_type = %s AND state <> 'CLOSED'",
            (camera_thing_id, VIDEO_ALARM_TYPE),
        )
        alarm = await cur.fetchone()
        assert alarm is not None  # just raised, in this transaction
        alarm_id = int(alarm["id"])
        if snapshot_id is not None:
            await cur.execute(
                "UPDATE video_snapshots SET alarm_id = %s WHERE id = %s", (alarm_id, snapshot_id)
            )
    return VideoAlarm(alarm_id, snapshot_id)


def _deadlines(given: Deadlines | None) -> Deadlines:
    return given if given is not None else Deadlines()


async def _stored_already(cur: Any, camera_thing_id: str, at: datetime, data: bytes) -> VideoAlarm:
    await cur.execute(
        "SELECT id, alarm_id FROM video_snapshots WHERE thing_id = %s AND taken_at = %s"
        " AND sha256 = %s",
        (camera_thing_id, at, hashlib.sha256(data).hexdigest()),
    )
    row = await cur.fetchone()
    return VideoAlarm(int(row["alarm_id"] or 0), int(row["id"]), repeat=True)


@dataclass(frozen=True)
class AlarmCameras:
    """The cameras that look at an alarm, the playback window around it, and its snapshots."""

    alarm: dict[str, Any]
    same_system: bool  # False: none on the alarm's system, so the enterprise's cameras
    cameras: list[dict[str, Any]]
    start: datetime
    end: datetime
    snapshots: list[dict[str, Any]]


async def cameras_for_alarm(
    conn: AsyncConnection[Any], scope: Scope, alarm_id: int, now: datetime
) -> AlarmCameras:
    """The cameras on the alarm's dust-removal system (else all its enterprise's), with the window.

    The window runs from 2 minutes before the alarm was raised to 5 minutes after it was last seen,
    never past ``now``. AlarmNotFoundError outside the caller's jurisdiction.
    """
    alarm = await get_alarm(conn, scope, alarm_id, now)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT thing_id, attributes ->> 'gb28181_id' AS gb28181_id,"
            " attributes ->> 'name' AS name, attributes ->> 'system_code' AS system_code,"
            " attributes ? 'playback_template' AS has_playback,"
            " coalesce(features #> '{connectivity,properties}', '{}'::jsonb) AS connectivity"
            " FROM things WHERE kind = 'camera' AND deleted_at IS NULL AND credit_code = %s"
            " ORDER BY attributes ->> 'system_code', thing_id",
            (alarm["credit_code"],),
        )
        cameras = await cur.fetchall()
        await cur.execute(
            "SELECT id, thing_id, alarm_kind, taken_at, octet_length(bytes) AS size, sha256"
            " FROM video_snapshots WHERE alarm_id = %s ORDER BY taken_at, id",
            (alarm_id,),
        )
        snapshots = await cur.fetchall()
    same = [c for c in cameras if alarm["system_code"] and c["system_code"] == alarm["system_code"]]
    for camera in cameras:
        camera["connectivity"] = _connectivity(camera["connectivity"])
    start = alarm["raised_at"] - PLAYBACK_BEFORE
    end = min(now, (alarm["last_seen_at"] or now) + PLAYBACK_AFTER)
    return AlarmCameras(alarm, bool(same), same or cameras, start, max(end, start), snapshots)


def _connectivity(value: Any) -> dict[str, Any]:
    props = json.loads(value) if isinstance(value, str) else dict(value or {})
    return {k: props.get(k) for k in ("online", "last_check", "error")}


async def get_snapshot(
    conn: AsyncConnection[Any], scope: Scope, snapshot_id: int
) -> dict[str, Any]:
    """One snapshot (bytes, type, time, digest) the scope sees; SnapshotNotFoundError otherwise."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, thing_id, credit_code, adcode, alarm_id, alarm_kind, taken_at,"
            " content_type, bytes, sha256 FROM video_snapshots WHERE id = %s",
            (snapshot_id,),
        )
        row = await cur.fetchone()
    if row is None or not scope.sees("camera", row["adcode"], row["credit_code"]):
        raise SnapshotNotFoundError(f"no snapshot {snapshot_id} / 抓图不存在")
    return dict(row)
