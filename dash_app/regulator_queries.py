"""What the regulator's spot check, one-screen view and supervision pages read (监管端).

Like ``dash_app.enterprise_queries`` (whose ``run`` the pages use), every function is ``async``
over one psycopg ``AsyncConnection``, takes the caller's ``Scope`` and treats "outside the scope"
exactly like "does not exist". The platform's own functions do the work wherever they exist
(``twins.queries`` for the registry's enterprise filters, ``risk.alarms`` / ``risk.warnings_store``
for alarms and warnings, ``risk.cleaning`` for check-ins, ``connectors.video`` to sign live links);
what is added here is what those lack: the spot check's risk / online / alarm / warning filters,
the parts of an enterprise with their live state, the escalation records of a page of warnings,
and photo thumbnails. SQL is composed with ``psycopg.sql`` (literals, never user text in SQL).
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from PIL import Image
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from connectors.video import VideoError, issue_grant, pick_live_kind
from dash_app.enterprise_queries import (
    EnterpriseHeader,
    PlantView,
    PointRow,
    enterprise_header,
    plant,
)
from device_catalog import Catalog
from risk.alarms import AlarmFilter, get_alarm, list_alarms
from risk.cleaning import CleaningKpi, enterprise_kpi, list_tasks
from risk.model import LEVELS
from risk.statistics import china_day
from risk.warnings_store import WarningFilter, get_warning, list_warnings
from twins.photos import PhotoError, PhotoStore, get_photo
from twins.queries import EnterpriseFilter, enterprise_conditions
from twins.regions import Region, ancestry, is_known_adcode, region, scope_prefix
from twins.scope import Scope

__all__ = [
    "UNKNOWN_LEVEL",
    "CameraView",
    "EnterpriseRow",
    "GatewayState",
    "LiveLinks",
    "OneScreen",
    "SpotFilter",
    "SystemState",
    "Thumbnail",
    "alarm_detail",
    "enterprise_cameras",
    "enterprise_names",
    "escalations_of",
    "industry_options",
    "one_screen",
    "photo_ids",
    "region_options",
    "search_enterprises",
    "supervision_alarms",
    "supervision_warnings",
    "thumbnails",
    "warning_detail",
]

log = logging.getLogger(__name__)

UNKNOWN_LEVEL: Final = "unknown"  # an enterprise not evaluated yet (未研判)
# worst first: a spot check lists the red enterprises before the blue ones
_LEVEL_ORDER: Final = (*reversed(LEVELS), UNKNOWN_LEVEL)
VIDEO_PATH: Final = "/api/v1/video/"  # the API's route that opens a signed video grant
THUMBNAIL_PX: Final = 480  # [DEFAULT] the longest side of a feedback photo shown in the page
_PHOTO_REF: Final = re.compile(r"^(?:\d+|.*/photos/(\d+)/?)$")


# ================================================================ spot check (在线抽查)


@dataclass(frozen=True)
class SpotFilter:
    """What a regulator searches its enterprises by (all optional, combined with AND)."""

    region: str | None = None  # an adcode within the jurisdiction
    industry: str | None = None
    workers_min: int | None = None
    workers_max: int | None = None
    levels: tuple[str, ...] = ()  # red, orange, yellow, blue, unknown
    dust_type: str | None = None
    online: bool | None = None
    open_alarms: bool | None = None  # has (True) / has no (False) alarm whose loop is open
    open_warnings: bool | None = None  # has / has no warning not yet cleared
    q: str | None = None  # part of the name, or the start of the credit code


@dataclass(frozen=True)
class EnterpriseRow:
    """One enterprise found by a spot check, with what the result table shows."""

    credit_code: str
    name: str
    adcode: str
    region_name: str
    industry: str | None
    dust_types: tuple[str, ...]
    dust_workers: int | None
    level: str  # red, orange, yellow, blue or unknown
    score: float | None
    online: bool
    open_alarms: int
    open_warnings: int


def _risk_level() -> sql.Composable:
    return sql.SQL("coalesce(features #>> '{{risk,properties,level}}', {})").format(
        sql.Literal(UNKNOWN_LEVEL)
    )


def _online() -> sql.Composable:
    return sql.SQL("coalesce((features #>> '{{connectivity,properties,online}}')::boolean, false)")


_OPEN_ALARMS: Final = sql.SQL(
    "(SELECT count(*) FROM alarms a WHERE a.credit_code = things.credit_code"
    " AND a.state <> 'CLOSED')"
)
_OPEN_WARNINGS: Final = sql.SQL(
    "(SELECT count(*) FROM warnings w WHERE w.credit_code = things.credit_code"
    " AND w.state <> 'CLEARED')"
)


def _has(subquery: sql.Composable, wanted: bool) -> sql.Composable:
    return sql.SQL("{} {} 0").format(subquery, sql.SQL(">" if wanted else "="))


def _spot_conditions(f: SpotFilter) -> list[sql.Composable]:
    """The registry's enterprise conditions, then risk level, online state, alarms, warnings."""
    if f.region and not is_known_adcode(f.region):
        return [sql.SQL("false")]  # a forged region code finds nothing (it names no region)
    registry = EnterpriseFilter(
        region=scope_prefix(f.region) if f.region else None,
        industry=f.industry or None,
        dust_type=f.dust_type or None,
        workers_min=f.workers_min,
        workers_max=f.workers_max,
        q=(f.q or "").strip() or None,
    )
    conds = enterprise_conditions(registry)
    if f.levels:
        conds.append(sql.SQL("{} = ANY({})").format(_risk_level(), sql.Literal(list(f.levels))))
    if f.online is not None:
        conds.append(sql.SQL("{} = {}").format(_online(), sql.Literal(f.online)))
    if f.open_alarms is not None:
        conds.append(_has(_OPEN_ALARMS, f.open_alarms))
    if f.open_warnings is not None:
        conds.append(_has(_OPEN_WARNINGS, f.open_warnings))
    return conds


