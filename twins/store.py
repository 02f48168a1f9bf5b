"""The twin store: a TwinStore interface and its embedded PostgreSQL implementation.

Things are rows of ``things`` (JSONB attributes and features, a revision per change). Writes take
the row lock, check the If-Match revision and the caller's rights, validate the result through the
registry's rules, and bump the revision: optimistic concurrency for clients, no lost update
between writers. A second implementation over a real Eclipse Ditto (through ``ditto-client``) can
replace this one behind the same interface.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from twins.errors import InvalidThingError, ThingConflictError, ThingNotFoundError, TwinsError
from twins.links import redact_camera_attributes, restore_credentials
from twins.model import DEFINITIONS, Json, Thing, ThingKey, TwinKind, parse_thing_id
from twins.rql import And, Exists, FilterNode, Not, Or, Property, RqlSyntaxError, SearchOptions
from twins.scope import Scope, ThingPart, policy_for
from twins.search_sql import count_query, page_and_cursor, search_query

Origin = Literal["registry", "ditto"]
# Twins whose life needs more than a row: a gateway's registration issues broker credentials and
# its removal revokes them, so the Ditto API may not create or delete one.
REGISTRY_ONLY: frozenset[TwinKind] = frozenset({"gateway"})
_COLUMNS = sql.SQL(
    "id, thing_id, policy_id, definition, attributes, features, revision, created_at, modified_at,"
    " kind, adcode, credit_code"
)


class NotAllowedError(TwinsError):
    """The caller may see the twin (or is creating one) but may not make this change."""


class ThingValidator(Protocol):
    """The registry's rules for the attributes of a twin kind."""

    async def __call__(
        self, conn: AsyncConnection[Any], key: ThingKey, attributes: Json, previous: Json | None
    ) -> Json:
        """Return the attributes to store (normalised), or raise InvalidThingError.

        Runs inside the writing transaction, so it may look up the twin's parents.
        """
        ...


async def accept_any(
    conn: AsyncConnection[Any], key: ThingKey, attributes: Json, previous: Json | None
) -> Json:
    """A validator that takes attributes as they come (tests of the store alone)."""
    return attributes


# Runs in the writing transaction with the thingId and the stored thing (None after a delete).
AfterWrite = Callable[[AsyncConnection[Any], str, Thing | None], Awaitable[None]]


@dataclass(frozen=True)
class Precondition:
    """HTTP conditional request headers, parsed: If-Match revision(s) and If-None-Match: *."""

    if_match: tuple[int, ...] | Literal["*"] | None = None
    if_none_match_any: bool = False

    def check(self, current: int | None) -> None:
        """Raise ThingConflictError when the thing's current revision fails the condition."""
        if self.if_none_match_any and current is not None:
            raise ThingConflictError("the thing exists already (If-None-Match: *)")
        if self.if_match is None:
            return
        if current is None:
            raise ThingConflictError("the thing does not exist (If-Match)")
        if self.if_match != "*" and current not in self.if_match:
            raise ThingConflictError(
                f"the thing is at revision {current}, not {', '.join(map(str, self.if_match))}"
            )


NO_PRECONDITION = Precondition()


# ---------------------------------------------------------------- who reads a camera's raw links
# A camera's links may carry the video service's credentials. The integrator that registered
# them (granted the enterprise) and admins read them as stored; everyone else reads them
# stripped and plays video through the signed URLs of /api/v1/cameras/{id}/live. Every read of
# this store passes through ``shown``; the registry's lists (twins.queries) through
# ``shown_attributes``.
CAMERA_LINK_PATHS: tuple[tuple[str, ...], ...] = (
    ("attributes", "live"),
    ("attributes", "playback_template"),
)


def reads_raw_links(scope: Scope, credit_code: str | None) -> bool:
    """Whether the caller reads the links of this enterprise's cameras with their credentials."""
    if scope.role == "admin":
        return True
    return scope.role == "integrator" and credit_code in scope.credit_codes


