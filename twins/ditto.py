"""Eclipse Ditto's HTTP API v2 semantics over the twin store: a thing and each of its parts
(attributes, features, properties, definition, policyId) read and written by JSON pointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twins.errors import ThingNotFoundError
from twins.model import Json, delete_path, get_path, merge_patch, set_path
from twins.scope import Scope
from twins.store import Origin, Precondition, TwinStore

ORIGIN: Origin = "ditto"


class PartNotFoundError(ThingNotFoundError):
    """The thing exists (and is visible) but the part asked for does not."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class Part:
    """A resource below a thing: its pointer into the thing's JSON and its Ditto error code."""

    pointer: tuple[str, ...]
    error: str
    label: str


def part(segments: list[str]) -> Part:
    """The part of a thing that a URL below ``/things/{thingId}`` names."""
    if not segments:
        return Part((), "things:thing.notfound", "thing")
    head, rest = segments[0], segments[1:]
    if head == "attributes":
        label = "attribute" if rest else "attributes"
        return Part(("attributes", *rest), f"things:{label}.notfound", f"{label} {'/'.join(rest)}")
    if head in ("definition", "policyId") and not rest:
        return Part((head,), f"things:{head.lower()}.notfound", head)
    if head == "features":
        if not rest:
            return Part(("features",), "things:features.notfound", "features")
        feature, below = rest[0], rest[1:]
        if not below:
            return Part(("features", feature), "things:feature.notfound", f"feature {feature}")
        if below[0] in ("properties", "desiredProperties", "definition"):
            what = {"properties": "property", "desiredProperties": "desiredproperty"}.get(
                below[0], "definition"
            )
            code = (
                f"things:feature.{what}.notfound"
                if len(below) > 1 or below[0] == "definition"
                else f"things:feature.{below[0].lower()}.notfound"
            )
            return Part(
                ("features", feature, *below), code, f"{'/'.join(below)} of feature {feature}"
            )
    raise PartNotFoundError(f"no such resource: /{'/'.join(segments)}", "things:resource.notfound")


def _editable(thing_json: Json) -> Json:
    return {
        k: thing_json[k]
        for k in ("policyId", "definition", "attributes", "features")
        if k in thing_json
    }


class DittoService:
    """Read and write things and their parts the way Eclipse Ditto does."""

    def __init__(self, store: TwinStore) -> None:
        self.store = store

    async def read(self, thing_id: str, where: Part, scope: Scope) -> tuple[Any, int]:
        """The value of a part and the thing's revision; PartNotFoundError when absent."""
        thing = await self.store.get(thing_id, scope)
        if not where.pointer:
            return thing.to_json(), thing.revision
        try:
            return get_path(thing.to_json(), list(where.pointer)), thing.revision
        except KeyError as err:
            raise PartNotFoundError(f"{where.label} of {thing_id} not found", where.error) from err

    async def put(
        self, thing_id: str, where: Part, value: Any, scope: Scope, precondition: Precondition
    ) -> tuple[Json | None, bool]:
        """Create or replace a part (or the whole thing); returns (thing JSON, created)."""
        created_part = False

        def change(current: Json | None) -> Json:
            nonlocal created_part
            if not where.pointer:
                if not isinstance(value, dict):
                    raise PartNotFoundError("a thing is a JSON object", "things:thing.invalid")
                return _editable(value)
            if current is None:
                raise PartNotFoundError(f"thing {thing_id} not found", "things:thing.notfound")
            try:
                get_path(current, list(where.pointer))
            except KeyError:
                created_part = True
            return set_path(current, list(where.pointer), value)

        thing, created = await self.store.modify(
            thing_id, change, scope, precondition=precondition, origin=ORIGIN
        )
        assert thing is not None
        return thing.to_json(), created or created_part

    async def patch(
        self, thing_id: str, where: Part, patch: Any, scope: Scope, precondition: Precondition
    ) -> Json:
        """Merge a JSON merge patch (RFC 7396) into a part that exists."""

        def change(current: Json | None) -> Json:
            if current is None:
                raise PartNotFoundError(f"thing {thing_id} not found", "things:thing.notfound")
            if not where.pointer:
                return _editable(merge_patch(current, patch))
            try:
                existing = get_path(current, list(where.pointer))
            except KeyError as err:
                raise PartNotFoundError(
                    f"{where.label} of {thing_id} not found", where.error
                ) from err
            return set_path(current, list(where.pointer), merge_patch(existing, patch))

        thing, _ = await self.store.modify(
            thing_id, change, scope, precondition=precondition, origin=ORIGIN
        )
        assert thing is not None
        return thing.to_json()

    async def delete(
        self, thing_id: str, where: Part, scope: Scope, precondition: Precondition
    ) -> None:
        """Delete a part, or the whole thing (a soft delete: its history stays)."""

        def change(current: Json | None) -> Json | None:
            if current is None:
                raise PartNotFoundError(f"thing {thing_id} not found", "things:thing.notfound")
            if not where.pointer:
                return None
            try:
                return delete_path(current, list(where.pointer))
            except KeyError as err:
                raise PartNotFoundError(
                    f"{where.label} of {thing_id} not found", where.error
                ) from err

        await self.store.modify(thing_id, change, scope, precondition=precondition, origin=ORIGIN)