def _level_rank() -> sql.Composable:
    cases = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(level), sql.Literal(i))
        for i, level in enumerate(_LEVEL_ORDER)
    )
    return sql.SQL("CASE {} {} END").format(_risk_level(), cases)


def _region_name(adcode: str) -> str:
    return region(adcode).name if is_known_adcode(adcode) else adcode


async def search_enterprises(
    conn: AsyncConnection[Any], scope: Scope, f: SpotFilter, *, limit: int = 20, offset: int = 0
) -> tuple[int, list[EnterpriseRow]]:
    """Enterprises of the caller's jurisdiction matching the filter (worst risk first, then by
    name) and how many match in all."""
    where = sql.SQL(" AND ").join(
        [sql.SQL("kind = 'enterprise'"), scope.where(), *_spot_conditions(f)]
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("SELECT count(*) AS n FROM things WHERE {}").format(where))
        counted = await cur.fetchone()
        await cur.execute(
            sql.SQL(
                "SELECT credit_code, adcode, attributes, {level} AS level,"
                " (features #>> '{{risk,properties,score}}')::float8 AS score,"
                " {online} AS online, {alarms} AS open_alarms, {warnings} AS open_warnings"
                " FROM things WHERE {where}"
                " ORDER BY {rank}, attributes ->> 'name', credit_code LIMIT {limit} OFFSET {offset}"
            ).format(
                level=_risk_level(),
                online=_online(),
                alarms=_OPEN_ALARMS,
                warnings=_OPEN_WARNINGS,
                where=where,
                rank=_level_rank(),
                limit=sql.Literal(limit),
                offset=sql.Literal(offset),
            )
        )
        rows = await cur.fetchall()
    found = [
        EnterpriseRow(
            credit_code=r["credit_code"],
            name=r["attributes"].get("name") or r["credit_code"],
            adcode=r["adcode"],
            region_name=_region_name(r["adcode"]),
            industry=r["attributes"].get("industry"),
            dust_types=tuple(r["attributes"].get("dust_types") or ()),
            dust_workers=r["attributes"].get("dust_workers"),
            level=str(r["level"]),
            score=r["score"],
            online=bool(r["online"]),
            open_alarms=int(r["open_alarms"]),
            open_warnings=int(r["open_warnings"]),
        )
        for r in rows
    ]
    return (int(counted["n"]) if counted else 0), found


