"""``/api/v1/enterprises/{credit_code}/{systems,points,cameras,gateways}``: an enterprise's parts.

Systems, points and cameras share one shape of routes, made from their ``KindSpec``; gateways
differ (registration returns the password once, deletion revokes broker credentials).
"""

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel

from api.deps import BrokerDep, CatalogDep, ConnDep, ScopeDep, StoreDep
from device_catalog import Catalog
from twins.gateways import GATEWAY, register_gateway, revoke_gateway
from twins.queries import list_parts
from twins.records import create_record, delete_record, get_record, update_record
from twins.registry import ENTERPRISE, KINDS, KindSpec, public
from twins.schemas import GatewayCreate, GatewayPublic, GatewayRegistered
from twins.store import Precondition, etag, parse_etags, shown_attributes

router = APIRouter(prefix="/api/v1/enterprises/{credit_code}")
PLURAL = {"system": "systems", "point": "points", "camera": "cameras"}
ZH = {"system": "除尘系统", "point": "监测点位", "camera": "视频监控点"}


def _publics(spec: KindSpec, items: list[dict[str, Any]], catalog: Catalog) -> list[BaseModel]:
    return [public(spec, a, catalog) for a in items]


def _add_routes(spec: KindSpec) -> None:
    """Create, list, read, change and delete for one kind of part."""
    path = f"/{PLURAL[spec.kind]}"
    tags: list[str | Enum] = [f"{PLURAL[spec.kind]} / {ZH[spec.kind]}"]
    label = f"{spec.label} / {ZH[spec.kind]}"

    async def create(
        credit_code: str,
        body: BaseModel,
        store: StoreDep,
        scope: ScopeDep,
        catalog: CatalogDep,
        response: Response,
    ) -> BaseModel:
        thing = await create_record(store, scope, spec, body, credit_code=credit_code)
        response.headers["ETag"] = etag(thing.revision)
        return public(spec, thing.attributes, catalog)

    async def list_(
        credit_code: str, conn: ConnDep, store: StoreDep, scope: ScopeDep, catalog: CatalogDep
    ) -> list[BaseModel]:
        await get_record(store, scope, ENTERPRISE, credit_code, credit_code)
        items = await list_parts(conn, scope, credit_code, spec.kind)
        # the list is read past the store: its camera links are redacted here, as the store does
        return _publics(spec, [shown_attributes(spec.kind, a, scope) for a in items], catalog)

    async def read(
        credit_code: str,
        code: str,
        store: StoreDep,
        scope: ScopeDep,
        catalog: CatalogDep,
        response: Response,
    ) -> BaseModel:
        thing = await get_record(store, scope, spec, credit_code, code)
        response.headers["ETag"] = etag(thing.revision)
        return public(spec, thing.attributes, catalog)

    async def change(
        credit_code: str,
        code: str,
        body: BaseModel,
        store: StoreDep,
        scope: ScopeDep,
        catalog: CatalogDep,
        response: Response,
        if_match: Annotated[str | None, Header(description='"rev:N"')] = None,
    ) -> BaseModel:
        thing = await update_record(
            store,
            scope,
            spec,
            credit_code,
            code,
            body,
            precondition=Precondition(if_match=parse_etags(if_match)),
        )
        response.headers["ETag"] = etag(thing.revision)
        return public(spec, thing.attributes, catalog)

    async def remove(credit_code: str, code: str, store: StoreDep, scope: ScopeDep) -> None:
        await delete_record(store, scope, spec, credit_code, code)

    create.__annotations__["body"] = spec.create
    change.__annotations__["body"] = spec.update
    for fn in (create, read, change):
        fn.__annotations__["return"] = spec.public
    list_.__annotations__["return"] = list[spec.public]  # type: ignore[name-defined]
    router.add_api_route(
        path, create, methods=["POST"], status_code=201, tags=tags, summary=f"Register a {label}"
    )
    router.add_api_route(path, list_, methods=["GET"], tags=tags, summary=f"List {label}")
    router.add_api_route(
        f"{path}/{{code}}", read, methods=["GET"], tags=tags, summary=f"One {label}"
    )
    router.add_api_route(
        f"{path}/{{code}}", change, methods=["PATCH"], tags=tags, summary=f"Change a {label}"
    )
    router.add_api_route(
        f"{path}/{{code}}",
        remove,
        methods=["DELETE"],
        status_code=204,
        tags=tags,
        summary=f"Remove a {label} (history stays)",
    )


for _kind in ("system", "point", "camera"):
    _add_routes(KINDS[_kind])

GATEWAY_TAGS: list[str | Enum] = ["gateways / 数采网关"]


@router.post(
    "/gateways", status_code=201, tags=GATEWAY_TAGS, summary="Register a gateway / 登记网关"
)
async def create_gateway(
    credit_code: str,
    body: GatewayCreate,
    store: StoreDep,
    scope: ScopeDep,
    broker: BrokerDep,
    catalog: CatalogDep,
) -> GatewayRegistered:
    """Register a gateway and create its broker account; the password is shown only here."""
    thing, password = await register_gateway(store, scope, credit_code, body, broker)
    record = public(GATEWAY, thing.attributes, catalog)
    return GatewayRegistered(**record.model_dump(), password=password)


@router.get("/gateways", tags=GATEWAY_TAGS, summary="List gateways / 网关列表")
async def list_gateways(
    credit_code: str, conn: ConnDep, store: StoreDep, scope: ScopeDep, catalog: CatalogDep
) -> list[GatewayPublic]:
    """The enterprise's gateways (never their passwords)."""
    await get_record(store, scope, ENTERPRISE, credit_code, credit_code)
    items = await list_parts(conn, scope, credit_code, "gateway")
    return [GatewayPublic.model_validate(public(GATEWAY, a, catalog).model_dump()) for a in items]


@router.get("/gateways/{code}", tags=GATEWAY_TAGS, summary="One gateway / 网关详情")
async def get_gateway(
    credit_code: str, code: str, store: StoreDep, scope: ScopeDep, catalog: CatalogDep
) -> GatewayPublic:
    """A gateway of the enterprise."""
    thing = await get_record(store, scope, GATEWAY, credit_code, code)
    return GatewayPublic.model_validate(public(GATEWAY, thing.attributes, catalog).model_dump())


@router.delete(
    "/gateways/{code}", status_code=204, tags=GATEWAY_TAGS, summary="Revoke a gateway / 注销网关"
)
async def delete_gateway(
    credit_code: str, code: str, store: StoreDep, scope: ScopeDep, broker: BrokerDep
) -> None:
    """Remove the gateway's broker account (it is disconnected) and its twin (history stays)."""
    await revoke_gateway(store, scope, credit_code, code, broker)
