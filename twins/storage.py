"""SQL of the embedded twin store (table ``things``, migration 0002)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

Conn = psycopg.Connection[tuple[object, ...]]


def upsert_thing(
    conn: Conn, thing_id: str, policy_id: str, definition: str, attributes: dict[str, Any]
) -> int:
    """Create a thing or replace its attributes (revision + 1 on a change); returns the revision."""
    row = conn.execute(
        """
        INSERT INTO things (thing_id, policy_id, definition, attributes)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (thing_id) DO UPDATE
           SET policy_id = excluded.policy_id, definition = excluded.definition,
               attributes = excluded.attributes, revision = things.revision + 1,
               modified_at = now()
         WHERE (things.policy_id, things.definition, things.attributes)
               IS DISTINCT FROM (excluded.policy_id, excluded.definition, excluded.attributes)
        RETURNING revision
        """,
        (thing_id, policy_id, definition, Jsonb(attributes)),
    ).fetchone()
    if row is None:  # unchanged: the WHERE kept the row as it was
        row = conn.execute(
            "SELECT revision FROM things WHERE thing_id = %s", (thing_id,)
        ).fetchone()
    assert row is not None
    return int(str(row[0]))


def count_things(conn: Conn, definition_prefix: str) -> int:
    """How many things have a definition starting with ``definition_prefix``."""
    row = conn.execute(
        "SELECT count(*) FROM things WHERE definition LIKE %s", (definition_prefix + "%",)
    ).fetchone()
    return int(str(row[0])) if row else 0
