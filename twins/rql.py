"""Ditto's search language (RQL): filters, options, field selections and namespaces, as data.

Pure parsing, no I/O: ``parse_filter`` turns ``and(eq(attributes/region,"310113"),gt(_revision,2))``
into a tree of frozen dataclasses, ``parse_options`` reads ``size(50),sort(-_modified),cursor(…)``,
``parse_fields`` reads ``thingId,attributes(name,adcode)`` and ``project`` applies it to a thing's
JSON. Every syntax error is an ``RqlSyntaxError`` with the 0-based offset where parsing stopped.
The grammar follows Ditto's (https://eclipse.dev/ditto/basic-rql.html, basic-search.html,
httpapi-concepts.html#with-field-selector); where this module is stricter or wider, it says so.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from twins.errors import TwinsError

__all__ = [
    "DEFAULT_SIZE",
    "MAX_DEPTH",
    "MAX_SIZE",
    "And",
    "Comparison",
    "ComparisonOperator",
    "Exists",
    "FieldSelection",
    "FilterNode",
    "In",
    "Like",
    "Not",
    "Or",
    "Property",
    "RqlSyntaxError",
    "SearchOptions",
    "SortField",
    "Value",
    "parse_fields",
    "parse_filter",
    "parse_namespaces",
    "parse_options",
    "project",
]

DEFAULT_SIZE = 25  # Ditto's default page size
MAX_SIZE = 200  # Ditto's largest page
MAX_DEPTH = 50  # nesting of and/or/not: deeper filters are refused, not recursed into

# Properties outside attributes and features that a filter or a sort may name.
_TEXT_FIELDS = frozenset({"thingId", "policyId", "definition", "_namespace"})
_NUMBER_FIELDS = frozenset({"_revision"})
_TIMESTAMP_FIELDS = frozenset({"_created", "_modified"})
_ROOT_FIELDS = _TEXT_FIELDS | _NUMBER_FIELDS | _TIMESTAMP_FIELDS

Value: TypeAlias = str | int | float | bool | datetime | None
ComparisonOperator = Literal["eq", "ne", "gt", "ge", "lt", "le"]

_COMPARISONS: dict[str, ComparisonOperator] = {
    op: op for op in ("eq", "ne", "gt", "ge", "lt", "le")
}
_OPERATORS = ("and", "or", "not", *_COMPARISONS, "in", "like", "ilike", "exists")
_OPTIONS = ("size", "sort", "cursor")
_WHITESPACE = " \t\r\n\f"
_NAME_RE = re.compile(r"[A-Za-z]+")
_KEYWORD_RE = re.compile(r"[A-Za-z0-9_]+")
_WORD_RE = re.compile(r"[^\s,()\"']+")
_QUOTED_RE = re.compile(r"\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?")
# Ditto's numbers, plus an exponent (Ditto's grammar has none; JSON has one).
_NUMBER_RE = re.compile(r"[+-]?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PROPERTY_STOP = set(",()\"'\0" + _WHITESPACE)
_FIELD_STOP = set(",()")
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.-]+")  # the namespace part of a thingId (migration 0002)
_ESCAPES = {"\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_PROPERTY_HELP = (
    "a searchable property (thingId, policyId, definition, _namespace, _revision, _created, "
    "_modified, attributes/<path>, features/<id>/properties/<path>, "
    "features/<id>/desiredProperties/<path>, features/<id>/definition)"
)


class RqlSyntaxError(TwinsError):
    """A filter, option, fields or namespaces parameter that does not parse (Ditto answers 400)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Property:
    """A field of a thing named in a search: its JSON pointer, split into unescaped segments."""

    segments: tuple[str, ...]

    @property
    def pointer(self) -> str:
        """The property as RQL writes it, e.g. ``attributes/location/city``."""
        return "/".join(s.replace("~", "~0").replace("/", "~1") for s in self.segments)


@dataclass(frozen=True)
class Comparison:
    """``eq``, ``ne``, ``gt``, ``ge``, ``lt`` or ``le`` of a property and a value."""

    operator: ComparisonOperator
    property: Property
    value: Value


