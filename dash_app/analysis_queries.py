"""Read-side queries of the comprehensive analysis (``/analysis``, 综合分析), within a Scope.

For a region in the caller's jurisdiction, per sub-region and in total: enterprises and
dust-removal systems that should be connected and are (接入情况), online rates now and over the
last 30 days (from ``daily_stats``, written by ``risk.statistics``), completeness of the
enterprises' basic data (基础数据完整性), and sensor data quality over the last 7 days
(传感数据质量).

Definitions, as the page states them:

- *should be connected* (应接入): every registered enterprise that is not closed, and its
  dust-removal systems; the national must-connect scope (重点企业) is counted apart;
- *connected* (已接入): an enterprise with a gateway that has sent data; a system with a point
  that has sent data;
- *online* (在线): the twin's ``connectivity.online`` now, as the upkeep decides it
  (``dt_detect_offline``: data within max(3 × upload period, 15 min)); a system is online while
  one of its points is.

Plain SQL composed of literals (``Scope.where()`` holds a LIKE pattern, so no parameters) over a
short-lived psycopg connection, as in ``dash_app.queries``. Nothing here builds a figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from dash_app.queries import adcode_under, visible_region
from device_catalog import Catalog, UnknownIndicatorError
from risk.statistics import china_day
from twins.regions import COUNTRY, MINISTRY_SCOPE, children, region, scope_prefix
from twins.schemas import is_key_enterprise
from twins.scope import Scope

__all__ = [
    "FREQUENT_ALARMS",
    "MAX_LISTED",
    "QUALITY_DAYS",
    "REQUIRED_FIELDS",
    "STATS_DAYS",
    "Analysis",
    "Area",
    "Completeness",
    "Coverage",
    "EnterpriseGap",
    "Listing",
    "PointIssue",
    "QualitySummary",
    "StatsDay",
    "analysis",
    "areas",
    "missing_fields",
]

# [DEFAULT] thresholds, stated on the page next to the tables they shape
FREQUENT_ALARMS: Final = 5  # alarms (repeats included) on one point in QUALITY_DAYS: "frequent"
QUALITY_DAYS: Final = 7
STATS_DAYS: Final = 30  # the online-rate trend
MAX_LISTED: Final = 200  # rows per list (page and export alike); the total is always given
WORST_LISTED: Final = 50  # enterprises in the "least complete" list

# The basic data (基础信息, domain.md §6) every connected enterprise should have filled in: the
# field's name (string key "ana.field.<name>") and its path in the enterprise's attributes.
# "systems" is not an attribute: at least one dust-removal system registered.
REQUIRED_FIELDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("address", ("address",)),
    ("location", ("location",)),
    ("industry", ("industry",)),
    ("regulated_industry", ("regulated_industry",)),
    ("legal_representative", ("legal_representative",)),
    ("principal", ("principal", "name")),
    ("principal_phone", ("principal", "phone")),
    ("safety_officer", ("safety_officer", "name")),
    ("safety_officer_phone", ("safety_officer", "phone")),
    ("staff_total", ("staff_total",)),
    ("safety_staff", ("safety_staff",)),
    ("dust_workers", ("dust_workers",)),
    ("max_per_shift", ("max_per_shift",)),
    ("dust_types", ("dust_types",)),
    ("processes", ("processes",)),
    ("scale", ("scale",)),
    ("systems", ()),
)
# 0 is what the registry stores when nobody said: a dust-explosion enterprise has such workers
ZERO_IS_MISSING: Final = frozenset({"dust_workers"})
BAD_QUALITY: Final = ("OVER_RANGE", "FAULT")


# ---------------------------------------------------------------- what the analysis holds


@dataclass(frozen=True)
class Area:
    """A sub-region the analysis counts by; ``adcode`` "" gathers enterprises registered
    directly under the region (in none of its sub-regions)."""

    adcode: str
    name: str
    prefix: str

    def holds(self, adcode: str | None) -> bool:
        """Whether a twin with this adcode lies in the area."""
        return adcode is not None and adcode.startswith(self.prefix)


@dataclass(frozen=True)
class Coverage:
    """Enterprises and systems that should be / are connected / are online, in one area."""

    area: Area | None  # None: the total
    enterprises: int = 0
    key_enterprises: int = 0
    connected: int = 0
    online: int = 0
    systems: int = 0
    systems_connected: int = 0
    systems_online: int = 0

    @property
    def online_rate(self) -> float | None:
        """Share of the enterprises that should be connected that are online now."""
        return self.online / self.enterprises if self.enterprises else None

    @property
    def connected_rate(self) -> float | None:
        """Share of the enterprises that should be connected that are."""
        return self.connected / self.enterprises if self.enterprises else None

    @property
    def systems_online_rate(self) -> float | None:
        """Share of the systems that should be connected that are online now."""
        return self.systems_online / self.systems if self.systems else None


@dataclass(frozen=True)
class Completeness:
    """How complete the enterprises' basic data is in one area."""

    area: Area | None  # None: the total
    enterprises: int = 0
    complete: int = 0  # enterprises missing nothing
    filled: int = 0  # required fields filled, over all enterprises

    @property
    def rate(self) -> float | None:
        """Share of the required fields filled in."""
        total = self.enterprises * len(REQUIRED_FIELDS)
        return self.filled / total if total else None