def _within(scope: Scope, r: Region) -> bool:
    if r.level == "country":
        return False
    return scope.role == "admin" or scope_prefix(r.adcode).startswith(scope.adcode_prefix or "")


async def region_options(conn: AsyncConnection[Any], scope: Scope) -> list[Region]:
    """The regions of the jurisdiction that hold enterprises, by adcode, to narrow a search to.

    A municipality's placeholder city (上海市 under 上海市) is left out: it covers the very same
    enterprises as its province.
    """
    query = sql.SQL("SELECT DISTINCT adcode FROM things WHERE kind = 'enterprise' AND {}").format(
        scope.where()
    )
    async with conn.cursor() as cur:
        await cur.execute(query)
        codes = [str(c) for (c,) in await cur.fetchall() if c and is_known_adcode(str(c))]
    found: dict[str, Region] = {}
    for code in codes:
        chain = ancestry(code)
        for parent, r in zip([None, *chain], chain, strict=False):
            if _within(scope, r) and not (parent is not None and parent.name == r.name):
                found[r.adcode] = r
    return [found[c] for c in sorted(found)]


async def industry_options(conn: AsyncConnection[Any], scope: Scope) -> list[str]:
    """The industries (国民经济行业分类) the jurisdiction's enterprises are registered in."""
    query = sql.SQL(
        "SELECT DISTINCT attributes ->> 'industry' FROM things"
        " WHERE kind = 'enterprise' AND {} AND attributes ? 'industry' ORDER BY 1"
    ).format(scope.where())
    async with conn.cursor() as cur:
        await cur.execute(query)
        return [str(i) for (i,) in await cur.fetchall() if i]


# ================================================================ one screen (一屏汇聚)


@dataclass(frozen=True)
class SystemState:
    """A dust-removal system's running state: its fan signal (FAN_RUN), points online, alarms."""

    system_code: str
    name: str
    collector: str | None
    running: bool | None  # None: no running signal registered, or no value yet
    running_since: str | None  # ISO time of the running signal's value
    points_online: int
    points: int
    open_alarms: int  # points of the system with an open alarm


@dataclass(frozen=True)
class GatewayState:
    """A collection gateway (数采网关) and whether it is reporting."""

    gateway_id: str
    name: str | None
    transport: str | None
    upload_period_s: int | None
    online: bool | None
    last_seen: str | None


@dataclass(frozen=True)
class CameraView:
    """A camera as a regulator may see it: its connectivity and a signed live URL, never its
    raw links (which may carry the video service's credentials)."""

    gb28181_id: str
    name: str
    system_code: str | None
    online: bool | None
    last_check: str | None
    error: str | None
    live_url: str | None  # signed, short-lived; None when the camera has no browser link
    live_kind: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class LiveLinks:
    """How to sign a camera's live link for a browser: the platform's secret, the API's base URL
    (the grant is opened by the API's video route) and how long the URL works."""

    secret: str
    api_url: str
    ttl: timedelta

    def sign(
        self, gb28181_id: str, attributes: dict[str, Any], now: datetime
    ) -> tuple[str, str, datetime] | None:
        """(URL, link kind, expiry) of the camera's live stream; None when it has none to give."""
        try:
            kind = pick_live_kind(attributes)
            token, grant = issue_grant(self.secret, gb28181_id, kind, now, ttl=self.ttl)
        except VideoError as err:
            log.info("camera %s: no live link to sign (%s)", gb28181_id, type(err).__name__)
            return None
        return f"{self.api_url.rstrip('/')}{VIDEO_PATH}{token}", kind, grant.expires


