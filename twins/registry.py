"""The registry's rules: what makes each kind of twin valid, and how records become twins.

One validator serves every write path (the /api/v1 registry, the Ditto API, bulk import), so a
twin is held to the same rules however it is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ValidationError

from device_catalog import Catalog, UnknownIndicatorError, effective_limits, validate_limits
from twins.errors import InvalidThingError
from twins.identifiers import NAMESPACE
from twins.model import Json, ThingKey, TwinKind
from twins.regions import region
from twins.schemas import (
    CameraCreate,
    CameraPublic,
    CameraUpdate,
    EnterpriseCreate,
    EnterprisePublic,
    EnterpriseUpdate,
    GatewayCreate,
    GatewayPublic,
    PointCreate,
    PointPublic,
    PointUpdate,
    SystemCreate,
    SystemPublic,
    SystemUpdate,
    is_key_enterprise,
)


def thing_id(kind: TwinKind, credit_code: str | None, local_id: str | None = None) -> str:
    """The thingId of a twin (protocol v1 §2)."""
    if kind == "region":
        return f"{NAMESPACE}:region-{local_id}"
    if kind == "enterprise":
        return f"{NAMESPACE}:enterprise-{credit_code}"
    if kind == "camera":
        return f"{NAMESPACE}:camera-{local_id}"
    return f"{NAMESPACE}:{kind}-{credit_code}-{local_id}"


@dataclass(frozen=True)
class KindSpec:
    """How the registry handles one kind of twin under an enterprise."""

    kind: TwinKind
    create: type[BaseModel]
    update: type[BaseModel] | None
    public: type[BaseModel]
    id_field: str
    label: str


KINDS: dict[str, KindSpec] = {
    "system": KindSpec(
        "system", SystemCreate, SystemUpdate, SystemPublic, "system_code", "dust-removal system"
    ),
    "gateway": KindSpec("gateway", GatewayCreate, None, GatewayPublic, "gateway_id", "gateway"),
    "point": KindSpec("point", PointCreate, PointUpdate, PointPublic, "point_code", "point"),
    "camera": KindSpec("camera", CameraCreate, CameraUpdate, CameraPublic, "gb28181_id", "camera"),
}
ENTERPRISE = KindSpec(
    "enterprise", EnterpriseCreate, EnterpriseUpdate, EnterprisePublic, "credit_code", "enterprise"
)

# Live state every new twin starts with (protocol v1 §2): unknown until data arrives.
INITIAL_FEATURES: dict[TwinKind, Json] = {
    "enterprise": {
        "connectivity": {"properties": {"online": False, "last_seen": None}},
        "risk": {
            "properties": {"score": None, "level": None, "components": {}, "evaluated_at": None}
        },
    },
    "gateway": {"connectivity": {"properties": {"online": False, "last_seen": None}}},
    "point": {
        "measurement": {"properties": {"value": None, "ts": None, "quality": None}},
        "alarm": {"properties": {"state": "normal", "level": None, "since": None}},
        "connectivity": {"properties": {"online": False, "last_seen": None}},
    },
    "camera": {"connectivity": {"properties": {"online": None, "last_check": None, "error": None}}},
    "system": {},
    "region": {},
}


def _errors(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()
    )


def _model(model: type[BaseModel], data: Json) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidThingError(_errors(err)) from err


async def _live_attributes(conn: AsyncConnection[Any], tid: str) -> Json | None:
    cur = await conn.execute(
        "SELECT attributes FROM things WHERE thing_id = %s AND deleted_at IS NULL", (tid,)
    )
    row = await cur.fetchone()
    return dict(row[0]) if row else None


class RegistryValidator:
    """Validates and normalises the attributes of every kind of twin (a ThingValidator)."""

    # computed by the registry: a caller's value for these is ignored
    COMPUTED = frozenset(
        {
            "parent",
            "adcode",
            "credit_code",
            "key_enterprise",
            "catalog_version",
            "limit_context",
            "mqtt_username",
            "topic_prefix",
            "kind",
        }
    )

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def __call__(
        self, conn: AsyncConnection[Any], key: ThingKey, attributes: Json, previous: Json | None
    ) -> Json:
        """The attributes to store for a twin with this key, or InvalidThingError."""
        if key.kind == "other":
            return attributes
        if key.kind == "region":
            return self._region(key)
        computed = self.COMPUTED - {"adcode"} if key.kind == "enterprise" else self.COMPUTED
        given = {k: v for k, v in attributes.items() if k not in computed}
        if key.kind == "enterprise":
            return self._enterprise(key, given)
        if key.kind == "camera":  # a camera's id is national: its enterprise is an attribute
            key = ThingKey("camera", _camera_owner(attributes, previous), key.local_id)
        assert key.credit_code is not None
        assert key.local_id is not None
        enterprise = await _live_attributes(conn, thing_id("enterprise", key.credit_code))
        if enterprise is None:
            raise InvalidThingError(f"enterprise {key.credit_code} is not registered")
        common = {"credit_code": key.credit_code, "adcode": enterprise["adcode"]}
        handlers = {
            "system": self._system,
            "gateway": self._gateway,
            "point": self._point,
            "camera": self._camera,
        }
        return await handlers[key.kind](conn, key, given, previous, common)

    @staticmethod
    async def _system(
        conn: AsyncConnection[Any], key: ThingKey, given: Json, previous: Json | None, common: Json
    ) -> Json:
        model = _model(SystemCreate, {**given, "system_code": key.local_id})
        return {**_dump(model), **common, "parent": thing_id("enterprise", key.credit_code)}

    @staticmethod
    async def _gateway(
        conn: AsyncConnection[Any], key: ThingKey, given: Json, previous: Json | None, common: Json
    ) -> Json:
        model = _model(GatewayCreate, {**given, "gateway_id": key.local_id})
        return {
            **_dump(model),
            **common,
            "parent": thing_id("enterprise", key.credit_code),
            "mqtt_username": f"{key.credit_code}.{key.local_id}",
            "topic_prefix": f"dust/v1/{key.credit_code}/{key.local_id}/",
        }

    @staticmethod
    async def _camera(
        conn: AsyncConnection[Any], key: ThingKey, given: Json, previous: Json | None, common: Json
    ) -> Json:
        model = _model(CameraCreate, {**given, "gb28181_id": key.local_id})
        system_code = given.get("system_code")
        parent = thing_id("enterprise", key.credit_code)
        if system_code is not None:
            parent = thing_id("system", key.credit_code, system_code)
            if await _live_attributes(conn, parent) is None:
                raise InvalidThingError(f"dust-removal system {system_code} is not registered")
        return {**_dump(model), **common, "parent": parent}

    @staticmethod
    def _region(key: ThingKey) -> Json:
        assert key.local_id is not None
        r = region(key.local_id)
        return {
            "adcode": r.adcode,
            "name": r.name,
            "level": r.level,
            "parent": thing_id("region", None, r.parent) if r.parent else None,
        }

    @staticmethod
    def _enterprise(key: ThingKey, given: Json) -> Json:
        model = _model(EnterpriseCreate, {**given, "credit_code": key.credit_code})
        assert isinstance(model, EnterpriseCreate)
        r = region(model.adcode)
        if r.level not in ("city", "county"):
            raise InvalidThingError(
                f"adcode {model.adcode} is a {r.level}: an enterprise is registered in a county "
                "(or a city without counties)"
            )
        return {
            **_dump(model),
            "key_enterprise": is_key_enterprise(model.dust_workers, list(model.dust_types)),
            "parent": thing_id("region", None, model.adcode),
        }

    async def _point(
        self,
        conn: AsyncConnection[Any],
        key: ThingKey,
        given: Json,
        previous: Json | None,
        common: Json,
    ) -> Json:
        model = _model(PointCreate, {**given, "point_code": key.local_id})
        assert isinstance(model, PointCreate)
        assert key.credit_code is not None
        system = await _live_attributes(
            conn, thing_id("system", key.credit_code, model.system_code)
        )
        if system is None:
            raise InvalidThingError(f"dust-removal system {model.system_code} is not registered")
        try:
            indicator = self.catalog.indicator(model.indicator)
        except UnknownIndicatorError as err:
            raise InvalidThingError(
                f"indicator {model.indicator} is not in the device catalog"
            ) from err
        if not indicator.accepts_unit(model.unit):
            raise InvalidThingError(
                f"unit {model.unit!r} contradicts indicator {indicator.code} "
                f"({indicator.name_en}), which is measured in {indicator.unit!r}"
            )
        if system["collector"] not in indicator.collectors:
            raise InvalidThingError(
                f"indicator {indicator.code} applies to "
                f"{'/'.join(indicator.collectors)} collectors; "
                f"system {model.system_code} is {system['collector']}"
            )
        low = indicator.measuring_range[0] if model.range_low is None else model.range_low
        high = indicator.measuring_range[1] if model.range_high is None else model.range_high
        if low >= high:
            raise InvalidThingError(f"range low {low} must be below range high {high}")
        if model.gateway_id is not None:
            gateway = thing_id("gateway", key.credit_code, model.gateway_id)
            if await _live_attributes(conn, gateway) is None:
                raise InvalidThingError(f"gateway {model.gateway_id} is not registered")
        enterprise = await _live_attributes(conn, thing_id("enterprise", key.credit_code))
        context = _limit_context(enterprise or {}, system, model.design_value)
        limits = effective_limits(
            indicator, {str(k): v for k, v in model.limits.items()}, range_=(low, high), **context
        )
        problems = validate_limits(limits, (low, high))
        if problems:
            raise InvalidThingError("; ".join(problems))
        version = self.catalog.version
        if previous is not None and previous.get("indicator") == model.indicator:
            version = previous.get("catalog_version", version)
        return {
            **_dump(model),
            **common,
            "range_low": low,
            "range_high": high,
            "unit": indicator.unit,
            "catalog_version": version,
            "limit_context": context,
            "parent": thing_id("system", key.credit_code, model.system_code),
        }


def _limit_context(enterprise: Json, system: Json, design_value: float | None) -> Json:
    """The plant figures that relative catalog limits need (recorded with the point)."""
    mec_g_m3 = (enterprise.get("explosion") or {}).get("mec_g_m3")
    return {
        "design": design_value or system.get("design_water_flow_m3h"),
        "mec": mec_g_m3 * 1000 if mec_g_m3 else None,  # the catalog takes MEC in mg/m³
        "al_mg": bool({"aluminium", "magnesium"} & set(enterprise.get("dust_types", []))),
    }


def _camera_owner(attributes: Json, previous: Json | None) -> str:
    given = attributes.get("credit_code")
    if previous is not None:
        if given is not None and given != previous["credit_code"]:
            raise InvalidThingError("a camera cannot move to another enterprise")
        return str(previous["credit_code"])
    if not isinstance(given, str) or not given:
        raise InvalidThingError("a camera names its enterprise: attributes.credit_code")
    return given


def _dump(model: BaseModel) -> Json:
    return model.model_dump(mode="json", exclude_none=True)


def public_point(attributes: Json, catalog: Catalog) -> PointPublic:
    """A point's record with the limits in force under the current catalog."""
    indicator = catalog.indicator(attributes["indicator"])
    limits = effective_limits(
        indicator,
        attributes.get("limits", {}),
        range_=(attributes["range_low"], attributes["range_high"]),
        **attributes.get("limit_context", {}),
    )
    return PointPublic.model_validate(
        {
            **{
                k: v
                for k, v in attributes.items()
                if k not in ("parent", "adcode", "limit_context")
            },
            "effective_limits": {
                "hha": limits.hha,
                "ha": limits.ha,
                "la": limits.la,
                "lla": limits.lla,
                "deadband": limits.deadband,
                "persistence_s": limits.persistence_s,
            },
        }
    )


def public(spec: KindSpec, attributes: Json, catalog: Catalog) -> BaseModel:
    """The record of a twin as the registry returns it."""
    if spec.kind == "point":
        return public_point(attributes, catalog)
    drop = {"parent", "adcode"} if spec.kind != "enterprise" else {"parent"}
    return spec.public.model_validate({k: v for k, v in attributes.items() if k not in drop})
