"""What the integrator page (集成商工作台) reads and writes, always within the caller's scope.

Gateway diagnostics are the API's (``GET /api/v1/gateways/{credit_code}/{gateway_id}/diagnostics``):
the gateway twin read through the twin store with the caller's Scope, then
``connectors.diagnostics.gateway_diagnostics`` for the counts and the dead letters. Point
registration is the API's too (``POST /api/v1/enterprises/{credit_code}/points``):
``twins.records.create_record`` on a store that applies ``twins.registry.RegistryValidator``,
so every rule of the registry (catalog, unit, collector, range, limit order) applies. The
catalog defaults shown in the form come from that same validator run without writing.

One thing is added here, as the ingest records nothing else about a gateway's clock: an estimate
of its clock offset from the readings it delivered (``clock_estimate``).
Outside the caller's scope an enterprise or a gateway is absent (None, an empty list or
``ThingNotFoundError``), exactly as one that does not exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from connectors.diagnostics import GatewayDiagnostics, gateway_diagnostics
from connectors.protocol import FUTURE_TOLERANCE
from device_catalog import (
    Catalog,
    DeviceCatalogError,
    Indicator,
    UnknownIndicatorError,
    load_catalog,
)
from twins.errors import InvalidThingError, ThingNotFoundError, TwinsError
from twins.model import Json, ThingKey
from twins.queries import EnterpriseFilter, list_enterprises, list_parts
from twins.records import create_record
from twins.registry import KINDS, RegistryValidator, public_point, thing_id
from twins.schemas import PointCreate, PointPublic
from twins.scope import Scope
from twins.store import PostgresTwinStore

__all__ = [
    "LIMIT_FIELDS",
    "ClockEstimate",
    "EnterpriseOption",
    "FormState",
    "GatewayView",
    "PageState",
    "PointDefaults",
    "PointForm",
    "UnknownCode",
    "applicable_indicators",
    "clock_estimate",
    "enterprise_gateways",
    "enterprise_options",
    "form_state",
    "gateway_view",
    "last_message_kind",
    "next_point_code",
    "overrides",
    "page_state",
    "point_defaults",
    "reason_counts",
    "register_point",
    "run_with_store",
    "system_points",
    "systems",
    "unknown_codes",
]

T = TypeVar("T")
CONNECT_TIMEOUT_S: Final = 5
LIMIT_FIELDS: Final = ("hha", "ha", "la", "lla")  # 上上限, 上限, 下限, 下下限
UNKNOWN_POINT: Final = "unknown point"  # connectors.protocol's reason for an unregistered code
RECENT_REJECTIONS: Final = 50
CLOCK_WINDOW: Final = timedelta(minutes=10)  # readings received this recently estimate the clock
ENTERPRISE_OPTIONS: Final = 200  # an admin finds the others by typing part of the name


async def _with_store(
    dsn: str, fn: Callable[[PostgresTwinStore, AsyncConnection[Any]], Awaitable[T]]
) -> T:
    # the store borrows its own connection per call (as in the API): two at most
    async with AsyncConnectionPool(
        dsn,
        min_size=1,
        max_size=2,
        open=False,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
    ) as pool:
        store = PostgresTwinStore(pool, RegistryValidator(load_catalog()))
        async with pool.connection() as conn:
            return await fn(store, conn)


def run_with_store(
    dsn: str, fn: Callable[[PostgresTwinStore, AsyncConnection[Any]], Awaitable[T]]
) -> T:
    """Run ``fn`` with the registry's twin store and a connection, synchronously (callbacks)."""
    return asyncio.run(_with_store(dsn, fn))


# ---------------------------------------------------------------- enterprises, systems


@dataclass(frozen=True)
class EnterpriseOption:
    """An enterprise the caller may configure."""

    credit_code: str
    name: str


async def enterprise_options(
    conn: AsyncConnection[Any], scope: Scope, text: str | None = None
) -> list[EnterpriseOption]:
    """The enterprises the caller sees (an integrator: those that engaged it), by name."""
    page = await list_enterprises(
        conn, scope, EnterpriseFilter(q=text or None), page=1, page_size=ENTERPRISE_OPTIONS
    )
    return [
        EnterpriseOption(str(a["credit_code"]), str(a.get("name") or a["credit_code"]))
        for a in page.items
    ]


async def systems(conn: AsyncConnection[Any], scope: Scope, credit_code: str) -> list[Json]:
    """The enterprise's dust-removal systems (empty outside the scope)."""
    return await list_parts(conn, scope, credit_code, "system")


