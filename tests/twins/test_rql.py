"""Ditto's search language parsed into data: filters, options, fields, namespaces and projection."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from twins.errors import TwinsError
from twins.rql import (
    MAX_DEPTH,
    And,
    Comparison,
    Exists,
    FieldSelection,
    FilterNode,
    In,
    Like,
    Not,
    Or,
    Property,
    RqlSyntaxError,
    SearchOptions,
    SortField,
    Value,
    parse_fields,
    parse_filter,
    parse_namespaces,
    parse_options,
    project,
)


def prop(*segments: str) -> Property:
    return Property(segments)


REGION = prop("attributes", "region")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('eq(attributes/region,"310113")', Comparison("eq", REGION, "310113")),
        ('ne(attributes/region,"310113")', Comparison("ne", REGION, "310113")),
        ("gt(attributes/workers,30)", Comparison("gt", prop("attributes", "workers"), 30)),
        ("ge(attributes/workers,30)", Comparison("ge", prop("attributes", "workers"), 30)),
        ("lt(attributes/workers,30)", Comparison("lt", prop("attributes", "workers"), 30)),
        ("le(attributes/workers,30)", Comparison("le", prop("attributes", "workers"), 30)),
        ('in(attributes/region,"310113","310115")', In(REGION, ("310113", "310115"))),
        ('in(attributes/region,"310113")', In(REGION, ("310113",))),
        ('like(attributes/name,"Pump*")', Like(prop("attributes", "name"), "Pump*")),
        ('ilike(attributes/name,"pump?1")', Like(prop("attributes", "name"), "pump?1", True)),
        ("exists(attributes/region)", Exists(REGION)),
        ("exists(features/measurement)", Exists(prop("features", "measurement"))),
        ("exists(features/fan/properties)", Exists(prop("features", "fan", "properties"))),
        ("not(exists(definition))", Not(Exists(prop("definition")))),
        (
            'and(eq(attributes/region,"310113"),exists(thingId))',
            And((Comparison("eq", REGION, "310113"), Exists(prop("thingId")))),
        ),
        (
            "or(eq(_revision,1),eq(_revision,2),eq(_revision,3))",
            Or(tuple(Comparison("eq", prop("_revision"), n) for n in (1, 2, 3))),
        ),
        ("and(exists(policyId))", And((Exists(prop("policyId")),))),
    ],
)
def test_each_operator(text: str, expected: FilterNode) -> None:
    assert parse_filter(text) == expected


def test_operators_nest() -> None:
    text = (
        "or(and(eq(attributes/a,1),not(or(exists(attributes/b),lt(attributes/c,2))))"
        ',like(thingId,"x*"))'
    )
    a, b, c = (prop("attributes", name) for name in "abc")
    assert parse_filter(text) == Or(
        (
            And((Comparison("eq", a, 1), Not(Or((Exists(b), Comparison("lt", c, 2)))))),
            Like(prop("thingId"), "x*"),
        )
    )


def test_whitespace_between_arguments_is_allowed() -> None:
    assert parse_filter(' and( eq(attributes/region, "310113") , exists(thingId) ) ') == And(
        (Comparison("eq", REGION, "310113"), Exists(prop("thingId")))
    )


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"310113"', "310113"),
        ('""', ""),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"a\/b"', "a/b"),
        (r'"line\nbreak\ttab"', "line\nbreak\ttab"),
        (r'"\u7c89\u5c18"', "粉尘"),
        (r'"\ud83d\ude00"', "😀"),
        ('"粉尘"', "粉尘"),
        ("'single'", "single"),
        (r"'it\'s'", "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        ('"it\'s"', "it's"),
        ('"a,b)c("', "a,b)c("),
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("+7", 7),
        ("2.5", 2.5),
        ("-0.25", -0.25),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
        ("-1.5e+2", -150.0),
        ("true", True),
        ("false", False),
        ("null", None),
    ],
)
def test_values(literal: str, value: Value) -> None:
    node = parse_filter(f"eq(attributes/a,{literal})")
    assert node == Comparison("eq", prop("attributes", "a"), value)
    assert type(node.value) is type(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thingId", prop("thingId")),
        ("policyId", prop("policyId")),
        ("definition", prop("definition")),
        ("_namespace", prop("_namespace")),
        ("_revision", prop("_revision")),
        ("attributes/location/city", prop("attributes", "location", "city")),
        ("/attributes/location", prop("attributes", "location")),
        ("attributes/a~1b~0c", prop("attributes", "a/b~c")),
        ("attributes/地区", prop("attributes", "地区")),
        ("features/m/properties/value", prop("features", "m", "properties", "value")),
        ("features/m/desiredProperties/on", prop("features", "m", "desiredProperties", "on")),
        ("features/m/definition", prop("features", "m", "definition")),
    ],
)
def test_properties(text: str, expected: Property) -> None:
    assert parse_filter(f"exists({text})") == Exists(expected)
    assert parse_filter(f"eq({text},1)") == Comparison("eq", expected, 1)


def test_property_pointer_escapes_what_the_segments_hold() -> None:
    assert prop("attributes", "a/b~c").pointer == "attributes/a~1b~0c"


@pytest.mark.parametrize(
    ("text", "stamp"),
    [
        ('gt(_created,"2020-08-05T12:17")', datetime(2020, 8, 5, 12, 17, tzinfo=UTC)),
        ('gt(_created,"2020-08-05")', datetime(2020, 8, 5, tzinfo=UTC)),
        ('gt(_created,"2020-08-05T12:17:00Z")', datetime(2020, 8, 5, 12, 17, tzinfo=UTC)),
        (
            'gt(_created,"2020-08-05T20:17:00+08:00")',
            datetime(2020, 8, 5, 20, 17, tzinfo=timezone(timedelta(hours=8))),
        ),
    ],
)
def test_created_and_modified_take_iso_timestamps_in_utc_by_default(
    text: str, stamp: datetime
) -> None:
    assert parse_filter(text) == Comparison("gt", prop("_created"), stamp)


def test_timestamps_in_in_become_instants_too() -> None:
    assert parse_filter('in(_modified,"2024-01-01","2024-01-02")') == In(
        prop("_modified"),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)),
    )


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        (
            "eq(attributes/a,1),eq(attributes/b,2)",
            "expected end of input at position 18, found ','",
            18,
        ),
        (
            "not(eq(attributes/a,1),eq(attributes/b,2))",
            "expected ')' at position 22, found ','",
            22,
        ),
        (
            "and()",
            "expected one of and, or, not, eq, ne, gt, ge, lt, le, in, like, ilike, exists"
            " at position 4, found ')'",
            4,
        ),
        (
            "eqq(attributes/a,1)",
            "expected one of and, or, not, eq, ne, gt, ge, lt, le, in, like, ilike, exists"
            " at position 0, found 'eqq'",
            0,
        ),
        (
            "",
            "expected one of and, or, not, eq, ne, gt, ge, lt, le, in, like, ilike, exists"
            " at position 0, found end of input",
            0,
        ),
        ("eq(attributes/a)", "expected ',' at position 15, found ')'", 15),
        ("eq(,1)", "expected a property at position 3, found ','", 3),
        ("exists()", "expected a property at position 7, found ')'", 7),
        ("eq(attributes/a,1,2)", "expected ')' at position 17, found ','", 17),
        (
            "in(attributes/a,)",
            "expected a value (a string, a number, true, false or null) at position 16, found ')'",
            16,
        ),
        (
            "and(eq(attributes/a,1) eq(attributes/b,2))",
            "expected ',' or ')' at position 23, found 'eq'",
            23,
        ),
        ("eq(attributes/a,1", "expected ')' at position 17, found end of input", 17),
        (
            'eq(attributes/a,"abc',
            "expected closing '\"' for the string opened at position 16, found end of input",
            16,
        ),
        (
            "eq(attributes/a,'abc",
            'expected closing "\'" for the string opened at position 16, found end of input',
            16,
        ),
        (
            r'eq(attributes/a,"\q")',
            "expected an escape (\", \\, /, b, f, n, r, t or uXXXX) after '\\' at position 18,"
            " found 'q'",
            18,
        ),
        (
            r'eq(attributes/a,"it\'s")',
            "expected an escape (\", \\, /, b, f, n, r, t or uXXXX) after '\\' at position 20,"
            ' found "\'"',
            20,
        ),
        (
            r'eq(attributes/a,"\ud83d")',
            "expected valid \\u escapes in the string at position 16, found a lone surrogate",
            16,
        ),
        (
            "eq(attributes/a,nul)",
            "expected a value (a string, a number, true, false or null) at position 16,"
            " found 'nul'",
            16,
        ),
        ("eq(attributes/a,-)", "expected a number at position 16, found '-'", 16),
        ("eq(attributes/a,007)", "expected ')' at position 17, found '07'", 17),
        (
            "eq(attributes/a,1e999)",
            "expected a number within range at position 16, found '1e999'",
            16,
        ),
        ("eq(attributes//a,1)", "expected a path segment at position 14, found '/a'", 14),
        ("eq(attributes/a/,1)", "expected a path segment at position 16, found ','", 16),
        (
            "eq(attributes/a~2,1)",
            "expected '~0' or '~1' (JSON pointer escapes) at position 15, found '~2'",
            15,
        ),
        ("eq(attributes/a b,1)", "expected ',' at position 16, found 'b'", 16),
        (
            "eq(foo,1)",
            "expected a searchable property (thingId, policyId, definition, _namespace,"
            " _revision, _created, _modified, attributes/<path>, features/<id>/properties/<path>,"
            " features/<id>/desiredProperties/<path>, features/<id>/definition) at position 3,"
            " found 'foo'",
            3,
        ),
        (
            "eq(attributes,1)",
            "expected '/' and an attribute path at position 13, found 'attributes'",
            13,
        ),
        ("eq(features,1)", "expected '/' and a feature id at position 11, found 'features'", 11),
        (
            "eq(features/m,1)",
            "expected a path inside the feature (exists only) at position 12, found 'features/m'",
            12,
        ),
        (
            "eq(features/m/properties,1)",
            "expected a path after 'properties' (exists only) at position 14,"
            " found 'features/m/properties'",
            14,
        ),
        (
            "eq(features/m/x/y,1)",
            "expected 'properties', 'desiredProperties' or 'definition' at position 14,"
            " found 'features/m/x/y'",
            14,
        ),
        (
            "eq(features/m/definition/x,1)",
            "expected nothing after 'definition' at position 24, found 'features/m/definition/x'",
            24,
        ),
        (
            "eq(thingId/x,1)",
            "expected nothing after 'thingId' at position 10, found 'thingId/x'",
            10,
        ),
        (
            'gt(_created,"yesterday")',
            "expected an ISO-8601 timestamp string at position 12, found '\"yesterday\"'",
            12,
        ),
        (
            "gt(_modified,5)",
            "expected an ISO-8601 timestamp string at position 13, found '5'",
            13,
        ),
        ("like(attributes/a,5)", "expected a string pattern at position 18, found '5'", 18),
        (
            'like(_revision,"1*")',
            "expected a property holding text at position 5, found '_revision'",
            5,
        ),
    ],
)
def test_syntax_errors_say_what_was_expected_where(text: str, message: str, position: int) -> None:
    with pytest.raises(RqlSyntaxError) as caught:
        parse_filter(text)
    assert (str(caught.value), caught.value.position) == (message, position)


def test_nesting_is_limited_before_recursion_runs_out() -> None:
    deep = "not(" * MAX_DEPTH + "exists(thingId)" + ")" * MAX_DEPTH
    assert parse_filter(deep) is not None
    with pytest.raises(RqlSyntaxError) as caught:
        parse_filter("not(" * 5000)
    position = 4 * MAX_DEPTH
    assert (str(caught.value), caught.value.position) == (
        f"expected operators nested at most {MAX_DEPTH} deep at position {position}, found 'not'",
        position,
    )


@pytest.mark.parametrize("literal", [r'"\u0000"', '"a\x00b"'])
def test_strings_may_not_hold_nul_characters(literal: str) -> None:
    with pytest.raises(RqlSyntaxError) as caught:
        parse_filter(f"eq(attributes/a,{literal})")
    assert (str(caught.value), caught.value.position) == (
        "expected a string without NUL characters at position 16, found one",
        16,
    )


def test_syntax_errors_are_twins_errors() -> None:
    with pytest.raises(TwinsError):
        parse_filter("eq(")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, SearchOptions(size=25, sort=(), cursor=None)),
        ("", SearchOptions()),
        ("size(50)", SearchOptions(size=50)),
        ("size(1)", SearchOptions(size=1)),
        ("size(200)", SearchOptions(size=200)),
        ("sort(+thingId)", SearchOptions(sort=(SortField(prop("thingId")),))),
        (
            "sort(+attributes/name,-_modified)",
            SearchOptions(
                sort=(
                    SortField(prop("attributes", "name")),
                    SortField(prop("_modified"), descending=True),
                )
            ),
        ),
        ("cursor(eyJzIjoiIn0)", SearchOptions(cursor="eyJzIjoiIn0")),
        (
            "sort(-features/m/properties/value),size(10),cursor(abc-_)",
            SearchOptions(
                size=10,
                sort=(SortField(prop("features", "m", "properties", "value"), descending=True),),
                cursor="abc-_",
            ),
        ),
        ("size(10), sort(+thingId)", SearchOptions(size=10, sort=(SortField(prop("thingId")),))),
    ],
)
def test_options(text: str | None, expected: SearchOptions) -> None:
    assert parse_options(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        (
            "limit(0,5)",
            "expected one of size, sort, cursor at position 0, found 'limit'"
            " (limit is deprecated in Ditto: use size and cursor)",
            0,
        ),
        ("bogus(1)", "expected one of size, sort, cursor at position 0, found 'bogus'", 0),
        ("size(0)", "expected a page size from 1 to 200 at position 5, found '0'", 5),
        ("size(201)", "expected a page size from 1 to 200 at position 5, found '201'", 5),
        ("size()", "expected a page size from 1 to 200 at position 5, found ')'", 5),
        ("size(3", "expected ')' at position 6, found end of input", 6),
        ("size(3);", "expected ',' or end of input at position 7, found ';'", 7),
        ("size(3),", "expected one of size, sort, cursor at position 8, found end of input", 8),
        ("size(3),size(4)", "expected each option once at position 8, found a second 'size'", 8),
        (
            "sort( thingId)",  # a "+" that URL decoding turned into a space
            "expected '+' or '-' (in a URL: %2B or %2D) at position 6, found 'thingId'",
            6,
        ),
        (
            "sort(+thingId,)",
            "expected '+' or '-' (in a URL: %2B or %2D) at position 14, found ')'",
            14,
        ),
        ("sort(+)", "expected a property at position 6, found ')'", 6),
        (
            "sort(+features/m)",
            "expected a path inside the feature (exists only) at position 15, found 'features/m'",
            15,
        ),
        ("cursor()", "expected a cursor at position 7, found ')'", 7),
    ],
)
def test_option_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(RqlSyntaxError) as caught:
        parse_options(text)
    assert (str(caught.value), caught.value.position) == (message, position)


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("thingId,attributes", [("thingId",), ("attributes",)]),
        (
            "thingId,attributes/name,features/measurement/properties/value",
            [
                ("thingId",),
                ("attributes", "name"),
                ("features", "measurement", "properties", "value"),
            ],
        ),
        ("attributes(name,adcode)", [("attributes", "name"), ("attributes", "adcode")]),
        ("features(measurement)", [("features", "measurement")]),
        (
            "attributes/address/postal(city,street)",
            [
                ("attributes", "address", "postal", "city"),
                ("attributes", "address", "postal", "street"),
            ],
        ),
        ("attributes(coffeemaker/serialno)", [("attributes", "coffeemaker", "serialno")]),
        (
            "features(m(properties(value,unit)),fan)",
            [
                ("features", "m", "properties", "value"),
                ("features", "m", "properties", "unit"),
                ("features", "fan"),
            ],
        ),
        ("/attributes/a~1b,thingId,thingId", [("attributes", "a/b"), ("thingId",)]),
        ("features/*/properties/on", [("features", "*", "properties", "on")]),
    ],
)
def test_fields(text: str, paths: list[tuple[str, ...]]) -> None:
    assert parse_fields(text) == FieldSelection(tuple(paths))


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "expected a field at position 0, found end of input", 0),
        ("a,", "expected a field at position 2, found end of input", 2),
        ("a,,b", "expected a field at position 2, found ','", 2),
        ("a()", "expected a field at position 2, found ')'", 2),
        ("a(b", "expected ',' or ')' at position 3, found end of input", 3),
        ("a(b))", "expected ',' or end of input at position 4, found ')'", 4),
        ("(a)", "expected a field at position 0, found '('", 0),
        ("attributes//x", "expected a path segment at position 11, found '/x'", 11),
    ],
)
def test_field_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(RqlSyntaxError) as caught:
        parse_fields(text)
    assert (str(caught.value), caught.value.position) == (message, position)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ()),
        ("", ()),
        ("dusttwin", ("dusttwin",)),
        ("org.eclipse.ditto,foo.bar,dusttwin", ("org.eclipse.ditto", "foo.bar", "dusttwin")),
        ("a,b,a", ("a", "b")),
    ],
)
def test_namespaces(text: str | None, expected: tuple[str, ...]) -> None:
    assert parse_namespaces(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("a,,b", "expected a namespace at position 2, found ','", 2),
        (",a", "expected a namespace at position 0, found ','", 0),
        ("a,", "expected a namespace at position 2, found end of input", 2),
        ("a,b c", "expected a namespace at position 2, found 'b c'", 2),
        ("a,b:c", "expected a namespace at position 2, found 'b:c'", 2),
    ],
)
def test_namespace_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(RqlSyntaxError) as caught:
        parse_namespaces(text)
    assert (str(caught.value), caught.value.position) == (message, position)


THING: dict[str, Any] = {
    "thingId": "dusttwin:enterprise-91350100M000100Y43",
    "policyId": "dusttwin:enterprise-91350100M000100Y43",
    "definition": "dusttwin:enterprise:1",
    "attributes": {
        "name": "Pump station 1",
        "adcode": "310113",
        "address": {"postal": {"city": "Shanghai", "street": "Jiangchang Rd"}, "floor": 3},
    },
    "features": {
        "measurement": {"properties": {"value": 3.2, "unit": "mg/m3"}, "definition": ["d:m:1"]},
        "fan": {"properties": {"on": True}},
    },
    "_revision": 7,
    "_created": "2024-01-01T00:00:00Z",
    "_modified": "2024-06-01T00:00:00Z",
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("thingId", {"thingId": THING["thingId"]}),
        (
            "attributes",  # thingId is kept even when not asked for
            {"thingId": THING["thingId"], "attributes": THING["attributes"]},
        ),
        (
            "attributes(name,adcode)",
            {
                "thingId": THING["thingId"],
                "attributes": {"name": "Pump station 1", "adcode": "310113"},
            },
        ),
        (
            "attributes/address/postal(city),attributes/name",
            {
                "thingId": THING["thingId"],
                "attributes": {
                    "address": {"postal": {"city": "Shanghai"}},
                    "name": "Pump station 1",
                },
            },
        ),
        (
            "features/measurement/properties/value,policyId",
            {
                "thingId": THING["thingId"],
                "features": {"measurement": {"properties": {"value": 3.2}}},
                "policyId": THING["policyId"],
            },
        ),
        (
            "features/*/properties/on",
            {"thingId": THING["thingId"], "features": {"fan": {"properties": {"on": True}}}},
        ),
        (
            "attributes/missing,attributes/name/deeper,features(nothing)",
            {"thingId": THING["thingId"]},
        ),
        (
            "_namespace,_revision,_modified",
            {
                "thingId": THING["thingId"],
                "_namespace": "dusttwin",
                "_revision": 7,
                "_modified": "2024-06-01T00:00:00Z",
            },
        ),
        (
            "attributes,attributes/name",
            {"thingId": THING["thingId"], "attributes": THING["attributes"]},
        ),
    ],
)
def test_project_keeps_only_the_selected_parts(fields: str, expected: dict[str, Any]) -> None:
    assert project(THING, parse_fields(fields)) == expected


def test_project_can_leave_out_an_unselected_thing_id() -> None:
    selection = parse_fields("attributes/name")
    projected = project(THING, selection, keep_thing_id=False)
    assert projected == {"attributes": {"name": "Pump station 1"}}


def test_project_copies_and_leaves_the_thing_as_it_was() -> None:
    before = copy.deepcopy(THING)
    projected = project(THING, parse_fields("attributes(address)"))
    projected["attributes"]["address"]["floor"] = 4
    assert before == THING