def shown_attributes(kind: TwinKind, attributes: Json, scope: Scope) -> Json:
    """A twin's attributes as this caller may read them (camera links redacted if need be)."""
    if kind != "camera" or reads_raw_links(scope, attributes.get("credit_code")):
        return attributes
    return redact_camera_attributes(attributes)


def shown(thing: Thing, scope: Scope) -> Thing:
    """The thing as this caller may read it (camera links redacted if need be)."""
    attributes = shown_attributes(thing.kind, thing.attributes, scope)
    return thing if attributes is thing.attributes else replace(thing, attributes=attributes)


def check_search(filter_node: FilterNode | None, options: SearchOptions, scope: Scope) -> None:
    """RqlSyntaxError when a caller who reads redacted links filters or sorts by them: matching
    (or a cursor's sort values) would spell out the credentials the results leave out."""
    if scope.role in ("admin", "integrator"):  # an integrator searches its granted plants only
        return
    for prop in [*(f.property for f in options.sort), *_compared(filter_node)]:
        if any(prop.segments[: len(p)] == p for p in CAMERA_LINK_PATHS):
            raise RqlSyntaxError(
                f"{prop.pointer}: camera links may not be searched or sorted by your role", 0
            )


def _compared(node: FilterNode | None) -> Iterator[Property]:
    """The properties whose values a filter matches (``exists`` tells only presence)."""
    if isinstance(node, And | Or):
        for operand in node.operands:
            yield from _compared(operand)
    elif isinstance(node, Not):
        yield from _compared(node.operand)
    elif node is not None and not isinstance(node, Exists):
        yield node.property


def _thing(row: dict[str, Any]) -> Thing:
    return Thing(
        thing_id=row["thing_id"],
        policy_id=row["policy_id"],
        definition=row["definition"],
        attributes=row["attributes"],
        features=row["features"],
        revision=int(row["revision"]),
        created=row["created_at"],
        modified=row["modified_at"],
        id=int(row.get("id") or 0),
    )


def _validate_features(features: Any) -> Json:
    if not isinstance(features, dict):
        raise InvalidThingError("features must be a JSON object")
    for feature_id, feature in features.items():
        if not feature_id or "/" in feature_id or not feature_id.isprintable():
            raise InvalidThingError(f"feature id {feature_id!r} is not valid")
        if not isinstance(feature, dict):
            raise InvalidThingError(f"feature {feature_id!r} must be a JSON object")
        unknown = set(feature) - {"properties", "desiredProperties", "definition"}
        if unknown:
            raise InvalidThingError(f"feature {feature_id!r} has unknown members {sorted(unknown)}")
        for member in ("properties", "desiredProperties"):
            if member in feature and not isinstance(feature[member], dict):
                raise InvalidThingError(f"feature {feature_id!r}: {member} must be a JSON object")
    return features


class TwinStore(Protocol):
    """Reading and writing twins within a caller's scope."""

    async def get(self, thing_id: str, scope: Scope) -> Thing:
        """The thing, or ThingNotFoundError when it does not exist or lies outside the scope."""
        ...

    async def modify(
        self,
        thing_id: str,
        change: Callable[[Json | None], Json | None],
        scope: Scope,
        *,
        precondition: Precondition = NO_PRECONDITION,
        origin: Origin = "registry",
        after_write: AfterWrite | None = None,
    ) -> tuple[Thing | None, bool]:
        """Apply ``change`` to the thing's Ditto JSON (None: absent); returns (thing, created)."""
        ...

    async def policy(self, policy_id: str, scope: Scope) -> Json:
        """The Ditto policy of a twin the caller sees."""
        ...