@dataclass(frozen=True)
class In:
    """``in(property, v1, v2, …)``: the property equals one of the values."""

    property: Property
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Like:
    """``like``/``ilike``: a string property matching a pattern with ``*`` and ``?`` wildcards."""

    property: Property
    pattern: str
    case_insensitive: bool = False


@dataclass(frozen=True)
class Exists:
    """``exists(property)``: the thing has the property (or the feature)."""

    property: Property


@dataclass(frozen=True)
class And:
    """Every operand matches."""

    operands: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    """At least one operand matches."""

    operands: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    """The operand does not match."""

    operand: FilterNode


FilterNode: TypeAlias = Comparison | In | Like | Exists | And | Or | Not


@dataclass(frozen=True)
class SortField:
    """One key of ``sort(…)``: a property, ascending (``+``) or descending (``-``)."""

    property: Property
    descending: bool = False


@dataclass(frozen=True)
class SearchOptions:
    """The ``option`` parameter: page size, sort keys (empty: by thingId) and the cursor."""

    size: int = DEFAULT_SIZE
    sort: tuple[SortField, ...] = ()
    cursor: str | None = None


@dataclass(frozen=True)
class FieldSelection:
    """The ``fields`` parameter: the JSON pointers (as segment tuples) a result keeps."""

    paths: tuple[tuple[str, ...], ...]


class _Scanner:
    """A position in a parameter's text, with the error messages that name it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def take(self, pattern: re.Pattern[str]) -> str:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def take_until(self, stop: set[str]) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stop:
            self.pos += 1
        return self.text[start : self.pos]

    def found(self, position: int | None = None) -> str:
        """What stands at ``position``, for a message: a word, one character or end of input."""
        at = self.pos if position is None else position
        if at >= len(self.text):
            return "end of input"
        word = _QUOTED_RE.match(self.text, at) or _WORD_RE.match(self.text, at)
        token = word.group()[:40] if word else self.text[at]
        return repr(token)

    def error(self, expected: str, position: int | None = None) -> RqlSyntaxError:
        at = self.pos if position is None else position
        return RqlSyntaxError(f"expected {expected} at position {at}, found {self.found(at)}", at)

    def expect(self, char: str, expected: str | None = None) -> None:
        self.skip_ws()
        if self.peek() != char:
            raise self.error(expected or repr(char))
        self.pos += 1

    def accept(self, char: str) -> bool:
        self.skip_ws()
        if self.peek() == char:
            self.pos += 1
            return True
        return False


def parse_filter(text: str) -> FilterNode:
    """Parse Ditto's ``filter`` parameter (one RQL query) into a tree."""
    scanner = _Scanner(text)
    node = _query(scanner, depth=1)
    scanner.skip_ws()
    if not scanner.at_end():
        raise scanner.error("end of input")
    return node


def _query(s: _Scanner, *, depth: int) -> FilterNode:
    s.skip_ws()
    start = s.pos
    name = s.take(_NAME_RE)
    if name not in _OPERATORS:
        raise s.error("one of " + ", ".join(_OPERATORS), start)
    if depth > MAX_DEPTH and name in ("and", "or", "not"):
        raise s.error(f"operators nested at most {MAX_DEPTH} deep", start)
    s.expect("(")
    if name in ("and", "or"):
        operands = [_query(s, depth=depth + 1)]
        while s.accept(","):
            operands.append(_query(s, depth=depth + 1))
        s.expect(")", "',' or ')'")
        return And(tuple(operands)) if name == "and" else Or(tuple(operands))
    if name == "not":
        operand = _query(s, depth=depth + 1)
        s.expect(")")
        return Not(operand)
    s.skip_ws()
    prop_start = s.pos
    prop = _property(s, containers=name == "exists")
    if name in ("like", "ilike") and prop.segments[0] in _NUMBER_FIELDS | _TIMESTAMP_FIELDS:
        raise RqlSyntaxError(
            f"expected a property holding text at position {prop_start}, found {prop.pointer!r}",
            prop_start,
        )
    if name == "exists":
        s.expect(")")
        return Exists(prop)
    s.expect(",")
    if name in ("like", "ilike"):
        node: FilterNode = Like(prop, _pattern(s), case_insensitive=name == "ilike")
    elif name == "in":
        values = [_value(s, prop)]
        while s.accept(","):
            values.append(_value(s, prop))
        s.expect(")", "',' or ')'")
        return In(prop, tuple(values))
    else:
        node = Comparison(_COMPARISONS[name], prop, _value(s, prop))
    s.expect(")")
    return node