async def system_points(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, system_code: str, catalog: Catalog
) -> list[PointPublic]:
    """The registered points of one system, with the limits in force (empty outside the scope)."""
    out = []
    for a in await list_parts(conn, scope, credit_code, "point"):
        if a.get("system_code") != system_code:
            continue
        try:
            out.append(public_point(a, catalog))
        except (KeyError, ValueError, UnknownIndicatorError):
            continue  # a record the current catalog cannot read is listed by the registry API
    return out


def applicable_indicators(catalog: Catalog, collector: str | None) -> list[Indicator]:
    """The catalog's indicators a system with this collector type (dry/wet) may carry."""
    return [i for i in catalog.indicators.values() if collector in i.collectors]


def next_point_code(system_code: str, indicator: str, taken: Sequence[str]) -> str:
    """The first free code of the demo's shape: ``{system}-{indicator}-{n}``."""
    n = 1
    while f"{system_code}-{indicator}-{n}" in taken:
        n += 1
    return f"{system_code}-{indicator}-{n}"


# ---------------------------------------------------------------- gateway diagnostics


@dataclass(frozen=True)
class UnknownCode:
    """A point code a gateway sent that is not registered (to it)."""

    code: str
    times: int
    last_at: str


@dataclass(frozen=True)
class ClockEstimate:
    """Received time minus the gateway's reading time: median over recent readings.

    About the upload period when the clock is right; much larger: the clock is behind or the
    data was buffered; negative: the clock is ahead (more than 5 minutes ahead is refused).
    """

    median_s: float
    readings: int


@dataclass(frozen=True)
class GatewayView:
    """One gateway as its integrator needs to see it: alive or not, and why data is refused."""

    credit_code: str
    gateway_id: str
    name: str
    transport: str
    upload_period_s: int | None
    online: bool | None
    last_seen: str | None  # last accepted data (rts, event)
    last_heartbeat: str | None
    state: str | None
    state_at: str | None
    diagnostics: GatewayDiagnostics
    last_kind: str | None
    unknown: tuple[UnknownCode, ...] = ()
    clock: ClockEstimate | None = None
    reasons: Mapping[str, int] = field(default_factory=dict)


