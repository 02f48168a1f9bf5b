"""Registry operations on records (enterprises and their systems, gateways, points, cameras),
carried out as twin writes so that every rule of the twin store applies to them too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from twins.errors import ThingConflictError, ThingExistsError, ThingNotFoundError
from twins.model import Json, Thing, merge_patch
from twins.regions import ancestry
from twins.registry import ENTERPRISE, INITIAL_FEATURES, KindSpec, thing_id
from twins.scope import Scope
from twins.store import NO_PRECONDITION, AfterWrite, Precondition, TwinStore


async def ensure_regions(store: TwinStore, adcode: str) -> None:
    """Create the region twins from the country down to ``adcode`` where they are missing."""
    admin = Scope.admin()
    for r in ancestry(adcode):
        tid = thing_id("region", None, r.adcode)
        await store.modify(
            tid,
            lambda current: current or {"attributes": {}, "features": {}},
            admin,
        )


def _record_id(spec: KindSpec, credit_code: str, local_id: str) -> str:
    return thing_id(spec.kind, credit_code if spec.kind != "camera" else None, local_id)


async def create_record(
    store: TwinStore,
    scope: Scope,
    spec: KindSpec,
    body: BaseModel,
    *,
    credit_code: str | None = None,
    after_write: AfterWrite | None = None,
) -> Thing:
    """Register a new record; ThingConflictError when its code is taken already."""
    attributes: Json = body.model_dump(mode="json", exclude_none=True)
    local_id = str(attributes[spec.id_field])
    if spec is ENTERPRISE:
        credit_code = local_id
        await ensure_regions(store, attributes["adcode"])
    assert credit_code is not None
    if spec is not ENTERPRISE:  # outside the caller's scope the enterprise does not exist
        await store.get(thing_id("enterprise", credit_code), scope)
    tid = _record_id(spec, credit_code, local_id)
    if spec.kind == "camera":
        attributes["credit_code"] = credit_code  # the validator checks it names the enterprise
    try:
        thing, _ = await store.modify(
            tid,
            lambda _current: {"attributes": attributes, "features": INITIAL_FEATURES[spec.kind]},
            scope,
            precondition=Precondition(if_none_match_any=True),
            after_write=after_write,
        )
    except ThingConflictError as err:
        raise ThingExistsError(f"{spec.label} {local_id} is registered already") from err
    assert thing is not None
    return thing


async def get_record(
    store: TwinStore, scope: Scope, spec: KindSpec, credit_code: str, local_id: str
) -> Thing:
    """A record the caller may see; ThingNotFoundError otherwise."""
    thing = await store.get(_record_id(spec, credit_code, local_id), scope)
    if thing.attributes.get("credit_code") != credit_code:
        raise ThingNotFoundError(thing.thing_id)
    return thing


async def update_record(
    store: TwinStore,
    scope: Scope,
    spec: KindSpec,
    credit_code: str,
    local_id: str,
    changes: BaseModel,
    *,
    precondition: Precondition = NO_PRECONDITION,
) -> Thing:
    """Change a record: the fields sent replace, an explicit null removes, others stay."""
    await get_record(store, scope, spec, credit_code, local_id)
    patch = changes.model_dump(mode="json", exclude_unset=True)

    def change(current: Json | None) -> Json:
        if current is None:
            raise ThingNotFoundError(local_id)
        return {**current, "attributes": merge_patch(current["attributes"], patch)}

    thing, _ = await store.modify(
        _record_id(spec, credit_code, local_id), change, scope, precondition=precondition
    )
    assert thing is not None
    return thing


async def delete_record(
    store: TwinStore, scope: Scope, spec: KindSpec, credit_code: str, local_id: str, **kwargs: Any
) -> None:
    """Soft-delete a record and everything under it (history stays)."""
    await get_record(store, scope, spec, credit_code, local_id)
    await store.modify(_record_id(spec, credit_code, local_id), lambda _c: None, scope, **kwargs)
