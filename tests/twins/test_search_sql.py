"""RQL searches run on the real PostgreSQL: which things come back, in which order, page by page."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from twins.rql import SearchOptions, parse_filter, parse_options
from twins.search_sql import (
    InvalidCursorError,
    count_query,
    page_and_cursor,
    search_query,
)

Conn = psycopg.Connection[tuple[Any, ...]]

# Every query of this file is kept to its own things, as a jurisdiction would keep a caller's.
SCOPE = sql.SQL("thing_id LIKE {}").format(sql.Literal("rqltest%"))
CREATED = datetime(2024, 1, 1, tzinfo=UTC)
MODIFIED = datetime(2024, 6, 1, tzinfo=UTC)
DUST = {"properties": {"value": 1.5, "unit": "mg/m3"}, "definition": ["dusttwin:dust:1"]}

# thingId -> attributes, features, and the columns that differ from the defaults.
THINGS: dict[str, dict[str, Any]] = {
    "rqltest:t01": {
        "attributes": {
            "name": "alpha",
            "workers": 30,
            "region": "310113",
            "location": {"city": "Shanghai", "floor": 3},
        },
        "features": {"measurement": DUST},
    },
    "rqltest:t02": {
        "attributes": {
            "name": "bravo",
            "workers": "30",
            "region": "310115",
            "location": {"city": "Shanghai"},
        },
        "features": {"measurement": {"properties": {"value": 2.5}}},
    },
    "rqltest:t03": {
        "attributes": {"name": "Charlie", "workers": 30.0, "region": "310113"},
        "features": {"fan": {"properties": {"on": True}, "desiredProperties": {"on": False}}},
    },
    "rqltest:t04": {
        "attributes": {"name": "delta", "workers": 120, "tags": ["misc", "high-priority", 2, 3, 5]}
    },
    "rqltest:t05": {"attributes": {"name": "echo", "workers": True}},
    "rqltest:t06": {"attributes": {"code": "50%_off"}},
    "rqltest:t07": {"attributes": {"code": "50x_off"}},
    "rqltest:t08": {"attributes": {"code": "500_off"}},
    "rqltest:t09": {"attributes": {"code": "a\\b-1"}},
    "rqltest:t10": {"attributes": {"code": "ab-1"}},
    "rqltest:t11": {"attributes": {"name": "x') OR true --"}},
    "rqltest:t12": {"attributes": {"region": "310104", "workers": 7, "name": None}},
    "rqltest:t13": {"attributes": {"group": "s", "name": "kilo", "rank": 10}},
    "rqltest:t14": {"attributes": {"group": "s", "name": "india", "rank": 2}},
    "rqltest:t15": {"attributes": {"group": "s", "name": "kilo", "rank": 9}},
    "rqltest:t16": {"attributes": {"group": "s", "name": "golf", "rank": 10}},
    "rqltest:t17": {"attributes": {"group": "s", "name": "india"}},
    "rqltest:t18": {"attributes": {"group": "s", "name": "hotel", "rank": 2}},
    "rqltest:t19": {
        "definition": None,
        "revision": 5,
        "created_at": datetime(2000, 1, 1, tzinfo=UTC),
        "modified_at": datetime(2031, 1, 1, tzinfo=UTC),
    },
    "rqltest:t20": {
        "definition": "dusttwin:enterprise:1",
        "revision": 3,
        "features": {"measurement": {"properties": {"value": [1, 7]}}},
    },
    **{f"rqltest:t{n}": {"attributes": {"filler": n}} for n in range(21, 31)},
    "rqltest.other:o01": {"attributes": {"region": "310113", "name": "other one"}},
    "rqltest.other:o02": {},
}
ALL_IDS = sorted(THINGS)
FILLERS = [f"rqltest:t{n}" for n in range(21, 31)]


@pytest.fixture(params=["timescaledb", "plain"])
def conn(request: pytest.FixtureRequest, migrated_dsns: dict[str, str]) -> Iterator[Conn]:
    """A migrated database holding THINGS (and removing them again afterwards)."""
    with psycopg.connect(migrated_dsns[request.param], autocommit=True) as conn:
        conn.execute("DELETE FROM things WHERE thing_id LIKE 'rqltest%'")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO things (thing_id, policy_id, definition, attributes, features,"
                " revision, created_at, modified_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        thing_id,
                        thing_id,
                        spec.get("definition", "dusttwin:test:1"),
                        Jsonb(spec.get("attributes", {})),
                        Jsonb(spec.get("features", {})),
                        spec.get("revision", 1),
                        spec.get("created_at", CREATED),
                        spec.get("modified_at", MODIFIED),
                    )
                    for thing_id, spec in THINGS.items()
                ],
            )
        yield conn
        conn.execute("DELETE FROM things WHERE thing_id LIKE 'rqltest%'")


def ids(
    conn: Conn,
    filter_text: str | None,
    option_text: str = "size(200)",
    namespaces: Sequence[str] = (),
) -> list[str]:
    """The thingIds a search returns, in its order."""
    node = None if filter_text is None else parse_filter(filter_text)
    query = search_query(node, parse_options(option_text), namespaces, SCOPE)
    return [row[0] for row in conn.execute(query).fetchall()]


def count(conn: Conn, filter_text: str | None, namespaces: Sequence[str] = ()) -> int:
    """What a count search answers."""
    node = None if filter_text is None else parse_filter(filter_text)
    row = conn.execute(count_query(node, namespaces, SCOPE)).fetchone()
    assert row is not None
    return int(row[0])


def walk(conn: Conn, filter_text: str | None, sort_parts: Sequence[str]) -> list[str]:
    """Every thingId of a search, fetched three at a time by following the cursors."""
    node = None if filter_text is None else parse_filter(filter_text)
    found: list[str] = []
    cursor: str | None = None
    while True:
        options = SearchOptions(
            size=3, sort=parse_options(",".join(sort_parts)).sort, cursor=cursor
        )
        rows = conn.execute(search_query(node, options, (), SCOPE)).fetchall()
        page, cursor = page_and_cursor(rows, options, node)
        found.extend(row[0] for row in page)
        if cursor is None:
            return found


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ("eq(attributes/workers,30)", ["rqltest:t01", "rqltest:t03"]),  # 30 and 30.0
        ('eq(attributes/workers,"30")', ["rqltest:t02"]),
        ("eq(attributes/workers,true)", ["rqltest:t05"]),
        ("gt(attributes/workers,25)", ["rqltest:t01", "rqltest:t03", "rqltest:t04"]),
        ("lt(attributes/workers,30)", ["rqltest:t12"]),  # not "30", not true
        ('gt(attributes/workers,"3")', ["rqltest:t02"]),  # strings with strings
        ('ge(attributes/name,"x")', ["rqltest:t11"]),
        ('and(ge(attributes/name,"d"),lt(attributes/name,"f"))', ["rqltest:t04", "rqltest:t05"]),
    ],
)
def test_values_compare_only_with_values_of_their_json_type(
    conn: Conn, filter_text: str, expected: list[str]
) -> None:
    assert ids(conn, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('eq(attributes/location/city,"Shanghai")', ["rqltest:t01", "rqltest:t02"]),
        ("exists(attributes/location/floor)", ["rqltest:t01"]),
        ("ge(features/measurement/properties/value,2)", ["rqltest:t02", "rqltest:t20"]),
        ('eq(features/measurement/properties/unit,"mg/m3")', ["rqltest:t01"]),
        ('eq(features/measurement/definition,"dusttwin:dust:1")', ["rqltest:t01"]),
        ("exists(features/measurement)", ["rqltest:t01", "rqltest:t02", "rqltest:t20"]),
        ("exists(features/fan/properties)", ["rqltest:t03"]),
        ("eq(features/fan/properties/on,true)", ["rqltest:t03"]),
        ("eq(features/fan/desiredProperties/on,false)", ["rqltest:t03"]),
        ("eq(attributes/name,null)", ["rqltest:t12"]),
    ],
)
def test_nested_attribute_and_feature_paths(
    conn: Conn, filter_text: str, expected: list[str]
) -> None:
    assert ids(conn, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('eq(attributes/tags,"misc")', ["rqltest:t04"]),
        ('in(attributes/tags,"nothing","high-priority")', ["rqltest:t04"]),
        ("gt(attributes/tags,4)", ["rqltest:t04"]),
        ("gt(attributes/tags,6)", []),
        ('like(attributes/tags,"*-priority")', ["rqltest:t04"]),
        ('ne(attributes/tags,"misc")', []),  # "misc" is contained, so not "not equal"
        ("ne(attributes/tags,1)", ["rqltest:t04"]),
    ],
)
def test_an_array_matches_when_one_element_does(
    conn: Conn, filter_text: str, expected: list[str]
) -> None:
    assert ids(conn, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('like(attributes/name,"al*")', ["rqltest:t01"]),
        ('like(attributes/name,"*ra*")', ["rqltest:t02"]),
        ('like(attributes/name,"?elta")', ["rqltest:t04"]),
        ('like(attributes/name,"CHAR*")', []),
        ('ilike(attributes/name,"CHAR*")', ["rqltest:t03"]),
        ('like(attributes/workers,"3*")', ["rqltest:t02"]),  # the string "30", not the numbers
        ('like(thingId,"rqltest:t1?")', [f"rqltest:t{n}" for n in range(10, 20)]),
    ],
)
def test_like_wildcards(conn: Conn, filter_text: str, expected: list[str]) -> None:
    assert ids(conn, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('like(attributes/code,"50%_off")', ["rqltest:t06"]),
        ('like(attributes/code,"50%*")', ["rqltest:t06"]),
        ('like(attributes/code,"50?_off")', ["rqltest:t06", "rqltest:t07", "rqltest:t08"]),
        ('like(attributes/code,"a\\\\b*")', ["rqltest:t09"]),
        ('like(attributes/code,"a*b-1")', ["rqltest:t09", "rqltest:t10"]),
    ],
)
def test_like_takes_percent_underscore_and_backslash_literally(
    conn: Conn, filter_text: str, expected: list[str]
) -> None:
    assert ids(conn, filter_text) == expected


def test_ne_only_matches_things_that_have_the_property(conn: Conn) -> None:
    assert ids(conn, 'ne(attributes/region,"310113")') == ["rqltest:t02", "rqltest:t12"]


def test_not_matches_things_that_lack_the_property(conn: Conn) -> None:
    others = {"rqltest.other:o01", "rqltest:t01", "rqltest:t03"}
    assert ids(conn, 'not(eq(attributes/region,"310113"))') == sorted(set(ALL_IDS) - others)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        (
            'in(attributes/region,"310113","310115")',
            ["rqltest.other:o01", "rqltest:t01", "rqltest:t02", "rqltest:t03"],
        ),
        ('in(attributes/workers,30,"abc")', ["rqltest:t01", "rqltest:t03"]),
        ('in(thingId,"rqltest:t05","rqltest:t07",5)', ["rqltest:t05", "rqltest:t07"]),
        ("in(_revision,3,5)", ["rqltest:t19", "rqltest:t20"]),
    ],
)
def test_in_matches_any_listed_value(conn: Conn, filter_text: str, expected: list[str]) -> None:
    assert ids(conn, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('and(eq(attributes/region,"310113"),exists(attributes/location))', ["rqltest:t01"]),
        (
            'or(eq(attributes/name,"alpha"),eq(attributes/code,"ab-1"))',
            ["rqltest:t01", "rqltest:t10"],
        ),
        (
            "not(or(exists(attributes/name),exists(attributes/code),exists(attributes/region)))",
            ["rqltest.other:o02", "rqltest:t19", "rqltest:t20", *FILLERS],
        ),
        (
            'and(eq(attributes/group,"s"),or(lt(attributes/rank,5),not(exists(attributes/rank))))',
            ["rqltest:t14", "rqltest:t17", "rqltest:t18"],
        ),
    ],
)
def test_and_or_not_nest(conn: Conn, filter_text: str, expected: list[str]) -> None:
    assert ids(conn, filter_text) == expected


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('eq(thingId,"rqltest:t03")', ["rqltest:t03"]),
        ('eq(policyId,"rqltest:t04")', ["rqltest:t04"]),
        ('eq(definition,"dusttwin:enterprise:1")', ["rqltest:t20"]),
        ("not(exists(definition))", ["rqltest:t19"]),
        ('eq(_namespace,"rqltest.other")', ["rqltest.other:o01", "rqltest.other:o02"]),
        ("gt(_revision,2)", ["rqltest:t19", "rqltest:t20"]),
        ('eq(_revision,"5")', []),
        ('lt(_created,"2001-01-01")', ["rqltest:t19"]),
        ('gt(_modified,"2030-12-31T23:00:00+08:00")', ["rqltest:t19"]),
    ],
)
def test_thing_level_properties(conn: Conn, filter_text: str, expected: list[str]) -> None:
    assert ids(conn, filter_text) == expected


def test_namespaces_parameter_limits_the_search(conn: Conn) -> None:
    assert ids(conn, None, namespaces=["rqltest.other"]) == [
        "rqltest.other:o01",
        "rqltest.other:o02",
    ]
    assert count(conn, "exists(attributes/region)", namespaces=["rqltest.other"]) == 1


def test_count_counts_what_the_search_finds(conn: Conn) -> None:
    assert count(conn, 'eq(attributes/region,"310113")') == 3
    assert count(conn, None) == len(THINGS)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('eq(attributes/name,"x\') OR true --")', ["rqltest:t11"]),
        ('like(attributes/name,"x\') OR true --*")', ["rqltest:t11"]),
        (r'eq(attributes/name,"x\" OR \"1\"=\"1")', []),
        (r"eq(attributes/name,'x\' OR \'1\'=\'1')", []),
        (r'eq(attributes/name,"x\"); DROP TABLE things; --")', []),
    ],
)
def test_a_malicious_string_is_only_a_value(
    conn: Conn, filter_text: str, expected: list[str]
) -> None:
    assert ids(conn, filter_text) == expected


@pytest.mark.parametrize(
    ("sort_text", "expected"),
    [
        ("sort(+attributes/name)", ["t16", "t18", "t14", "t17", "t13", "t15"]),
        ("sort(-attributes/name)", ["t13", "t15", "t14", "t17", "t18", "t16"]),
        ("sort(+attributes/rank)", ["t17", "t14", "t18", "t15", "t13", "t16"]),  # absent first
        ("sort(-attributes/rank)", ["t13", "t16", "t15", "t14", "t18", "t17"]),  # absent last
        ("sort(-attributes/rank,+attributes/name)", ["t16", "t13", "t15", "t18", "t14", "t17"]),
        ("sort(-thingId)", ["t18", "t17", "t16", "t15", "t14", "t13"]),
    ],
)
def test_sort_orders_strings_and_numbers_with_ties_by_thing_id(
    conn: Conn, sort_text: str, expected: list[str]
) -> None:
    found = ids(conn, 'eq(attributes/group,"s")', f"{sort_text},size(200)")
    assert found == [f"rqltest:{suffix}" for suffix in expected]


def test_default_order_is_by_thing_id(conn: Conn) -> None:
    assert ids(conn, None) == ALL_IDS


@pytest.mark.parametrize(
    ("filter_text", "sort_parts"),
    [
        (None, ()),
        (None, ("sort(+attributes/name)",)),
        (None, ("sort(-attributes/workers)",)),
        (None, ("sort(-_modified,+definition)",)),
        (None, ("sort(-features/measurement/properties/value)",)),
        ('eq(attributes/group,"s")', ("sort(-attributes/rank,+attributes/name)",)),
        ("exists(attributes/name)", ("sort(+attributes/name,-thingId)",)),
    ],
)
def test_walking_pages_of_three_returns_every_thing_once_in_order(
    conn: Conn, filter_text: str | None, sort_parts: tuple[str, ...]
) -> None:
    in_one_page = ids(conn, filter_text, ",".join([*sort_parts, "size(200)"]))
    walked = walk(conn, filter_text, sort_parts)
    assert walked == in_one_page
    assert len(set(walked)) == len(walked) == count(conn, filter_text)


def test_a_page_holds_size_things_and_the_last_page_no_cursor(conn: Conn) -> None:
    node = parse_filter('eq(attributes/group,"s")')
    first_options = parse_options("size(3)")
    rows = conn.execute(search_query(node, first_options, (), SCOPE)).fetchall()
    first, cursor = page_and_cursor(rows, first_options, node)
    assert (len(rows), [row[0] for row in first]) == (
        4,
        ["rqltest:t13", "rqltest:t14", "rqltest:t15"],
    )
    second_options = parse_options(f"size(3),cursor({cursor})")
    rows = conn.execute(search_query(node, second_options, (), SCOPE)).fetchall()
    second, last_cursor = page_and_cursor(rows, second_options, node)
    assert [row[0] for row in second] == ["rqltest:t16", "rqltest:t17", "rqltest:t18"]
    assert last_cursor is None


def test_pages_work_with_dict_rows(conn: Conn) -> None:
    node = parse_filter('eq(attributes/group,"s")')
    options = parse_options("sort(-attributes/rank),size(2)")
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(search_query(node, options, (), SCOPE)).fetchall()
        _, cursor = page_and_cursor(rows, options, node)
        next_options = parse_options(f"sort(-attributes/rank),size(2),cursor({cursor})")
        following = cur.execute(search_query(node, next_options, (), SCOPE)).fetchall()
    assert [row["thing_id"] for row in following] == ["rqltest:t15", "rqltest:t14", "rqltest:t18"]


def _first_cursor(conn: Conn, filter_text: str, option_text: str) -> str:
    node = parse_filter(filter_text)
    options = parse_options(option_text)
    rows = conn.execute(search_query(node, options, (), SCOPE)).fetchall()
    cursor = page_and_cursor(rows, options, node)[1]
    assert cursor is not None
    return cursor


@pytest.mark.parametrize(
    ("filter_text", "sort_text", "tamper", "message"),
    [
        ('eq(attributes/group,"s")', "sort(+attributes/name)", lambda c: "x" + c[1:], "not one"),
        ('eq(attributes/group,"s")', "sort(+attributes/name)", lambda c: c[:-5], "not one"),
        ('eq(attributes/group,"s")', "sort(+attributes/name)", lambda c: c + "!", "not one"),
        ('eq(attributes/group,"s")', "sort(+attributes/name)", lambda c: c * 200, "not one"),
        ('eq(attributes/group,"s")', "sort(-attributes/name)", lambda c: c, "different sort"),
        ("exists(attributes/group)", "sort(+attributes/name)", lambda c: c, "different filter"),
    ],
)
def test_a_tampered_or_foreign_cursor_is_refused(
    conn: Conn, filter_text: str, sort_text: str, tamper: Callable[[str], str], message: str
) -> None:
    cursor = _first_cursor(conn, 'eq(attributes/group,"s")', "sort(+attributes/name),size(2)")
    options = SearchOptions(size=2, sort=parse_options(sort_text).sort, cursor=tamper(cursor))
    with pytest.raises(InvalidCursorError, match=message):
        search_query(parse_filter(filter_text), options, (), SCOPE)
