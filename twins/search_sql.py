"""Parsed RQL searches as PostgreSQL over the ``things`` table (migration 0002), in ``psycopg.sql``.

Every value reaches SQL as a ``sql.Literal`` (quoted by psycopg's adapters), never by string
formatting, so the composed queries are complete: execute them without parameters (a ``%`` in a
LIKE pattern would otherwise be taken for a placeholder).

Ditto's semantics kept here (https://eclipse.dev/ditto/basic-rql.html, basic-search.html):
comparisons never convert types (``30`` is not ``"30"``); ``ne`` and the
range operators only match things that have the property; a JSON array at the property matches
when any of its elements does; ``not`` matches things that lack the property. Results are sorted
``+thingId`` unless told otherwise, and pages continue with keyset cursors.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from psycopg import sql
from psycopg.types.json import Jsonb

from twins.errors import TwinsError
from twins.rql import (
    And,
    Comparison,
    Exists,
    FilterNode,
    In,
    Like,
    Not,
    Or,
    Property,
    SearchOptions,
    SortField,
    Value,
)

__all__ = [
    "THING_COLUMNS",
    "InvalidCursorError",
    "count_query",
    "cursor_sql",
    "filter_sql",
    "next_cursor",
    "order_sql",
    "page_and_cursor",
    "search_query",
]

# The columns search_query selects first; the sort key values follow them (see page_and_cursor).
THING_COLUMNS = (
    "thing_id",
    "policy_id",
    "definition",
    "attributes",
    "features",
    "revision",
    "created_at",
    "modified_at",
)

Kind = Literal["text", "number", "timestamp", "json"]

# Properties outside attributes and features: their column, its kind, whether it may be NULL.
_COLUMNS: dict[str, tuple[str, Kind, bool]] = {
    "thingId": ("thing_id", "text", False),
    "policyId": ("policy_id", "text", False),
    "definition": ("definition", "text", True),
    "_namespace": ("namespace", "text", False),
    "_revision": ("revision", "number", False),
    "_created": ("created_at", "timestamp", False),
    "_modified": ("modified_at", "timestamp", False),
}
_RANGE = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_TRUE = sql.SQL("TRUE")
_FALSE = sql.SQL("FALSE")
_CURSOR_RE = re.compile(r"[A-Za-z0-9_-]+")
_CURSOR_MAX = 8192  # characters; a real cursor holds a few sort values and a thingId


class InvalidCursorError(TwinsError):
    """A cursor that does not decode, or was made for another sort or filter (Ditto: 400)."""


@dataclass(frozen=True)
class _Column:
    """A property kept in its own column."""

    name: str
    kind: Kind
    nullable: bool

    @property
    def ref(self) -> sql.Composable:
        return sql.Identifier(self.name)


@dataclass(frozen=True)
class _JsonPath:
    """A property inside the ``attributes`` or ``features`` jsonb column."""

    column: str
    path: tuple[str, ...]

    @property
    def ref(self) -> sql.Composable:
        """The value at the path (jsonb), SQL NULL when the thing lacks it."""
        return sql.SQL("({} #> {}::text[])").format(
            sql.Identifier(self.column), sql.Literal(list(self.path))
        )


def _locate(prop: Property) -> _Column | _JsonPath:
    root = prop.segments[0]
    if root in _COLUMNS:
        return _Column(*_COLUMNS[root])
    if root in ("attributes", "features"):
        return _JsonPath(root, prop.segments[1:])
    raise ValueError(f"not a searchable property: {prop.pointer}")


def filter_sql(node: FilterNode) -> sql.Composable:
    """A WHERE condition over ``things`` that is TRUE or FALSE (never NULL) for every row."""
    if isinstance(node, And | Or | Not):
        return _logical(node)
    return _leaf(node)


def _logical(node: And | Or | Not) -> sql.Composable:
    if isinstance(node, Not):
        return sql.SQL("(NOT {})").format(filter_sql(node.operand))
    joiner = sql.SQL(" AND " if isinstance(node, And) else " OR ")
    return sql.SQL("({})").format(joiner.join(filter_sql(n) for n in node.operands))


def _leaf(node: Comparison | In | Like | Exists) -> sql.Composable:
    where = _locate(node.property)
    if isinstance(node, Exists):
        return _exists(where)
    if isinstance(node, In):
        return _equals(where, node.values)
    if isinstance(node, Like):
        return _like(where, node.pattern, node.case_insensitive)
    if node.operator == "eq":
        return _equals(where, (node.value,))
    if node.operator == "ne":  # Ditto: only things that have the property
        return sql.SQL("({} AND NOT {})").format(_exists(where), _equals(where, (node.value,)))
    return _compare(where, _RANGE[node.operator], node.value)


def _exists(where: _Column | _JsonPath) -> sql.Composable:
    if isinstance(where, _Column):
        return sql.SQL("({} IS NOT NULL)").format(where.ref) if where.nullable else _TRUE
    if len(where.path) == 1:  # top-level key: `?` can use a GIN index on the column
        return sql.SQL("({} ? {})").format(sql.Identifier(where.column), sql.Literal(where.path[0]))
    return sql.SQL("({} IS NOT NULL)").format(where.ref)


def _fits(kind: Kind, value: Value) -> bool:
    """Whether a value has the column's type (Ditto compares without converting)."""
    if kind == "text":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, datetime)