@dataclass(frozen=True)
class EnterpriseGap:
    """An enterprise and the required basic data it lacks."""

    credit_code: str
    name: str
    adcode: str
    missing: tuple[str, ...]  # field names of REQUIRED_FIELDS

    @property
    def rate(self) -> float:
        """Share of the required fields filled in."""
        return 1 - len(self.missing) / len(REQUIRED_FIELDS)


@dataclass(frozen=True)
class QualitySummary:
    """Points and their data quality in one area."""

    area: Area | None  # None: the total
    points: int = 0
    online: int = 0
    stale: int = 0  # not online now (never reported included)
    bad: int = 0  # out of range or faulty now, or such alarms in the window
    frequent: int = 0  # FREQUENT_ALARMS or more alarms in the window


@dataclass(frozen=True)
class PointIssue:
    """A point with a data-quality problem, with what the lists show of it."""

    point_id: int
    credit_code: str
    enterprise: str
    adcode: str
    system_code: str
    point_code: str
    indicator: str
    indicator_zh: str
    indicator_en: str
    quality: str | None  # now: GOOD, FAULT, MAINT, OVER_RANGE; None before any data
    online: bool
    last_seen: datetime | None  # the last valid value
    alarms: int  # in the window, repeats included
    bad_alarms: int  # out-of-range and fault alarms among them
    last_alarm: datetime | None


@dataclass(frozen=True)
class Listing:
    """The first rows of a list and how many there are in all."""

    total: int
    rows: tuple[PointIssue, ...]


@dataclass(frozen=True)
class StatsDay:
    """One day's statistics of a region (``daily_stats``, scope_kind 'region')."""

    day: date
    adcode: str
    online_rate: float | None  # mean of the enterprises' share of the day online
    completeness: float | None  # readings received / expected
    enterprises: int


@dataclass(frozen=True)
class Analysis:
    """Everything the analysis page shows and the export holds, for one region at one time."""

    adcode: str
    name: str
    now: datetime
    areas: tuple[Area, ...]
    coverage: tuple[Coverage, ...]  # per area, then the total
    completeness: tuple[Completeness, ...]  # per area, then the total
    missing_by_field: tuple[tuple[str, int], ...]  # every required field, how many lack it
    worst: tuple[EnterpriseGap, ...]  # least complete first, at most WORST_LISTED
    incomplete: int  # enterprises missing something
    quality: tuple[QualitySummary, ...]  # per area, then the total
    frequent: Listing
    bad: Listing
    stale: Listing
    stats: tuple[StatsDay, ...] = field(default=())  # the region and its areas, oldest first


# ---------------------------------------------------------------- pure helpers


def areas(adcode: str) -> list[Area]:
    """The sub-regions of ``adcode`` (the region itself when it has none)."""
    below = children(adcode) or [region(adcode)]
    return [Area(r.adcode, r.name, scope_prefix(r.adcode)) for r in below if r.adcode != COUNTRY]


