"""``/api/v1/enterprises``: the enterprises (企业) a caller's jurisdiction holds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field

from api.deps import CatalogDep, ConnDep, ScopeDep, StoreDep
from api.errors import ApiError
from twins import users
from twins.queries import EnterpriseFilter, list_enterprises
from twins.records import create_record, delete_record, get_record, update_record
from twins.registry import ENTERPRISE, public
from twins.schemas import DustType, EnterpriseCreate, EnterprisePublic, EnterpriseUpdate
from twins.store import Precondition, etag, parse_etags

router = APIRouter(prefix="/api/v1/enterprises", tags=["enterprises / 企业"])


class EnterprisePage(BaseModel):
    """One page of enterprises."""

    items: list[EnterprisePublic]
    total: int = Field(description="符合条件的总数 / Total matching")
    page: int
    page_size: int


def _public(attributes: dict[str, Any], catalog: CatalogDep) -> EnterprisePublic:
    record = public(ENTERPRISE, attributes, catalog)
    assert isinstance(record, EnterprisePublic)
    return record


@router.post("", status_code=201, summary="Register an enterprise / 登记企业")
async def create_enterprise(
    body: EnterpriseCreate,
    store: StoreDep,
    scope: ScopeDep,
    catalog: CatalogDep,
    response: Response,
) -> EnterprisePublic:
    """Register an enterprise in a region of the caller's jurisdiction."""
    thing = await create_record(store, scope, ENTERPRISE, body)
    response.headers["ETag"] = etag(thing.revision)
    return _public(thing.attributes, catalog)


@router.get("", summary="List enterprises / 企业列表")
async def list_all(
    conn: ConnDep,
    scope: ScopeDep,
    catalog: CatalogDep,
    region: Annotated[
        str | None, Query(pattern=r"^\d{1,6}$", description="行政区划代码前缀 / adcode prefix")
    ] = None,
    industry: Annotated[str | None, Query(description="行业 / Industry")] = None,
    dust_type: Annotated[DustType | None, Query(description="粉尘种类 / Dust type")] = None,
    workers_min: Annotated[
        int | None, Query(ge=0, description="涉粉人数下限 / Workers at least")
    ] = None,
    workers_max: Annotated[
        int | None, Query(ge=0, description="涉粉人数上限 / Workers at most")
    ] = None,
    key: Annotated[bool | None, Query(description="重点企业 / Key enterprise")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="名称或信用代码 / Name or credit code")
    ] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EnterprisePage:
    """Enterprises in the caller's jurisdiction that match every filter given."""
    result = await list_enterprises(
        conn,
        scope,
        EnterpriseFilter(region, industry, dust_type, workers_min, workers_max, key, q),
        page,
        page_size,
    )
    return EnterprisePage(
        items=[_public(a, catalog) for a in result.items],
        total=result.total,
        page=page,
        page_size=page_size,
    )


@router.get("/{credit_code}", summary="One enterprise / 企业详情")
async def get_enterprise(
    credit_code: str, store: StoreDep, scope: ScopeDep, catalog: CatalogDep, response: Response
) -> EnterprisePublic:
    """An enterprise of the caller's jurisdiction (404 for any other)."""
    thing = await get_record(store, scope, ENTERPRISE, credit_code, credit_code)
    response.headers["ETag"] = etag(thing.revision)
    return _public(thing.attributes, catalog)


@router.patch("/{credit_code}", summary="Change an enterprise / 修改企业信息")
async def patch_enterprise(
    credit_code: str,
    body: EnterpriseUpdate,
    store: StoreDep,
    scope: ScopeDep,
    catalog: CatalogDep,
    response: Response,
    if_match: Annotated[str | None, Header(description='"rev:N": only if unchanged since')] = None,
) -> EnterprisePublic:
    """Change some fields; null removes an optional one."""
    thing = await update_record(
        store,
        scope,
        ENTERPRISE,
        credit_code,
        credit_code,
        body,
        precondition=Precondition(if_match=parse_etags(if_match)),
    )
    response.headers["ETag"] = etag(thing.revision)
    return _public(thing.attributes, catalog)


@router.delete("/{credit_code}", status_code=204, summary="Remove an enterprise / 注销企业")
async def delete_enterprise(credit_code: str, store: StoreDep, scope: ScopeDep) -> None:
    """Soft delete: the enterprise and its twins disappear from every view; history stays."""
    await delete_record(store, scope, ENTERPRISE, credit_code, credit_code)


@router.put(
    "/{credit_code}/integrators/{username}",
    status_code=204,
    summary="Engage an integrator / 授权集成商",
)
async def grant(
    credit_code: str, username: str, store: StoreDep, scope: ScopeDep, conn: ConnDep
) -> None:
    """Let an integrator see and configure this enterprise's systems, gateways and points."""
    await get_record(store, scope, ENTERPRISE, credit_code, credit_code)
    if scope.role == "integrator":
        raise ApiError(403, "an integrator cannot grant access / 集成商不能授权")
    await users.grant_integrator(conn, username, credit_code, scope.username)


@router.delete(
    "/{credit_code}/integrators/{username}",
    status_code=204,
    summary="Dismiss an integrator / 撤销集成商授权",
)
async def revoke(
    credit_code: str, username: str, store: StoreDep, scope: ScopeDep, conn: ConnDep
) -> None:
    """Withdraw an integrator's access to this enterprise."""
    await get_record(store, scope, ENTERPRISE, credit_code, credit_code)
    if scope.role == "integrator":
        raise ApiError(403, "an integrator cannot revoke access / 集成商不能撤销授权")
    if not await users.revoke_integrator(conn, username, credit_code):
        raise ApiError(404, f"{username} has no access to {credit_code}")