def _property(s: _Scanner, *, containers: bool) -> Property:
    """A property; ``containers`` also admits ``features/<id>`` and ``…/properties`` (exists)."""
    s.skip_ws()
    start = s.pos
    raw = s.take_until(_PROPERTY_STOP)
    if not raw:
        raise s.error("a property")
    segments, offsets = _pointer(raw, start, s)
    bad = _property_problem(segments, offsets, containers=containers)
    if bad is not None:
        expected, at = bad
        raise RqlSyntaxError(f"expected {expected} at position {at}, found {raw!r}", at)
    return Property(segments)


def _pointer(raw: str, start: int, s: _Scanner) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Split a JSON pointer (leading ``/`` optional, ``~0``/``~1`` escapes) into segments."""
    body, offset = (raw[1:], start + 1) if raw.startswith("/") else (raw, start)
    segments: list[str] = []
    offsets: list[int] = []
    for part in body.split("/"):
        if not part:
            raise s.error("a path segment", offset)
        tilde = re.search(r"~(?![01])", part)
        if tilde is not None:
            raise s.error("'~0' or '~1' (JSON pointer escapes)", offset + tilde.start())
        segments.append(part.replace("~1", "/").replace("~0", "~"))
        offsets.append(offset)
        offset += len(part) + 1
    return tuple(segments), tuple(offsets)


def _property_problem(
    segments: tuple[str, ...], offsets: tuple[int, ...], *, containers: bool
) -> tuple[str, int] | None:
    """What is wrong with a property path, and where; None when it is searchable."""
    root = segments[0]
    problem: tuple[str, int] | None = None
    if root in _ROOT_FIELDS:
        if len(segments) > 1:
            problem = (f"nothing after {root!r}", offsets[1] - 1)
    elif root == "attributes":
        if len(segments) == 1:
            problem = ("'/' and an attribute path", offsets[0] + len(root))
    elif root == "features":
        problem = _feature_problem(segments, offsets, containers=containers)
    else:
        problem = (_PROPERTY_HELP, offsets[0])
    return problem


def _feature_problem(
    segments: tuple[str, ...], offsets: tuple[int, ...], *, containers: bool
) -> tuple[str, int] | None:
    """What is wrong with a ``features/…`` path, and where; None when it is searchable."""
    depth = len(segments)
    part = segments[2] if depth > 2 else ""
    problem: tuple[str, int] | None = None
    if depth == 1:
        problem = ("'/' and a feature id", offsets[0] + len("features"))
    elif depth == 2:
        if not containers:
            problem = ("a path inside the feature (exists only)", offsets[1])
    elif part == "definition":
        if depth > 3:
            problem = ("nothing after 'definition'", offsets[3] - 1)
    elif part not in ("properties", "desiredProperties"):
        problem = ("'properties', 'desiredProperties' or 'definition'", offsets[2])
    elif depth == 3 and not containers:
        problem = (f"a path after {part!r} (exists only)", offsets[2])
    return problem


def _value(s: _Scanner, prop: Property) -> Value:
    s.skip_ws()
    start = s.pos
    value = _literal(s)
    if prop.segments[0] not in _TIMESTAMP_FIELDS:
        return value
    # _created and _modified are ISO-8601 UTC strings in Ditto; here they become instants.
    stamp = _timestamp(value) if isinstance(value, str) else None
    if stamp is None:
        raise RqlSyntaxError(
            f"expected an ISO-8601 timestamp string at position {start}, found {s.found(start)}",
            start,
        )
    return stamp


def _timestamp(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _pattern(s: _Scanner) -> str:
    s.skip_ws()
    start = s.pos
    value = _literal(s)
    if not isinstance(value, str):
        raise RqlSyntaxError(
            f"expected a string pattern at position {start}, found {s.found(start)}", start
        )
    return value


def _literal(s: _Scanner) -> str | int | float | bool | None:
    start = s.pos
    char = s.peek()
    if char in ('"', "'"):
        return _string(s)
    if char and char in "0123456789+-":
        return _number(s)
    word = s.take(_KEYWORD_RE)
    keywords: dict[str, bool | None] = {"true": True, "false": False, "null": None}
    if word in keywords:
        return keywords[word]
    raise s.error("a value (a string, a number, true, false or null)", start)


def _number(s: _Scanner) -> int | float:
    start = s.pos
    text = s.take(_NUMBER_RE)
    if not text:
        raise s.error("a number", start)
    if "." not in text and "e" not in text.lower():
        return int(text)
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise RqlSyntaxError(
            f"expected a number within range at position {start}, found {text!r}", start
        )
    return number


def _string(s: _Scanner) -> str:
    """A quoted string with Ditto's escapes: the quote, ``\\\\``, ``/``, b f n r t and ``uXXXX``."""
    start = s.pos
    quote = s.text[start]
    s.pos += 1
    chars: list[str] = []
    while True:
        if s.at_end():
            raise RqlSyntaxError(
                f"expected closing {quote!r} for the string opened at position {start}, "
                "found end of input",
                start,
            )
        char = s.text[s.pos]
        if char == quote:
            s.pos += 1
            break
        if char != "\\":
            chars.append(char)
            s.pos += 1
            continue
        s.pos += 1
        code = s.text[s.pos + 1 : s.pos + 5]
        escaped = s.peek()
        if escaped == quote:
            chars.append(quote)
            s.pos += 1
        elif escaped in _ESCAPES and escaped:
            chars.append(_ESCAPES[escaped])
            s.pos += 1
        elif escaped == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", code):
            chars.append(chr(int(code, 16)))
            s.pos += 5
        else:
            found = repr(escaped) if escaped else "end of input"
            raise RqlSyntaxError(
                f"expected an escape ({quote}, \\, /, b, f, n, r, t or uXXXX) after '\\' at"
                f" position {s.pos}, found {found}",
                s.pos,
            )
    text = "".join(chars)
    if "\0" in text:  # PostgreSQL text and jsonb cannot hold it
        raise RqlSyntaxError(
            f"expected a string without NUL characters at position {start}, found one", start
        )
    try:  # \uD83D\uDE00 pairs become one character; a lone surrogate is an error
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise RqlSyntaxError(
            f"expected valid \\u escapes in the string at position {start}, found a lone surrogate",
            start,
        ) from None


