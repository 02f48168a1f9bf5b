"""Online and offline from data activity, with every transition recorded at its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from connectors.timeseries import detect_offline
from tests.connectors.support import CC, gateway_with_points

GW = "GW33"
POINT = f"dusttwin:point-{CC}-DC93-HOPPER_TEMP-1"
GATEWAY = f"dusttwin:gateway-{CC}-{GW}"


def _set_last_seen(
    conn: psycopg.Connection[tuple[object, ...]], thing_id: str, when: datetime
) -> None:
    conn.execute(
        "UPDATE things SET features = jsonb_set(features, '{connectivity,properties,last_seen}',"
        " to_jsonb(%s::timestamptz)) WHERE thing_id = %s",
        (when, thing_id),
    )


def _online(conn: psycopg.Connection[tuple[object, ...]], thing_id: str) -> object:
    row = conn.execute(
        "SELECT features #> '{connectivity,properties,online}' FROM things WHERE thing_id = %s",
        (thing_id,),
    ).fetchone()
    return row[0] if row else None


async def test_online_follows_data_and_transitions_are_recorded(
    api: httpx.AsyncClient, tokens: dict[str, dict[str, str]], seeded: dict[str, str]
) -> None:
    await gateway_with_points(api, tokens["admin"], GW, "DC93", ("HOPPER_TEMP",))
    now = datetime.now(UTC)
    with psycopg.connect(seeded["DUSTTWIN_DATABASE_URL"], autocommit=True) as conn:
        _set_last_seen(conn, POINT, now - timedelta(minutes=2))
        _set_last_seen(conn, GATEWAY, now - timedelta(minutes=2))
        first = dict(detect_offline(conn, now))
        again = dict(detect_offline(conn, now + timedelta(seconds=30)))
        # the gateway's window is max(3 × 30 s, 15 min): 16 minutes of silence is offline
        later = now + timedelta(minutes=16)
        conn.execute(
            "UPDATE things SET features = jsonb_set(features,"
            " '{connectivity,properties,last_heartbeat}', to_jsonb(%s::timestamptz))"
            " WHERE thing_id = %s",
            (later, GATEWAY),
        )  # alive, no data
        gone = dict(detect_offline(conn, later))
        events = conn.execute(
            "SELECT thing_id, at, online FROM connectivity_events WHERE thing_id = ANY(%s)"
            " ORDER BY at, thing_id",
            ([POINT, GATEWAY],),
        ).fetchall()
        point_online = _online(conn, POINT)
    assert first[POINT] is True
    assert first[GATEWAY] is True
    assert POINT not in again  # no change, nothing recorded
    assert gone[POINT] is False
    assert gone[GATEWAY] is False  # a heartbeat is not data
    assert [(t, o) for t, _, o in events] == [
        (GATEWAY, True),
        (POINT, True),
        (GATEWAY, False),
        (POINT, False),
    ]
    assert point_online is False
    offline_at = {t: at for t, at, o in events if not o}
    assert offline_at[POINT] == now - timedelta(minutes=2) + timedelta(minutes=15)
