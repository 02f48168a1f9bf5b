"""``/api/2``: Eclipse Ditto's HTTP API v2 for the twins — things, their parts, search, policies.

Works with Ditto's own clients (the ``ditto-client`` package): same paths, same JSON, same
conditional headers, same error shape. Every answer is limited to the caller's jurisdiction.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Form, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from api.deps import ScopeDep, StoreDep
from api.errors import ApiError
from twins.ditto import DittoService, Part, part
from twins.errors import ThingNotFoundError
from twins.model import parse_thing_id
from twins.rql import parse_fields, parse_filter, parse_namespaces, parse_options, project
from twins.store import Precondition, etag, parse_etags

router = APIRouter(prefix="/api/2", tags=["Ditto API v2 / 数字孪生"])
GENERATED_NAMESPACE = "dusttwin.things"
IfMatch = Annotated[str | None, Header(description='"rev:N" or *')]
IfNoneMatch = Annotated[str | None, Header(description="* : only create")]


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, f"the body is not JSON: {err}", error="json.invalid") from err


def _precondition(if_match: str | None, if_none_match: str | None) -> Precondition:
    return Precondition(
        if_match=parse_etags(if_match), if_none_match_any=(if_none_match or "").strip() == "*"
    )


def _where(path: str) -> Part:
    return part([p for p in path.split("/") if p])


def _json(value: Any, status: int = 200, revision: int | None = None) -> JSONResponse:
    headers = {"ETag": etag(revision)} if revision is not None else None
    return JSONResponse(value, status_code=status, headers=headers)


@router.get("/things", summary="Things by id / 按编号查询")
async def list_things(
    store: StoreDep,
    scope: ScopeDep,
    ids: Annotated[str, Query(description="thingIds, comma-separated")],
    fields: str | None = None,
) -> JSONResponse:
    """The things of these ids that the caller may see (others are left out)."""
    found = []
    for thing_id in [i for i in ids.split(",") if i]:
        parse_thing_id(thing_id)
        try:
            found.append((await store.get(thing_id, scope)).to_json())
        except ThingNotFoundError:
            continue
    selection = parse_fields(fields) if fields else None
    return _json([project(t, selection) if selection else t for t in found])


@router.post("/things", status_code=201, summary="Create a thing with a new id / 新建孪生")
async def create_thing(request: Request, store: StoreDep, scope: ScopeDep) -> JSONResponse:
    """Create a thing in the generated namespace (admins: dusttwin twins come from /api/v1)."""
    body = await _json_body(request)
    thing_id = f"{GENERATED_NAMESPACE}:{uuid4()}"
    value, _ = await DittoService(store).put(thing_id, part([]), body, scope, Precondition())
    assert value is not None
    return _json(value, 201, value["_revision"])


@router.get("/things/{thing_id}", summary="Get a thing / 查询孪生")
async def get_thing(
    thing_id: str, store: StoreDep, scope: ScopeDep, fields: str | None = None
) -> JSONResponse:
    """A thing, or the fields of it asked for."""
    value, revision = await DittoService(store).read(thing_id, part([]), scope)
    shown = project(value, parse_fields(fields), keep_thing_id=False) if fields else value
    return _json(shown, revision=revision)


@router.get("/things/{thing_id}/{path:path}", summary="Get part of a thing / 查询孪生属性")
async def get_part(thing_id: str, path: str, store: StoreDep, scope: ScopeDep) -> JSONResponse:
    """Attributes, features, a feature, its properties, one property, definition or policyId."""
    value, revision = await DittoService(store).read(thing_id, _where(path), scope)
    return _json(value, revision=revision)


async def _put(
    thing_id: str,
    path: str,
    request: Request,
    store: StoreDep,
    scope: ScopeDep,
    if_match: str | None,
    if_none_match: str | None,
) -> Response:
    where = _where(path)
    value = await _json_body(request)
    thing, created = await DittoService(store).put(
        thing_id, where, value, scope, _precondition(if_match, if_none_match)
    )
    assert thing is not None
    if not created:
        return Response(status_code=204, headers={"ETag": etag(thing["_revision"])})
    body = thing if not where.pointer else value
    response = _json(body, 201, thing["_revision"])
    response.headers["Location"] = str(request.url)
    return response


@router.put("/things/{thing_id}", summary="Create or replace a thing / 创建或替换孪生")
async def put_thing(
    thing_id: str,
    request: Request,
    store: StoreDep,
    scope: ScopeDep,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """201 with the thing when created, 204 when replaced."""
    return await _put(thing_id, "", request, store, scope, if_match, if_none_match)


@router.put("/things/{thing_id}/{path:path}", summary="Create or replace part of a thing")
async def put_part(
    thing_id: str,
    path: str,
    request: Request,
    store: StoreDep,
    scope: ScopeDep,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """201 with the value when created, 204 when replaced."""
    return await _put(thing_id, path, request, store, scope, if_match, if_none_match)


async def _patch(
    thing_id: str,
    path: str,
    request: Request,
    store: StoreDep,
    scope: ScopeDep,
    if_match: str | None,
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in ("application/merge-patch+json", "application/json"):
        raise ApiError(415, "PATCH takes application/merge-patch+json", error="things:mediatype")
    thing = await DittoService(store).patch(
        thing_id, _where(path), await _json_body(request), scope, _precondition(if_match, None)
    )
    return Response(status_code=204, headers={"ETag": etag(thing["_revision"])})


@router.patch("/things/{thing_id}", summary="Merge-patch a thing / 合并修改孪生")
async def patch_thing(
    thing_id: str, request: Request, store: StoreDep, scope: ScopeDep, if_match: IfMatch = None
) -> Response:
    """RFC 7396 merge patch of the thing."""
    return await _patch(thing_id, "", request, store, scope, if_match)


@router.patch("/things/{thing_id}/{path:path}", summary="Merge-patch part of a thing")
async def patch_part(
    thing_id: str,
    path: str,
    request: Request,
    store: StoreDep,
    scope: ScopeDep,
    if_match: IfMatch = None,
) -> Response:
    """RFC 7396 merge patch of a part that exists."""
    return await _patch(thing_id, path, request, store, scope, if_match)


@router.delete("/things/{thing_id}", status_code=204, summary="Delete a thing / 删除孪生")
async def delete_thing(
    thing_id: str, store: StoreDep, scope: ScopeDep, if_match: IfMatch = None
) -> Response:
    """Soft delete: gone from every view, history kept."""
    await DittoService(store).delete(thing_id, part([]), scope, _precondition(if_match, None))
    return Response(status_code=204)


@router.delete("/things/{thing_id}/{path:path}", status_code=204, summary="Delete part of a thing")
async def delete_part(
    thing_id: str, path: str, store: StoreDep, scope: ScopeDep, if_match: IfMatch = None
) -> Response:
    """Remove an attribute, a feature or a property."""
    await DittoService(store).delete(thing_id, _where(path), scope, _precondition(if_match, None))
    return Response(status_code=204)


async def _search(
    store: StoreDep,
    scope: ScopeDep,
    filter_: str | None,
    option: str | None,
    fields: str | None,
    namespaces: str | None,
) -> JSONResponse:
    node = parse_filter(filter_) if filter_ else None
    options = parse_options(option)
    selection = parse_fields(fields) if fields else None
    things, cursor = await store.search(node, options, parse_namespaces(namespaces), scope)
    items = [project(t.to_json(), selection) if selection else t.to_json() for t in things]
    body: dict[str, Any] = {"items": items}
    if cursor is not None:
        body["cursor"] = cursor
    return _json(body)


@router.get("/search/things", summary="Search things (RQL) / 检索孪生")
async def search(
    store: StoreDep,
    scope: ScopeDep,
    filter_: Annotated[
        str | None, Query(alias="filter", description='RQL, e.g. eq(attributes/adcode,"310113")')
    ] = None,
    option: Annotated[
        str | None, Query(description="size(n),sort(+attributes/name),cursor(c)")
    ] = None,
    fields: Annotated[str | None, Query(description="thingId,attributes/name,…")] = None,
    namespaces: Annotated[str | None, Query(description="dusttwin,…")] = None,
) -> JSONResponse:
    """One page of the things in the caller's jurisdiction that match the filter."""
    return await _search(store, scope, filter_, option, fields, namespaces)