def parse_options(text: str | None) -> SearchOptions:
    """Parse Ditto's ``option`` parameter: ``size(n)``, ``sort(±p,…)`` and ``cursor(c)``."""
    if not text:
        return SearchOptions()
    s = _Scanner(text)
    seen: dict[str, Any] = {}
    while True:
        s.skip_ws()
        start = s.pos
        name = s.take(_NAME_RE)
        if name not in _OPTIONS:
            hint = " (limit is deprecated in Ditto: use size and cursor)" if name == "limit" else ""
            raise RqlSyntaxError(
                f"expected one of size, sort, cursor at position {start}, found {s.found(start)}"
                + hint,
                start,
            )
        if name in seen:
            raise RqlSyntaxError(
                f"expected each option once at position {start}, found a second {name!r}", start
            )
        s.expect("(")
        if name == "size":
            seen[name] = _size(s)
        elif name == "sort":
            seen[name] = _sort(s)
        else:
            s.skip_ws()
            cursor = s.take_until(_PROPERTY_STOP)
            if not cursor:
                raise s.error("a cursor")
            seen[name] = cursor
        s.expect(")")
        s.skip_ws()
        if s.at_end():
            break
        s.expect(",", "',' or end of input")
    return SearchOptions(
        size=seen.get("size", DEFAULT_SIZE), sort=seen.get("sort", ()), cursor=seen.get("cursor")
    )