@dataclass(frozen=True)
class OneScreen:
    """Everything about one enterprise on one screen (一屏汇聚)."""

    header: EnterpriseHeader
    attributes: dict[str, Any]
    risk_level: str
    risk_score: float | None
    risk_evaluated_at: str | None
    online: bool | None
    plant: PlantView
    systems: tuple[SystemState, ...]
    gateways: tuple[GatewayState, ...]
    cameras: tuple[CameraView, ...]
    alarms_total: int
    alarms: list[dict[str, Any]]  # newest first, each with its history
    warnings_total: int
    warnings: list[dict[str, Any]]  # newest first, each with its history
    cleaning_total: int
    cleaning: list[dict[str, Any]]  # recent cleaning tasks with their check-ins
    cleaning_kpi: CleaningKpi


def system_states(view: PlantView, running_signal: str) -> tuple[SystemState, ...]:
    """Each system's running state from its points (the fan's running signal decides)."""
    out = []
    for s in view.systems:
        fan: PointRow | None = next((p for p in s.points if p.indicator == running_signal), None)
        running = None
        if fan is not None and fan.value is not None and fan.online is not False:
            running = fan.value >= 1
        out.append(
            SystemState(
                system_code=s.system_code,
                name=s.name,
                collector=s.collector,
                running=running,
                running_since=fan.ts if fan is not None else None,
                points_online=sum(1 for p in s.points if p.online),
                points=len(s.points),
                open_alarms=sum(1 for p in s.points if p.alarm_open),
            )
        )
    return tuple(out)


async def _parts(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, kind: str
) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT attributes, features FROM things WHERE kind = {kind} AND credit_code = {cc}"
        " AND {where} ORDER BY thing_id"
    ).format(kind=sql.Literal(kind), cc=sql.Literal(credit_code), where=scope.where())
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query)
        return list(await cur.fetchall())


def _connectivity(features: dict[str, Any]) -> dict[str, Any]:
    return dict((features.get("connectivity") or {}).get("properties") or {})


def _camera(row: dict[str, Any], links: LiveLinks, now: datetime) -> CameraView:
    a, c = row["attributes"], _connectivity(row["features"])
    gb = str(a["gb28181_id"])
    signed = links.sign(gb, a, now)
    return CameraView(
        gb28181_id=gb,
        name=a.get("name") or gb,
        system_code=a.get("system_code"),
        online=c.get("online"),
        last_check=c.get("last_check"),
        error=c.get("error"),
        live_url=signed[0] if signed else None,
        live_kind=signed[1] if signed else None,
        expires_at=signed[2] if signed else None,
    )


def _gateway(row: dict[str, Any]) -> GatewayState:
    a, c = row["attributes"], _connectivity(row["features"])
    return GatewayState(
        gateway_id=str(a.get("gateway_id")),
        name=a.get("name"),
        transport=a.get("transport"),
        upload_period_s=a.get("upload_period_s"),
        online=c.get("online"),
        last_seen=c.get("last_seen"),
    )


async def enterprise_cameras(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, links: LiveLinks, now: datetime
) -> tuple[CameraView, ...]:
    """The enterprise's cameras the scope sees, each with a freshly signed live URL."""
    rows = await _parts(conn, scope, credit_code, "camera")
    return tuple(_camera(r, links, now) for r in rows)