class _OneConnection:
    """A stand-in for a pool that always lends the same connection (one outer transaction)."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        yield self.conn


class PostgresTwinStore:
    """The embedded TwinStore over PostgreSQL (table ``things``)."""

    def __init__(
        self, pool: AsyncConnectionPool | _OneConnection, validator: ThingValidator = accept_any
    ) -> None:
        self.pool = pool
        self.validator = validator

    def within(self, conn: AsyncConnection[Any]) -> PostgresTwinStore:
        """This store working inside ``conn``'s transaction: its writes become savepoints and
        commit or roll back with that transaction (all-or-nothing imports)."""
        return PostgresTwinStore(_OneConnection(conn), self.validator)

    async def get(self, thing_id: str, scope: Scope) -> Thing:
        """The thing, or ThingNotFoundError when it does not exist or lies outside the scope."""
        parse_thing_id(thing_id)
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            # scope.where() holds a LIKE pattern: compose literals only, pass no parameters
            await cur.execute(
                sql.SQL("SELECT {} FROM things WHERE thing_id = {} AND {}").format(
                    _COLUMNS, sql.Literal(thing_id), scope.where()
                )
            )
            row = await cur.fetchone()
        if row is None:
            raise ThingNotFoundError(thing_id)
        return shown(_thing(row), scope)

    async def modify(
        self,
        thing_id: str,
        change: Callable[[Json | None], Json | None],
        scope: Scope,
        *,
        precondition: Precondition = NO_PRECONDITION,
        origin: Origin = "registry",
        after_write: AfterWrite | None = None,
    ) -> tuple[Thing | None, bool]:
        """Apply ``change`` to the thing's Ditto JSON under its row lock.

        ``change`` gets the current ``{policyId, definition, attributes, features}`` (None when the
        thing does not exist or is hidden from the caller) and returns the new one, or None to
        delete it. Returns the stored thing (None after a delete) and whether it was created.
        ``after_write`` runs in the same transaction after a write: a failure there undoes it.
        """
        key = parse_thing_id(thing_id)
        async with self.pool.connection() as conn, conn.transaction():
            # the audit trigger on things (thing_changes) records who made the change
            await conn.execute("SELECT set_config('dusttwin.actor', %s, true)", (scope.username,))
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.SQL("SELECT {}, deleted_at FROM things WHERE thing_id = %s FOR UPDATE").format(
                    _COLUMNS
                ),
                (thing_id,),
            )
            row = await cur.fetchone()
            live = row is not None and row["deleted_at"] is None
            visible = (
                live and row is not None and scope.sees(key.kind, row["adcode"], row["credit_code"])
            )
            # A twin outside the scope is treated as absent: changing it is "not found", creating
            # it "not allowed", exactly as for a twin that does not exist. Nothing leaks.
            hidden = live and not visible
            current = _thing(row) if visible and row is not None else None
            precondition.check(current.revision if current else None)
            before = _editable(current) if current else None
            after = change(before)
            if after is None:
                if current is None:
                    raise ThingNotFoundError(thing_id)
                self._check_manage(key, scope, origin, "delete")
                await _soft_delete(conn, current)
                if after_write is not None:
                    await after_write(conn, thing_id, None)
                return None, False
            new = await self._prepared(
                conn, key, thing_id, before, after, scope=scope, origin=origin
            )
            if hidden:
                raise NotAllowedError(f"not allowed to create {thing_id} outside your jurisdiction")
            if current is None:
                stored = await _insert(conn, thing_id, new, revived=row is not None)
            elif new == before:
                return shown(current, scope), False
            else:
                stored = await _update(conn, thing_id, new)
                moved = new["attributes"].get("adcode") != current.attributes.get("adcode")
                if key.kind == "enterprise" and moved:
                    await _move_enterprise(conn, key, new["attributes"].get("adcode"))
            if after_write is not None:
                await after_write(conn, thing_id, stored)
            return shown(stored, scope), current is None

    async def _prepared(
        self,
        conn: AsyncConnection[Any],
        key: ThingKey,
        thing_id: str,
        before: Json | None,
        after: Json,
        *,
        scope: Scope,
        origin: Origin,
    ) -> Json:
        if before is None:  # rights first: a refused caller learns nothing from validation
            self._check_manage(key, scope, origin, "create")
        unknown = set(after) - {"policyId", "definition", "attributes", "features"}
        if unknown:
            raise InvalidThingError(f"unknown thing members {sorted(unknown)}")
        attributes = after.get("attributes", {})
        if not isinstance(attributes, dict):
            raise InvalidThingError("attributes must be a JSON object")
        if key.kind == "camera" and before is not None:
            # a caller who read redacted links and writes them back keeps the stored credentials
            stored = before["attributes"]
            if not reads_raw_links(scope, stored.get("credit_code")):
                attributes = restore_credentials(attributes, stored)
        new: Json = {
            "policyId": after.get("policyId") or thing_id,
            "definition": after.get("definition") or DEFINITIONS.get(key.kind),
            "attributes": await self.validator(
                conn, key, attributes, before["attributes"] if before else None
            ),
            "features": _validate_features(after.get("features", {})),
        }
        if key.kind != "other" and new["definition"] != DEFINITIONS[key.kind]:
            expected = DEFINITIONS[key.kind]
            raise InvalidThingError(
                f"a {key.kind} twin's definition is {expected!r}, not {new['definition']!r}"
            )
        if new["policyId"] != thing_id:
            raise InvalidThingError("each twin has the policy of its own id (policyId = thingId)")
        if before is None:
            attrs = new["attributes"]
            if not scope.sees(key.kind, attrs.get("adcode"), attrs.get("credit_code")):
                raise NotAllowedError(f"not allowed to create {thing_id} outside your jurisdiction")
            return new
        changed: list[ThingPart] = [
            part  # type: ignore[misc]
            for part, member in (
                ("attributes", "attributes"),
                ("features", "features"),
                ("definition", "definition"),
                ("policy", "policyId"),
            )
            if new[member] != before[member]
        ]
        for part in changed:
            if not scope.may_write(key.kind, part):
                raise NotAllowedError(f"your role may not change the {part} of a {key.kind} twin")
        attrs = new["attributes"]
        if not scope.sees(key.kind, attrs.get("adcode"), attrs.get("credit_code")):
            raise NotAllowedError(f"not allowed to move {thing_id} outside your jurisdiction")
        return new

    @staticmethod
    def _check_manage(key: ThingKey, scope: Scope, origin: Origin, action: str) -> None:
        if origin == "ditto" and key.kind in REGISTRY_ONLY:
            raise InvalidThingError(
                f"a {key.kind} twin is registered and revoked through /api/v1 (which issues and "
                f"removes its broker credentials), not with a Ditto {action}"
            )
        if not scope.may_manage(key.kind):
            raise NotAllowedError(f"your role may not {action} {key.kind} twins")

    async def search(
        self,
        filter_node: FilterNode | None,
        options: SearchOptions,
        namespaces: tuple[str, ...],
        scope: Scope,
    ) -> tuple[list[Thing], str | None]:
        """One page of the things the caller sees that match, and the next page's cursor."""
        check_search(filter_node, options, scope)
        query = search_query(filter_node, options, namespaces, scope.where())
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query)
            rows = await cur.fetchall()
        page, cursor = page_and_cursor(rows, options, filter_node)
        return [shown(_thing(r), scope) for r in page], cursor

    async def count(
        self, filter_node: FilterNode | None, namespaces: tuple[str, ...], scope: Scope
    ) -> int:
        """How many things the caller sees match."""
        check_search(filter_node, SearchOptions(), scope)
        async with self.pool.connection() as conn:
            cur = await conn.execute(count_query(filter_node, namespaces, scope.where()))
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def policy(self, policy_id: str, scope: Scope) -> Json:
        """The Ditto policy of a twin the caller sees (policyId = thingId)."""
        thing = await self.get(policy_id, scope)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT username FROM integrator_grants WHERE credit_code = %s ORDER BY username",
                (thing.attributes.get("credit_code"),),
            )
            integrators = [str(r[0]) for r in await cur.fetchall()]
        return policy_for(
            thing.thing_id,
            thing.kind,
            thing.attributes.get("adcode"),
            thing.attributes.get("credit_code"),
            integrators,
        )