def _value(attributes: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = attributes
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def missing_fields(attributes: dict[str, Any], systems: int) -> tuple[str, ...]:
    """The required basic data an enterprise lacks (names of REQUIRED_FIELDS, in their order)."""
    missing = []
    for name, path in REQUIRED_FIELDS:
        if not path:
            lacking = systems == 0
        else:
            value = _value(attributes, path)
            lacking = (
                value is None or value in ("", [], {}) or (name in ZERO_IS_MISSING and value == 0)
            )
        if lacking:
            missing.append(name)
    return tuple(missing)


def _area_of(adcode: str, found: Sequence[Area]) -> Area | None:
    return next((a for a in found if a.holds(adcode)), None)


def _stats_key(adcode: str) -> str:
    """The daily_stats scope_key of a region (the country is stored as the Ministry's code)."""
    return MINISTRY_SCOPE if adcode == COUNTRY else adcode


# ---------------------------------------------------------------- the queries


def _run(conn: psycopg.Connection[Any], query: sql.Composed) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        return cur.fetchall()


def _kind(scope: Scope, kind: str, adcode: str) -> sql.Composed:
    """Live twins of one kind under ``adcode`` that the scope sees."""
    return sql.SQL("kind = {} AND {} AND {}").format(
        sql.Literal(kind), scope.where(), adcode_under(adcode)
    )


_ENTERPRISES = """
WITH ent AS (
    SELECT credit_code, adcode, attributes,
           coalesce((features #>> '{{connectivity,properties,online}}')::boolean, false) AS online
    FROM things WHERE {enterprise}
), gw AS (
    SELECT credit_code,
           bool_or(features #>> '{{connectivity,properties,last_seen}}' IS NOT NULL) AS sent
    FROM things WHERE {gateway} GROUP BY credit_code
), pt AS (
    SELECT credit_code, attributes ->> 'system_code' AS system_code,
           bool_or(features #>> '{{connectivity,properties,last_seen}}' IS NOT NULL
                   OR features #>> '{{measurement,properties,ts}}' IS NOT NULL) AS sent,
           bool_or(coalesce((features #>> '{{connectivity,properties,online}}')::boolean, false))
               AS online
    FROM things WHERE {point} GROUP BY 1, 2
), sysr AS (
    SELECT credit_code, attributes ->> 'system_code' AS system_code FROM things WHERE {system}
), sys AS (
    SELECT credit_code, count(*) AS n, count(*) FILTER (WHERE pt.sent) AS sent,
           count(*) FILTER (WHERE pt.online) AS online
    FROM sysr LEFT JOIN pt USING (credit_code, system_code) GROUP BY credit_code
)
SELECT ent.credit_code, ent.adcode, ent.attributes, ent.online,
       coalesce(gw.sent, false) AS connected, coalesce(sys.n, 0) AS systems,
       coalesce(sys.sent, 0) AS systems_connected, coalesce(sys.online, 0) AS systems_online
FROM ent LEFT JOIN gw USING (credit_code) LEFT JOIN sys USING (credit_code)
ORDER BY ent.credit_code
"""


def _enterprise_rows(
    conn: psycopg.Connection[Any], scope: Scope, adcode: str
) -> list[dict[str, Any]]:
    """The enterprises that should be connected (not closed), with their connection facts."""
    query = sql.SQL(_ENTERPRISES).format(
        enterprise=_kind(scope, "enterprise", adcode),
        gateway=_kind(scope, "gateway", adcode),
        point=_kind(scope, "point", adcode),
        system=_kind(scope, "system", adcode),
    )
    return [r for r in _run(conn, query) if r["attributes"].get("operating_state") != "closed"]


_POINTS = """
WITH pts AS (
    SELECT id, credit_code, adcode,
           coalesce(attributes ->> 'system_code', '') AS system_code,
           coalesce(attributes ->> 'point_code', thing_id) AS point_code,
           coalesce(attributes ->> 'indicator', '') AS indicator,
           features #>> '{{measurement,properties,quality}}' AS quality,
           (features #>> '{{connectivity,properties,last_seen}}')::timestamptz AS last_seen,
           coalesce((features #>> '{{connectivity,properties,online}}')::boolean, false) AS online
    FROM things WHERE {point}
), names AS (
    -- a closed enterprise's points are not expected to report (as in the connection counts)
    SELECT credit_code, coalesce(attributes ->> 'name', credit_code) AS enterprise
    FROM things WHERE {enterprise}
      AND attributes ->> 'operating_state' IS DISTINCT FROM 'closed'
), al AS (
    -- alarms raised during approved maintenance (suppressed) say nothing of the sensor
    SELECT point_id, sum(count) AS n,
           sum(count) FILTER (WHERE level IN ('OVER_RANGE', 'FAULT')
                              OR alarm_type IN ('OVER_RANGE', 'FAULT')) AS bad,
           max(last_seen_at) AS last_alarm
    FROM alarms
    WHERE point_id IS NOT NULL AND NOT suppressed AND raised_at >= {since} AND {alarms_under}
    GROUP BY point_id
), issues AS (
    SELECT pts.*, names.enterprise, coalesce(al.n, 0)::int AS alarms,
           coalesce(al.bad, 0)::int AS bad_alarms, al.last_alarm,
           coalesce(al.n, 0) >= {frequent} AS is_frequent,
           (pts.quality IN ('OVER_RANGE', 'FAULT') OR coalesce(al.bad, 0) > 0) AS is_bad,
           NOT pts.online AS is_stale
    FROM pts JOIN names USING (credit_code) LEFT JOIN al ON al.point_id = pts.id
)
"""


def _points_query(scope: Scope, adcode: str, since: datetime, tail: str) -> sql.Composed:
    return sql.SQL(_POINTS + tail).format(
        point=_kind(scope, "point", adcode),
        enterprise=_kind(scope, "enterprise", adcode),
        since=sql.Literal(since),
        alarms_under=adcode_under(adcode),
        frequent=sql.Literal(FREQUENT_ALARMS),
    )


_SUMMARY = """
SELECT adcode, count(*) AS points, count(*) FILTER (WHERE online) AS online,
       count(*) FILTER (WHERE is_stale) AS stale, count(*) FILTER (WHERE is_bad) AS bad,
       count(*) FILTER (WHERE is_frequent) AS frequent
FROM issues GROUP BY adcode
"""
# each list: its condition and its order (worst first); credit code and point code break ties
_LISTS: Final = {
    "frequent": ("is_frequent", "alarms DESC"),
    "bad": ("is_bad", "(quality IN ('OVER_RANGE', 'FAULT')) DESC, bad_alarms DESC"),
    # silent longest first; points that never reported come last (a connection matter)
    "stale": ("is_stale", "last_seen ASC NULLS LAST"),
}


def _listing(
    conn: psycopg.Connection[Any],
    scope: Scope,
    adcode: str,
    since: datetime,
    which: str,
    catalog: Catalog,
) -> Listing:
    condition, order = _LISTS[which]
    tail = (
        f"SELECT *, count(*) OVER () AS total FROM issues WHERE {condition}"
        f" ORDER BY {order}, credit_code, point_code LIMIT {MAX_LISTED}"
    )
    rows = _run(conn, _points_query(scope, adcode, since, tail))
    total = int(rows[0]["total"]) if rows else 0
    return Listing(total, tuple(_issue(r, catalog) for r in rows))


def _issue(r: dict[str, Any], catalog: Catalog) -> PointIssue:
    try:
        indicator = catalog.indicator(r["indicator"])
        zh, en = indicator.name_zh, indicator.name_en
    except UnknownIndicatorError:
        zh = en = r["indicator"]
    return PointIssue(
        point_id=int(r["id"]),
        credit_code=r["credit_code"],
        enterprise=r["enterprise"],
        adcode=r["adcode"],
        system_code=r["system_code"],
        point_code=r["point_code"],
        indicator=r["indicator"],
        indicator_zh=zh,
        indicator_en=en,
        quality=r["quality"],
        online=bool(r["online"]),
        last_seen=r["last_seen"],
        alarms=int(r["alarms"]),
        bad_alarms=int(r["bad_alarms"]),
        last_alarm=r["last_alarm"],
    )


def _stats(conn: psycopg.Connection[Any], keys: Sequence[str], now: datetime) -> list[StatsDay]:
    today = china_day(now)
    query = sql.SQL(
        "SELECT day, scope_key, online_rate, completeness, enterprises FROM daily_stats"
        " WHERE scope_kind = 'region' AND scope_key = ANY({keys}) AND day > {first}"
        " AND day <= {today} ORDER BY day, scope_key"
    ).format(
        keys=sql.Literal(list(keys)),
        first=sql.Literal(today - timedelta(days=STATS_DAYS)),
        today=sql.Literal(today),
    )
    return [
        StatsDay(
            r["day"],
            COUNTRY if r["scope_key"] == MINISTRY_SCOPE else r["scope_key"],
            r["online_rate"],
            r["completeness"],
            int(r["enterprises"]),
        )
        for r in _run(conn, query)
    ]


# ---------------------------------------------------------------- putting it together


def _tally(
    rows: Sequence[dict[str, Any]],
    found: Sequence[Area],
    make: Callable[[Area | None, Sequence[dict[str, Any]]], Any],
) -> tuple[Any, ...]:
    """One summary per area (an "unassigned" area only when something falls in none), then
    the total."""
    groups: dict[str, list[dict[str, Any]]] = {a.adcode: [] for a in found}
    stray: list[dict[str, Any]] = []
    for r in rows:
        home = _area_of(r["adcode"], found)
        (groups[home.adcode] if home else stray).append(r)
    out = [make(a, groups[a.adcode]) for a in found]
    if stray:
        out.append(make(Area("", "", ""), stray))
    out.append(make(None, rows))
    return tuple(out)


def _coverage(area: Area | None, rows: Sequence[dict[str, Any]]) -> Coverage:
    return Coverage(
        area,
        enterprises=len(rows),
        key_enterprises=sum(1 for r in rows if r["key"]),
        connected=sum(1 for r in rows if r["connected"]),
        online=sum(1 for r in rows if r["online"]),
        systems=sum(int(r["systems"]) for r in rows),
        systems_connected=sum(int(r["systems_connected"]) for r in rows),
        systems_online=sum(int(r["systems_online"]) for r in rows),
    )


def _completeness(area: Area | None, rows: Sequence[dict[str, Any]]) -> Completeness:
    return Completeness(
        area,
        enterprises=len(rows),
        complete=sum(1 for r in rows if not r["missing"]),
        filled=sum(len(REQUIRED_FIELDS) - len(r["missing"]) for r in rows),
    )


def _quality(area: Area | None, rows: Sequence[dict[str, Any]]) -> QualitySummary:
    def total(key: str) -> int:
        return sum(int(r[key]) for r in rows)

    return QualitySummary(
        area,
        points=total("points"),
        online=total("online"),
        stale=total("stale"),
        bad=total("bad"),
        frequent=total("frequent"),
    )


def analysis(
    conn: psycopg.Connection[Any],
    scope: Scope | None,
    adcode: str,
    now: datetime,
    catalog: Catalog,
) -> Analysis | None:
    """The analysis of ``adcode``; None when it is not a region of the caller's jurisdiction."""
    place = visible_region(scope, adcode)
    if scope is None or place is None:
        return None
    found = areas(adcode)
    enterprises = _enterprise_rows(conn, scope, adcode)
    for r in enterprises:
        attributes = r["attributes"]
        r["name"] = attributes.get("name") or r["credit_code"]
        r["key"] = is_key_enterprise(
            int(attributes.get("dust_workers") or 0), list(attributes.get("dust_types") or [])
        )
        r["missing"] = missing_fields(attributes, int(r["systems"]))
    since = now - timedelta(days=QUALITY_DAYS)
    summary = _run(conn, _points_query(scope, adcode, since, _SUMMARY))
    gaps = sorted(
        (
            EnterpriseGap(r["credit_code"], r["name"], r["adcode"], r["missing"])
            for r in enterprises
            if r["missing"]
        ),
        key=lambda g: (-len(g.missing), g.credit_code),
    )
    keys = [_stats_key(adcode)] + [_stats_key(a.adcode) for a in found if a.adcode != adcode]
    return Analysis(
        adcode=adcode,
        name=place.name,
        now=now,
        areas=tuple(found),
        coverage=_tally(enterprises, found, _coverage),
        completeness=_tally(enterprises, found, _completeness),
        missing_by_field=tuple(
            (name, sum(1 for r in enterprises if name in r["missing"]))
            for name, _ in REQUIRED_FIELDS
        ),
        worst=tuple(gaps[:WORST_LISTED]),
        incomplete=len(gaps),
        quality=_tally(summary, found, _quality),
        frequent=_listing(conn, scope, adcode, since, "frequent", catalog),
        bad=_listing(conn, scope, adcode, since, "bad", catalog),
        stale=_listing(conn, scope, adcode, since, "stale", catalog),
        stats=tuple(_stats(conn, keys, now)),
    )