async def _with_history(
    conn: AsyncConnection[Any], scope: Scope, alarms: Sequence[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    return [await get_alarm(conn, scope, int(a["id"]), now) for a in alarms]


async def one_screen(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    *,
    catalog: Catalog,
    links: LiveLinks,
    now: datetime,
    lang: str = "zh",
    recent: int = 10,
) -> OneScreen | None:
    """The enterprise on one screen; None when it does not exist or lies outside the scope."""
    header = await enterprise_header(conn, scope, credit_code)
    if header is None:
        return None
    record = await _parts(conn, scope, credit_code, "enterprise")
    attributes = record[0]["attributes"] if record else {}
    features = record[0]["features"] if record else {}
    risk = (features.get("risk") or {}).get("properties") or {}
    the_plant = await plant(conn, scope, credit_code, catalog, lang)
    gateways = [_gateway(r) for r in await _parts(conn, scope, credit_code, "gateway")]
    alarms_total, alarms = await list_alarms(
        conn, scope, AlarmFilter(credit_code=credit_code), now, limit=recent
    )
    warnings_total, warnings = await list_warnings(
        conn, scope, WarningFilter(credit_code=credit_code), now, limit=recent
    )
    cleaning_total, cleaning = await list_tasks(
        conn,
        scope,
        credit_code,
        now - timedelta(days=7),
        now,
        now,
        newest_first=True,
        limit=recent,
    )
    kpi = await enterprise_kpi(conn, scope, credit_code, china_day(now), now)
    return OneScreen(
        header=header,
        attributes=attributes,
        risk_level=risk.get("level") or UNKNOWN_LEVEL,
        risk_score=risk.get("score"),
        risk_evaluated_at=risk.get("evaluated_at"),
        online=_connectivity(features).get("online"),
        plant=the_plant,
        systems=system_states(the_plant, catalog.running_signal),
        gateways=tuple(gateways),
        cameras=await enterprise_cameras(conn, scope, credit_code, links, now),
        alarms_total=alarms_total,
        alarms=await _with_history(conn, scope, alarms, now),
        warnings_total=warnings_total,
        warnings=[await get_warning(conn, scope, int(w["id"]), now) for w in warnings],
        cleaning_total=cleaning_total,
        cleaning=cleaning,
        cleaning_kpi=kpi,
    )


# ================================================================ supervision (督办)


async def enterprise_names(
    conn: AsyncConnection[Any], scope: Scope, credit_codes: Iterable[str]
) -> dict[str, str]:
    """The names of these enterprises the scope sees, by credit code."""
    codes = sorted(set(credit_codes))
    if not codes:
        return {}
    query = sql.SQL(
        "SELECT credit_code, coalesce(attributes ->> 'name', credit_code) FROM things"
        " WHERE kind = 'enterprise' AND credit_code = ANY({}) AND {}"
    ).format(sql.Literal(codes), scope.where())
    async with conn.cursor() as cur:
        await cur.execute(query)
        return {str(cc): str(name) for cc, name in await cur.fetchall()}


async def escalations_of(
    conn: AsyncConnection[Any], warning_ids: Iterable[int]
) -> dict[int, list[dict[str, Any]]]:
    """The escalation (督办) records of these warnings, oldest first: tier, regulator, when.

    The ids must come from a scoped read (``list_warnings``, ``get_warning``): this only adds
    their history rows.
    """
    ids = sorted(set(warning_ids))
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return found
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT warning_id, at, detail FROM warning_history"
            " WHERE warning_id = ANY(%s) AND action = 'escalated' ORDER BY at, id",
            (ids,),
        )
        for r in await cur.fetchall():
            found[int(r["warning_id"])].append({"at": r["at"], **(r["detail"] or {})})
    return found


async def supervision_alarms(
    conn: AsyncConnection[Any],
    scope: Scope,
    f: AlarmFilter,
    now: datetime,
    *,
    limit: int = 20,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of the jurisdiction's alarms (``risk.alarms.list_alarms``) with enterprise names."""
    total, rows = await list_alarms(conn, scope, f, now, limit=limit, offset=offset)
    names = await enterprise_names(conn, scope, (r["credit_code"] for r in rows))
    return total, [{**r, "enterprise": names.get(r["credit_code"], r["credit_code"])} for r in rows]


MAX_OVERDUE_SCAN: Final = 2000  # open warnings read to find the overdue ones (see below)


async def supervision_warnings(
    conn: AsyncConnection[Any],
    scope: Scope,
    f: WarningFilter,
    now: datetime,
    *,
    overdue_only: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of the jurisdiction's warnings with enterprise names and escalation records.

    ``list_warnings`` has no overdue filter; overdue-only reads up to ``MAX_OVERDUE_SCAN`` open
    warnings and keeps those the store flags as overdue, so the flags stay the store's.
    """
    if overdue_only:
        _, open_rows = await list_warnings(conn, scope, f, now, limit=MAX_OVERDUE_SCAN)
        due = [r for r in open_rows if r["ack_overdue"] or r["feedback_overdue"]]
        total, rows = len(due), due[offset : offset + limit]
    else:
        total, rows = await list_warnings(conn, scope, f, now, limit=limit, offset=offset)
    names = await enterprise_names(conn, scope, (r["credit_code"] for r in rows))
    escalations = await escalations_of(conn, (int(r["id"]) for r in rows))
    return total, [
        {
            **r,
            "enterprise": names.get(r["credit_code"], r["credit_code"]),
            "escalations": escalations[int(r["id"])],
        }
        for r in rows
    ]


async def alarm_detail(
    conn: AsyncConnection[Any], scope: Scope, alarm_id: int, now: datetime
) -> dict[str, Any]:
    """One alarm with its history and enterprise name (``AlarmNotFoundError`` outside scope)."""
    alarm = await get_alarm(conn, scope, alarm_id, now)
    names = await enterprise_names(conn, scope, [alarm["credit_code"]])
    return {**alarm, "enterprise": names.get(alarm["credit_code"], alarm["credit_code"])}


async def warning_detail(
    conn: AsyncConnection[Any], scope: Scope, warning_id: int, now: datetime
) -> dict[str, Any]:
    """One warning with its history, escalations and enterprise name (not found outside scope)."""
    warning = await get_warning(conn, scope, warning_id, now)
    names = await enterprise_names(conn, scope, [warning["credit_code"]])
    escalations = await escalations_of(conn, [warning_id])
    return {
        **warning,
        "enterprise": names.get(warning["credit_code"], warning["credit_code"]),
        "escalations": escalations[warning_id],
    }


# ================================================================ feedback photos


@dataclass(frozen=True)
class Thumbnail:
    """A feedback photo made small enough to show in the page (a data: URI), or why not."""

    photo_id: int
    data_uri: str | None  # None: not found in the caller's jurisdiction, or unreadable


def photo_ids(refs: Iterable[Any]) -> list[int]:
    """The stored photos a feedback names: ids, or URLs ending in ``/photos/{id}``."""
    out: list[int] = []
    for ref in refs:
        match = _PHOTO_REF.match(str(ref).strip())
        if match is not None:
            out.append(int(match.group(1) or str(ref).strip()))
    return out


def _shrink(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue()


async def thumbnails(
    conn: AsyncConnection[Any], scope: Scope, refs: Iterable[Any], store: PhotoStore
) -> list[Thumbnail]:
    """The feedback's photos as small JPEGs, each only when the caller's jurisdiction covers it
    (``twins.photos.get_photo``, the rule the API's ``/api/v1/photos/{id}`` applies)."""
    out = []
    for photo_id in photo_ids(refs):
        try:
            found = await get_photo(conn, scope, photo_id)
            data = await asyncio.to_thread(store.get, found.key)
            small = await asyncio.to_thread(_shrink, data)
        except (PhotoError, OSError, ValueError, Image.DecompressionBombError) as err:
            log.warning("photo %s not shown: %s", photo_id, type(err).__name__)
            out.append(Thumbnail(photo_id, None))
            continue
        uri = "data:image/jpeg;base64," + base64.b64encode(small).decode("ascii")
        out.append(Thumbnail(photo_id, uri))
    return out