def _guarded(where: _Column, condition: sql.Composable) -> sql.Composable:
    """``condition`` made FALSE rather than NULL where the column is NULL."""
    if not where.nullable:
        return condition
    return sql.SQL("({} IS NOT NULL AND {})").format(where.ref, condition)


def _nested(path: tuple[str, ...], leaf: Any) -> Any:
    for segment in reversed(path):
        leaf = {segment: leaf}
    return leaf


def _equals(where: _Column | _JsonPath, values: Sequence[Value]) -> sql.Composable:
    if isinstance(where, _Column):
        fitting = [v for v in values if _fits(where.kind, v)]
        if not fitting:
            return _FALSE
        listed = sql.SQL(", ").join(sql.Literal(v) for v in fitting)
        return _guarded(where, sql.SQL("({} IN ({}))").format(where.ref, listed))
    # jsonb containment, typed as JSON (30 is not "30", 30 is 30.0) and GIN-indexable; the
    # second document matches an array holding the value, as Ditto's search does.
    column = sql.Identifier(where.column)
    contains = [
        sql.SQL("{} @> {}").format(column, sql.Literal(Jsonb(_nested(where.path, doc))))
        for v in values
        for doc in (v, [v])
    ]
    return sql.SQL("({})").format(sql.SQL(" OR ").join(contains))