def _editable(thing: Thing) -> Json:
    return {
        "policyId": thing.policy_id,
        "definition": thing.definition,
        "attributes": thing.attributes,
        "features": thing.features,
    }


async def _insert(conn: AsyncConnection[Any], thing_id: str, new: Json, *, revived: bool) -> Thing:
    cur = conn.cursor(row_factory=dict_row)
    params = (new["policyId"], new["definition"], Jsonb(new["attributes"]), Jsonb(new["features"]))
    if revived:  # a soft-deleted twin registered again keeps its id, so its history stays linked
        await cur.execute(
            sql.SQL(
                "UPDATE things SET policy_id = %s, definition = %s, attributes = %s, features = %s,"
                " revision = revision + 1, modified_at = now(), deleted_at = NULL"
                " WHERE thing_id = %s RETURNING {}"
            ).format(_COLUMNS),
            (*params, thing_id),
        )
    else:
        await cur.execute(
            sql.SQL(
                "INSERT INTO things (thing_id, policy_id, definition, attributes, features)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING {}"
            ).format(_COLUMNS),
            (thing_id, *params),
        )
    row = await cur.fetchone()
    assert row is not None
    return _thing(row)


async def _update(conn: AsyncConnection[Any], thing_id: str, new: Json) -> Thing:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        sql.SQL(
            "UPDATE things SET policy_id = %s, definition = %s, attributes = %s, features = %s,"
            " revision = revision + 1, modified_at = now() WHERE thing_id = %s RETURNING {}"
        ).format(_COLUMNS),
        (
            new["policyId"],
            new["definition"],
            Jsonb(new["attributes"]),
            Jsonb(new["features"]),
            thing_id,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return _thing(row)


async def _soft_delete(conn: AsyncConnection[Any], thing: Thing) -> None:
    """Hide a twin and everything under it; readings, alarms and the rows themselves stay."""
    key = parse_thing_id(thing.thing_id)
    if key.kind == "enterprise":
        await conn.execute(
            "UPDATE things SET deleted_at = now(), revision = revision + 1, modified_at = now()"
            " WHERE credit_code = %s AND deleted_at IS NULL",
            (key.credit_code,),
        )
        return
    await conn.execute(
        """
        WITH RECURSIVE under(thing_id) AS (
            SELECT %s::text
            UNION
            SELECT t.thing_id FROM things t JOIN under u ON t.attributes ->> 'parent' = u.thing_id
        )
        UPDATE things SET deleted_at = now(), revision = revision + 1, modified_at = now()
        WHERE thing_id IN (SELECT thing_id FROM under) AND deleted_at IS NULL
        """,
        (thing.thing_id,),
    )


async def _move_enterprise(conn: AsyncConnection[Any], key: ThingKey, adcode: Any) -> None:
    """Twins under an enterprise carry its adcode, so they follow it into its new region."""
    await conn.execute(
        "UPDATE things SET attributes = jsonb_set(attributes, '{adcode}', to_jsonb(%s::text)),"
        " revision = revision + 1, modified_at = now()"
        " WHERE credit_code = %s AND kind <> 'enterprise'",
        (adcode, key.credit_code),
    )


def etag(revision: int) -> str:
    """The ETag of a revision, as Ditto writes it."""
    return f'"rev:{revision}"'


def parse_etags(header: str | None) -> tuple[int, ...] | Literal["*"] | None:
    """Revisions named by an If-Match header (``"rev:3"``, ``3``, ``*``); None when absent."""
    if header is None:
        return None
    if header.strip() == "*":
        return "*"
    revisions: list[int] = []
    for part in header.split(","):
        text = part.strip().removeprefix("W/").strip('"').removeprefix("rev:")
        if not text.isdigit():
            raise InvalidThingError(f'If-Match {header!r} names no revision (use "rev:N")')
        revisions.append(int(text))
    return tuple(revisions)