@router.post("/search/things", summary="Search things (form) / 检索孪生（表单）")
async def search_form(
    store: StoreDep,
    scope: ScopeDep,
    filter_: Annotated[str | None, Form(alias="filter")] = None,
    option: Annotated[str | None, Form()] = None,
    fields: Annotated[str | None, Form()] = None,
    namespaces: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """The same search with its parameters in an urlencoded body (long filters)."""
    return await _search(store, scope, filter_, option, fields, namespaces)


@router.get("/search/things/count", summary="Count things (RQL) / 孪生计数")
async def count(
    store: StoreDep,
    scope: ScopeDep,
    filter_: Annotated[str | None, Query(alias="filter")] = None,
    namespaces: str | None = None,
) -> JSONResponse:
    """How many things in the caller's jurisdiction match."""
    node = parse_filter(filter_) if filter_ else None
    return _json(await store.count(node, parse_namespaces(namespaces), scope))


@router.get("/policies/{policy_id}", summary="A twin's policy / 访问策略")
async def get_policy(policy_id: str, store: StoreDep, scope: ScopeDep) -> JSONResponse:
    """Who may read and write the twin: derived from roles and jurisdictions."""
    return _json(await store.policy(policy_id, scope))


@router.api_route(
    "/policies/{policy_id}", methods=["PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def change_policy(policy_id: str, scope: ScopeDep) -> JSONResponse:
    """Policies follow the jurisdiction rules; they are not edited one by one."""
    raise ApiError(
        403,
        "policies are derived from roles and jurisdictions and cannot be edited",
        error="policies:policy.notmodifiable",
    )