def _json_type(value: Value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def _json_any(where: _JsonPath, test: Callable[[sql.Composable], sql.Composable]) -> sql.Composable:
    """``test`` holds for the jsonb value at the path or, when that is an array, for one of its
    elements (Ditto's search looks into arrays); FALSE when the thing lacks the path."""
    element = sql.SQL("e.v")
    return sql.SQL(
        "({value} IS NOT NULL AND ({scalar} OR (jsonb_typeof({value}) = 'array' AND EXISTS "
        "(SELECT FROM jsonb_array_elements({value}) AS e(v) WHERE {element}))))"
    ).format(value=where.ref, scalar=test(where.ref), element=test(element))


def _compare(where: _Column | _JsonPath, operator: str, value: Value) -> sql.Composable:
    op = sql.SQL(operator)
    if isinstance(where, _Column):
        if not _fits(where.kind, value):
            return _FALSE
        return _guarded(where, sql.SQL("({} {} {})").format(where.ref, op, sql.Literal(value)))
    # jsonb orders values of one type as PostgreSQL orders numbers, strings (collation) and
    # booleans; the type test keeps other types out, as Ditto compares only like with like.
    json_type, json_value = sql.Literal(_json_type(value)), sql.Literal(Jsonb(value))
    return _json_any(
        where,
        lambda v: sql.SQL("(jsonb_typeof({}) = {} AND {} {} {})").format(
            v, json_type, v, op, json_value
        ),
    )


def _like_pattern(pattern: str) -> str:
    """Ditto's ``*`` and ``?`` as SQL's ``%`` and ``_``; every other character is literal."""
    out: list[str] = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def _like(where: _Column | _JsonPath, pattern: str, case_insensitive: bool) -> sql.Composable:
    like = sql.SQL("ILIKE" if case_insensitive else "LIKE")
    sql_pattern = sql.Literal(_like_pattern(pattern))
    escape = sql.Literal("\\")
    if isinstance(where, _Column):
        if where.kind != "text":
            return _FALSE
        test = sql.SQL("({} {} {} ESCAPE {})").format(where.ref, like, sql_pattern, escape)
        return _guarded(where, test)
    return _json_any(
        where,
        lambda v: sql.SQL(
            "(jsonb_typeof({}) = 'string' AND ({} #>> '{{}}') {} {} ESCAPE {})"
        ).format(v, v, like, sql_pattern, escape),
    )


def _sort_key(field: SortField) -> tuple[sql.Composable, Kind, bool]:
    """The sort key's SQL expression, its kind and whether it may be NULL (absent)."""
    where = _locate(field.property)
    if isinstance(where, _Column):
        return where.ref, where.kind, where.nullable
    return where.ref, "json", True


def order_sql(sort: Sequence[SortField]) -> sql.Composed:
    """``ORDER BY`` the sort keys (absent values lowest), then thing_id; by thing_id if none."""
    terms: list[sql.Composable] = [
        sql.SQL("{} DESC NULLS LAST" if f.descending else "{} ASC NULLS FIRST").format(
            _sort_key(f)[0]
        )
        for f in sort
    ]
    terms.append(sql.SQL("thing_id ASC"))
    return sql.SQL("ORDER BY {}").format(sql.SQL(", ").join(terms))


def _sort_text(sort: Sequence[SortField]) -> str:
    return ",".join(("-" if f.descending else "+") + f.property.pointer for f in sort)


def _fingerprint(filter_node: FilterNode | None) -> str:
    text = "" if filter_node is None else repr(filter_node)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def next_cursor(
    last_row_sort_values: Sequence[object],
    thing_id: str,
    *,
    sort: Sequence[SortField],
    filter_node: FilterNode | None,
) -> str:
    """The cursor of the page after the row with these sort values (the columns search_query
    adds after THING_COLUMNS) and thingId, for this sort and filter: base64url JSON."""
    values = [v.isoformat() if isinstance(v, datetime) else v for v in last_row_sort_values]
    payload = {"s": _sort_text(sort), "f": _fingerprint(filter_node), "k": values, "t": thing_id}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(cursor: str) -> dict[str, Any]:
    if len(cursor) > _CURSOR_MAX or not _CURSOR_RE.fullmatch(cursor):
        raise InvalidCursorError("the cursor is not one this server gave out")
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, RecursionError) as err:  # ValueError: binascii, Unicode and JSON errors
        raise InvalidCursorError("the cursor is not one this server gave out") from err
    if not isinstance(payload, dict) or set(payload) != {"s", "f", "k", "t"}:
        raise InvalidCursorError("the cursor is not one this server gave out")
    return payload


def _cursor_value(kind: Kind, nullable: bool, value: Any) -> sql.Composable | None:
    """A sort value from a cursor as SQL (None for an absent value); ValueError if it is wrong."""
    if value is None and nullable:
        return None
    if kind == "text" and isinstance(value, str) and "\0" not in value:
        return sql.Literal(value)
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return sql.Literal(value)
    if kind == "timestamp" and isinstance(value, str):
        stamp = datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            raise ValueError("timestamp without offset")
        return sql.Literal(stamp)
    if kind == "json" and isinstance(value, str) and "\\u0000" not in value:
        json.loads(value)
        return sql.SQL("{}::jsonb").format(sql.Literal(value))
    raise ValueError(f"not a {kind} sort value: {value!r}")


def cursor_sql(
    cursor: str, sort: Sequence[SortField], filter_node: FilterNode | None
) -> sql.Composed:
    """The condition "after the cursor's row" in the order of ``order_sql(sort)``."""
    payload = _decode(cursor)
    if payload["s"] != _sort_text(sort):
        raise InvalidCursorError("the cursor was made for a different sort")
    if payload["f"] != _fingerprint(filter_node):
        raise InvalidCursorError("the cursor was made for a different filter")
    values, thing_id = payload["k"], payload["t"]
    if (
        not isinstance(values, list)
        or len(values) != len(sort)
        or not isinstance(thing_id, str)
        or "\0" in thing_id
    ):
        raise InvalidCursorError("the cursor is not one this server gave out")
    keys: list[tuple[sql.Composable, bool, bool, sql.Composable | None]] = []
    for field, value in zip(sort, values, strict=True):
        key, kind, nullable = _sort_key(field)
        try:
            keys.append((key, field.descending, nullable, _cursor_value(kind, nullable, value)))
        except (ValueError, RecursionError) as err:
            raise InvalidCursorError("the cursor is not one this server gave out") from err
    keys.append((sql.SQL("thing_id"), False, False, sql.Literal(thing_id)))
    # Row after (v1, …, vn, id): for some i, keys before i equal and key i strictly after.
    branches: list[sql.Composable] = []
    for i, (key, descending, nullable, value) in enumerate(keys):
        equal = [_same(k, v) for k, _, _, v in keys[:i]]
        branches.append(sql.SQL(" AND ").join([*equal, _after(key, descending, nullable, value)]))
    return sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("({})").format(b) for b in branches))