def _size(s: _Scanner) -> int:
    s.skip_ws()
    start = s.pos
    digits = s.take(re.compile(r"[0-9]+"))
    if not digits or not 1 <= int(digits) <= MAX_SIZE:
        raise s.error(f"a page size from 1 to {MAX_SIZE}", start)
    return int(digits)


def _sort(s: _Scanner) -> tuple[SortField, ...]:
    fields: list[SortField] = []
    while True:
        s.skip_ws()
        direction = s.peek()
        if not direction or direction not in "+-":
            raise s.error("'+' or '-' (in a URL: %2B or %2D)")
        s.pos += 1
        fields.append(SortField(_property(s, containers=False), descending=direction == "-"))
        if not s.accept(","):
            return tuple(fields)


def parse_fields(text: str) -> FieldSelection:
    """Parse Ditto's ``fields`` parameter: pointers, comma-separated, with ``a(b,c)`` groups."""
    s = _Scanner(text)
    paths = _field_list(s, ())
    if not s.at_end():
        raise s.error("',' or end of input")
    return FieldSelection(tuple(dict.fromkeys(paths)))


def _field_list(s: _Scanner, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    while True:
        start = s.pos
        raw = s.take_until(_FIELD_STOP)
        if not raw:
            raise s.error("a field")
        segments, _ = _pointer(raw, start, s)
        if s.peek() == "(":
            s.pos += 1
            paths.extend(_field_list(s, prefix + segments))
            if s.peek() != ")":
                raise s.error("',' or ')'")
            s.pos += 1
        else:
            paths.append(prefix + segments)
        if s.peek() != ",":
            return paths
        s.pos += 1


def parse_namespaces(text: str | None) -> tuple[str, ...]:
    """Parse Ditto's ``namespaces`` parameter: a comma-separated list of namespaces."""
    if not text:
        return ()
    namespaces: list[str] = []
    position = 0
    for item in text.split(","):
        if not _NAMESPACE_RE.fullmatch(item):
            found = repr(item) if item else _Scanner(text).found(position)
            raise RqlSyntaxError(
                f"expected a namespace at position {position}, found {found}", position
            )
        namespaces.append(item)
        position += len(item) + 1
    return tuple(dict.fromkeys(namespaces))


def project(
    thing_json: Mapping[str, Any], selection: FieldSelection, *, keep_thing_id: bool = True
) -> dict[str, Any]:
    """The parts of a thing's JSON that ``selection`` names, and thingId unless told not to.

    Search results always carry thingId; Ditto's GET of one thing with ``fields=attributes``
    answers only ``{"attributes": …}`` (httpapi-concepts.html#field-selector-examples).
    """
    result: dict[str, Any] = {}
    if keep_thing_id and "thingId" in thing_json:
        result["thingId"] = thing_json["thingId"]
    for path in selection.paths:
        if path == ("_namespace",) and "_namespace" not in thing_json:
            thing_id = thing_json.get("thingId")
            if isinstance(thing_id, str):
                result["_namespace"] = thing_id.split(":", 1)[0]
            continue
        _select(thing_json, path, result, top=True, feature_ids=False)
    return result


def _select(
    source: Mapping[str, Any],
    path: tuple[str, ...],
    target: dict[str, Any],
    *,
    top: bool,
    feature_ids: bool,
) -> None:
    """Copy ``path`` of ``source`` into ``target``; ``*`` stands for every feature id."""
    head, rest = path[0], path[1:]
    keys = list(source) if head == "*" and feature_ids else [head]
    for key in keys:
        if key not in source:
            continue
        value = source[key]
        if not rest:
            target[key] = copy.deepcopy(value)
            continue
        if not isinstance(value, Mapping):
            continue
        existing = target.get(key)
        child: dict[str, Any] = existing if isinstance(existing, dict) else {}
        _select(value, rest, child, top=False, feature_ids=top and key == "features")
        if child:
            target[key] = child