def unknown_codes(rejections: Sequence[Mapping[str, Any]]) -> list[UnknownCode]:
    """Codes refused as "unknown point" in these dead letters, most often refused first."""
    seen: dict[str, tuple[int, str]] = {}
    for r in rejections:  # newest first, as gateway_diagnostics lists them
        for entry in r.get("rejected", []):
            code = entry.get("code")
            if entry.get("reason") == UNKNOWN_POINT and isinstance(code, str):
                times, last = seen.get(code, (0, r["received_at"]))
                seen[code] = (times + 1, last)
    return [
        UnknownCode(code, times, last)
        for code, (times, last) in sorted(seen.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]


def reason_counts(rejections: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How often each reason appears in these dead letters (entries and whole messages)."""
    counts: dict[str, int] = {}
    for r in rejections:
        for entry in r.get("rejected", []):
            reason = str(entry.get("reason"))
            counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _parse(ts: Any) -> datetime | None:
    if isinstance(ts, datetime):
        return ts
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


def last_message_kind(
    last_message_at: datetime | None,
    connectivity: Mapping[str, Any],
    last_rejection: Mapping[str, Any] | None,
) -> str | None:
    """What the gateway's last message was: "data", "heartbeat", "state" or "refused".

    The writer stamps the per-minute counts and the twin's connectivity with the same time, so
    the connectivity time equal to the last message's tells its kind; none equal: it was refused.
    """
    if last_message_at is None:
        return None
    stamps = (
        ("data", connectivity.get("last_seen")),
        ("heartbeat", connectivity.get("last_heartbeat")),
        ("state", connectivity.get("state_at")),
    )
    for kind, ts in stamps:
        when = _parse(ts)
        if when is not None and abs((when - last_message_at).total_seconds()) < 0.001:
            return kind
    return "refused" if last_rejection is not None else None


async def clock_estimate(
    conn: AsyncConnection[Any], credit_code: str, gateway_id: str, now: datetime
) -> ClockEstimate | None:
    """Median of (received − reading time) over readings of the gateway's points received in
    the last 10 minutes; None without any."""
    cur = await conn.execute(
        """
        SELECT percentile_cont(0.5) WITHIN GROUP
                   (ORDER BY extract(epoch FROM r.received_at - r.time)) AS median_s,
               count(*) AS n
        FROM readings r
        WHERE r.point_id IN (
                SELECT id FROM things
                WHERE kind = 'point' AND deleted_at IS NULL AND credit_code = %(cc)s
                  AND attributes ->> 'gateway_id' = %(gw)s)
          AND r.time >= %(since)s - %(future)s - interval '1 hour'
          AND r.received_at >= %(since)s
        """,
        {
            "cc": credit_code,
            "gw": gateway_id,
            "since": now - CLOCK_WINDOW,
            "future": FUTURE_TOLERANCE,
        },
    )
    row = await cur.fetchone()
    if row is None or not row[1]:
        return None
    return ClockEstimate(float(row[0]), int(row[1]))


async def gateway_view(
    store: PostgresTwinStore,
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    gateway_id: str,
    now: datetime,
) -> GatewayView | None:
    """The gateway's diagnostics as the API gives them; None when it is not the caller's."""
    try:
        # as the API does: the twin through the store with the caller's scope, then the counts
        gateway = await store.get(thing_id("gateway", credit_code, gateway_id), scope)
    except (ThingNotFoundError, InvalidThingError):
        return None
    if gateway.attributes.get("credit_code") != credit_code:
        return None
    diagnostics = await gateway_diagnostics(
        conn, f"{credit_code}.{gateway_id}", now, recent=RECENT_REJECTIONS
    )
    connectivity = gateway.features.get("connectivity", {}).get("properties", {})
    rejections = diagnostics.recent_rejections
    a = gateway.attributes
    return GatewayView(
        credit_code=credit_code,
        gateway_id=gateway_id,
        name=str(a.get("name") or gateway_id),
        transport=str(a.get("transport", "mqtt")),
        upload_period_s=a.get("upload_period_s"),
        online=connectivity.get("online"),
        last_seen=connectivity.get("last_seen"),
        last_heartbeat=connectivity.get("last_heartbeat"),
        state=connectivity.get("state"),
        state_at=connectivity.get("state_at"),
        diagnostics=diagnostics,
        last_kind=last_message_kind(
            diagnostics.last_message_at, connectivity, diagnostics.last_error
        ),
        unknown=tuple(unknown_codes(rejections)),
        clock=await clock_estimate(conn, credit_code, gateway_id, now),
        reasons=reason_counts(rejections),
    )


async def enterprise_gateways(
    store: PostgresTwinStore,
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    now: datetime,
) -> list[GatewayView]:
    """Every gateway of the enterprise with its diagnostics (empty outside the scope)."""
    out = []
    for a in await list_parts(conn, scope, credit_code, "gateway"):
        view = await gateway_view(store, conn, scope, credit_code, str(a["gateway_id"]), now)
        if view is not None:
            out.append(view)
    return out


# ---------------------------------------------------------------- point registration


@dataclass(frozen=True)
class PointDefaults:
    """What the registry would apply to a new point: its range and limits from the catalog."""

    unit: str
    range_low: float
    range_high: float
    limits: dict[str, float | None]  # hha, ha, la, lla in force without overrides


@dataclass(frozen=True)
class PointForm:
    """The point registration form (点位登记) as submitted."""

    credit_code: str
    system_code: str
    indicator: str
    point_code: str
    name: str | None
    unit: str
    range_low: float | None
    range_high: float | None
    limits: dict[str, float | None]  # the four levels as the form shows them (None: none)
    gateway_id: str | None


def _validation_text(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()
    )


async def _visible_system(
    conn: AsyncConnection[Any], scope: Scope, credit_code: str, system_code: str
) -> Json:
    for s in await systems(conn, scope, credit_code):
        if s.get("system_code") == system_code:
            return s
    raise ThingNotFoundError(thing_id("system", credit_code, system_code))


async def point_defaults(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str,
    system_code: str,
    indicator: str,
    catalog: Catalog,
    *,
    point_code: str | None = None,
    unit: str | None = None,
    range_: tuple[float | None, float | None] = (None, None),
) -> PointDefaults:
    """The catalog defaults for a point of this indicator on this system, as the registry
    resolves them (plant figures such as design flow, MEC and Al/Mg dust included).

    ThingNotFoundError outside the scope; InvalidThingError when the registry would refuse it
    (e.g. an indicator that does not apply to the system's collector type).
    """
    await _visible_system(conn, scope, credit_code, system_code)
    try:
        ind = catalog.indicator(indicator)
    except UnknownIndicatorError as err:
        raise InvalidThingError(f"indicator {indicator} is not in the device catalog") from err
    code = point_code or next_point_code(system_code, indicator, ())
    given: Json = {"system_code": system_code, "indicator": indicator, "unit": unit or ind.unit}
    if range_[0] is not None:
        given["range_low"] = range_[0]
    if range_[1] is not None:
        given["range_high"] = range_[1]
    # the registry's own validator, run without writing: the same figures, the same rules
    validator = RegistryValidator(catalog)
    attributes = await validator(conn, ThingKey("point", credit_code, code), given, None)
    limits = public_point(attributes, catalog).effective_limits
    return PointDefaults(
        unit=str(attributes["unit"]),
        range_low=float(attributes["range_low"]),
        range_high=float(attributes["range_high"]),
        limits={k: limits.get(k) for k in LIMIT_FIELDS},
    )


def overrides(shown: Mapping[str, float | None], defaults: Mapping[str, float | None]) -> Json:
    """The limits to record as the point's own: those the form shows differently from the
    catalog (None switches a default off). Unchanged limits follow the catalog."""
    return {k: shown.get(k) for k in LIMIT_FIELDS if shown.get(k) != defaults.get(k)}


async def register_point(
    store: PostgresTwinStore,
    conn: AsyncConnection[Any],
    scope: Scope,
    form: PointForm,
    catalog: Catalog,
) -> PointPublic:
    """Register the point through the registry, as ``POST .../points`` does, with the caller's
    scope. Raises ThingNotFoundError (not the caller's enterprise or system), ThingExistsError
    (code taken), InvalidThingError (the registry's rules, the form's fields), NotAllowedError."""
    defaults = await point_defaults(
        conn,
        scope,
        form.credit_code,
        form.system_code,
        form.indicator,
        catalog,
        point_code=form.point_code,
        unit=form.unit,
        range_=(form.range_low, form.range_high),
    )
    data: Json = {
        "point_code": form.point_code,
        "system_code": form.system_code,
        "indicator": form.indicator,
        "unit": form.unit,
        "range_low": form.range_low,
        "range_high": form.range_high,
        "limits": overrides(form.limits, defaults.limits),
        "gateway_id": form.gateway_id or None,
    }
    if form.name:
        data["name"] = form.name
    try:
        body = PointCreate.model_validate(data)
    except ValidationError as err:
        raise InvalidThingError(_validation_text(err)) from err
    thing = await create_record(store, scope, KINDS["point"], body, credit_code=form.credit_code)
    return public_point(thing.attributes, catalog)


# ---------------------------------------------------------------- one view of the page, at once


@dataclass
class FormState:
    """The registration form for one system and indicator: choices and pre-filled values."""

    systems: list[Json] = field(default_factory=list)
    system_code: str | None = None
    indicators: list[Indicator] = field(default_factory=list)
    indicator: str | None = None
    defaults: PointDefaults | None = None
    problem: str | None = None  # why there are no defaults (the registry refuses the pair)
    point_code: str | None = None
    points: list[PointPublic] = field(default_factory=list)


@dataclass
class PageState:
    """Everything the page shows for one enterprise."""

    enterprises: list[EnterpriseOption]
    credit_code: str | None
    gateways: list[GatewayView]
    gateway_id: str | None
    form: FormState


def _pick(wanted: str | None, available: list[str]) -> str | None:
    if wanted in available:
        return wanted
    return available[0] if available else None


async def form_state(
    conn: AsyncConnection[Any],
    scope: Scope,
    credit_code: str | None,
    catalog: Catalog,
    system_code: str | None = None,
    indicator: str | None = None,
) -> FormState:
    """The form for the enterprise: its systems, the chosen one's indicators, the defaults."""
    state = FormState()
    if credit_code is None:
        return state
    state.systems = await systems(conn, scope, credit_code)
    state.system_code = _pick(system_code, [str(s["system_code"]) for s in state.systems])
    if state.system_code is None:
        return state
    system = next(s for s in state.systems if s["system_code"] == state.system_code)
    state.indicators = applicable_indicators(catalog, system.get("collector"))
    state.indicator = _pick(indicator, [i.code for i in state.indicators])
    state.points = await system_points(conn, scope, credit_code, state.system_code, catalog)
    if state.indicator is None:
        return state
    state.point_code = next_point_code(
        state.system_code,
        state.indicator,
        [str(a.get("point_code")) for a in await list_parts(conn, scope, credit_code, "point")],
    )
    try:
        state.defaults = await point_defaults(
            conn,
            scope,
            credit_code,
            state.system_code,
            state.indicator,
            catalog,
            point_code=state.point_code,
        )
    except (TwinsError, DeviceCatalogError) as err:
        state.problem = str(err)
    return state


async def page_state(
    store: PostgresTwinStore,
    conn: AsyncConnection[Any],
    scope: Scope,
    catalog: Catalog,
    now: datetime,
) -> PageState:
    """The page as first shown: the first enterprise, its first gateway and system."""
    options = await enterprise_options(conn, scope)
    credit_code = options[0].credit_code if options else None
    gateways = (
        []
        if credit_code is None
        else await enterprise_gateways(store, conn, scope, credit_code, now)
    )
    return PageState(
        enterprises=options,
        credit_code=credit_code,
        gateways=gateways,
        gateway_id=gateways[0].gateway_id if gateways else None,
        form=await form_state(conn, scope, credit_code, catalog),
    )