def _same(key: sql.Composable, value: sql.Composable | None) -> sql.Composable:
    if value is None:
        return sql.SQL("{} IS NULL").format(key)
    return sql.SQL("{} = {}").format(key, value)


def _after(
    key: sql.Composable, descending: bool, nullable: bool, value: sql.Composable | None
) -> sql.Composable:
    # Absent (NULL) keys sort lowest: first when ascending, last when descending.
    if value is None:
        return _FALSE if descending else sql.SQL("{} IS NOT NULL").format(key)
    if descending and nullable:
        return sql.SQL("({} < {} OR {} IS NULL)").format(key, value, key)
    if descending:
        return sql.SQL("{} < {}").format(key, value)
    return sql.SQL("{} > {}").format(key, value)


def _where(
    filter_node: FilterNode | None,
    namespaces: Sequence[str],
    scope_sql: sql.Composable | None,
    extra: Sequence[sql.Composable] = (),
) -> sql.Composable:
    conditions: list[sql.Composable] = []
    if filter_node is not None:
        conditions.append(filter_sql(filter_node))
    if namespaces:
        conditions.append(
            sql.SQL("namespace = ANY({}::text[])").format(sql.Literal(list(namespaces)))
        )
    if scope_sql is not None:
        conditions.append(sql.SQL("({})").format(scope_sql))
    conditions.extend(extra)
    return sql.SQL(" AND ").join(conditions) if conditions else _TRUE


def search_query(
    filter_node: FilterNode | None,
    options: SearchOptions,
    namespaces: Sequence[str],
    scope_sql: sql.Composable | None,
) -> sql.Composed:
    """One page of matching things, plus one row to tell whether another page follows.

    Selects THING_COLUMNS, then the sort key values as ``sort_0``, ``sort_1``, … (jsonb keys as
    text), which ``page_and_cursor`` turns into the next cursor. Raises InvalidCursorError.
    """
    extra = (
        [] if options.cursor is None else [cursor_sql(options.cursor, options.sort, filter_node)]
    )
    columns: list[sql.Composable] = [sql.Identifier(c) for c in THING_COLUMNS]
    for i, field in enumerate(options.sort):
        key, kind, _ = _sort_key(field)
        shown = sql.SQL("{}::text").format(key) if kind == "json" else key
        columns.append(sql.SQL("{} AS {}").format(shown, sql.Identifier(f"sort_{i}")))
    return sql.SQL("SELECT {} FROM things WHERE {} {} LIMIT {}").format(
        sql.SQL(", ").join(columns),
        _where(filter_node, namespaces, scope_sql, extra),
        order_sql(options.sort),
        sql.Literal(options.size + 1),
    )


def count_query(
    filter_node: FilterNode | None, namespaces: Sequence[str], scope_sql: sql.Composable | None
) -> sql.Composed:
    """How many things match (Ditto's ``/search/things/count``)."""
    return sql.SQL("SELECT count(*) FROM things WHERE {}").format(
        _where(filter_node, namespaces, scope_sql)
    )


Row = TypeVar("Row", bound=Sequence[Any] | Mapping[str, Any])


def page_and_cursor(
    rows: Sequence[Row], options: SearchOptions, filter_node: FilterNode | None
) -> tuple[list[Row], str | None]:
    """The rows of this page (search_query's look-ahead row dropped) and the next page's cursor,
    None on the last page. Rows may be tuples or dicts (``dict_row``)."""
    if len(rows) <= options.size:
        return list(rows), None
    page = list(rows[: options.size])
    last = page[-1]
    if isinstance(last, Mapping):
        values = [last[f"sort_{i}"] for i in range(len(options.sort))]
        thing_id = last["thing_id"]
    else:
        values = list(last[len(THING_COLUMNS) :])
        thing_id = last[0]
    cursor = next_cursor(values, str(thing_id), sort=options.sort, filter_node=filter_node)
    return page, cursor
