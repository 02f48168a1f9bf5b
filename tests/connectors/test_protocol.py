"""Protocol v1 checks, pure: what is stored, flagged, refused — and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.protocol import (
    QUALITY_CODES,
    Context,
    MessageRejectedError,
    PointSpec,
    check_event,
    check_rts,
    check_state,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
POINTS = {
    "DC01-HOPPER_TEMP-1": PointSpec(
        1, "DC01-HOPPER_TEMP-1", "HOPPER_TEMP", "analog", -20, 200, None
    ),
    "DC01-FAN_RUN-1": PointSpec(2, "DC01-FAN_RUN-1", "FAN_RUN", "switch", 0, 1, None),
    "DC01-DP_IN_OUT-1": PointSpec(3, "DC01-DP_IN_OUT-1", "DP_IN_OUT", "analog", 0, 5000, "GW02"),
    "DC01-SPARK_DET-1": PointSpec(4, "DC01-SPARK_DET-1", "SPARK_DET", "count", 0, 65535, None),
}
CTX = Context("GW01", POINTS, NOW, timedelta(days=180))


def _bytes(body: Any) -> bytes:
    return json.dumps(body).encode()


def test_a_good_batch_becomes_readings() -> None:
    checked = check_rts(
        _bytes(
            {
                "msg_id": "GW01-000123",
                "ts": "2026-11-23T10:00:00+08:00",
                "points": [
                    {"code": "DC01-HOPPER_TEMP-1", "value": 41.2},
                    {"code": "DC01-FAN_RUN-1", "value": True},
                    {"code": "DC01-SPARK_DET-1", "value": 3, "ts": 1795399198000},
                ],
            }
        ),
        CTX,
    )
    assert checked.msg_id == "GW01-000123"
    assert checked.rejected == []
    assert [(r.point_id, r.value, r.quality) for r in checked.readings] == [
        (1, 41.2, 0),
        (2, 1.0, 0),
        (4, 3.0, 0),
    ]
    assert checked.readings[0].time == NOW
    assert checked.readings[2].time == datetime.fromtimestamp(1795399198, tz=UTC)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"code": "DC01-NOPE-1", "value": 1}, "unknown point"),
        ({"code": "DC01-HOPPER_TEMP-1", "value": "41"}, "value of type str; expected a number"),
        (
            {"code": "DC01-HOPPER_TEMP-1", "value": True},
            "a boolean for HOPPER_TEMP, which is analog",
        ),
        ({"code": "DC01-FAN_RUN-1", "value": 2}, "a switch (FAN_RUN) takes 0/1 or true/false"),
        (
            {"code": "DC01-HOPPER_TEMP-1", "value": None},
            "value is null without a quality (FAULT or MAINT)",
        ),
        (
            {"code": "DC01-HOPPER_TEMP-1", "value": 1, "quality": "BAD"},
            "quality 'BAD'; one of GOOD, FAULT, MAINT",
        ),
        (
            {"code": "DC01-HOPPER_TEMP-1", "value": 1, "ts": "2026-11-23T02:06:00+00:00"},
            "timestamp more than 5 minutes in the future",
        ),
        (
            {"code": "DC01-HOPPER_TEMP-1", "value": 1, "ts": "2025-01-01T00:00:00+08:00"},
            "timestamp older than the retention period",
        ),
        (
            {"code": "DC01-HOPPER_TEMP-1", "value": 1, "ts": "2026-11-23T10:00:00"},
            "ts: an ISO time needs its offset, e.g. +08:00",
        ),
        ({"code": "DC01-DP_IN_OUT-1", "value": 800}, "point is registered to gateway GW02"),
        ("not an object", "an entry is a JSON object"),
    ],
)
def test_a_bad_entry_is_refused_and_the_rest_kept(entry: Any, reason: str) -> None:
    checked = check_rts(
        _bytes({"points": [{"code": "DC01-HOPPER_TEMP-1", "value": 40}, entry]}), CTX
    )
    assert [(r.index, r.reason) for r in checked.rejected] == [(1, reason)]
    assert [r.point_id for r in checked.readings] == [1]


def test_out_of_range_is_stored_and_flagged() -> None:
    checked = check_rts(_bytes({"points": [{"code": "DC01-HOPPER_TEMP-1", "value": 250}]}), CTX)
    assert checked.readings[0].value == 250
    assert checked.readings[0].quality == QUALITY_CODES["OVER_RANGE"]


def test_fault_with_null_is_stored_as_fault() -> None:
    checked = check_rts(
        _bytes({"points": [{"code": "DC01-HOPPER_TEMP-1", "value": None, "quality": "FAULT"}]}), CTX
    )
    assert (checked.readings[0].value, checked.readings[0].quality) == (
        None,
        QUALITY_CODES["FAULT"],
    )


def test_old_readings_are_marked_backfilled() -> None:
    checked = check_rts(
        _bytes(
            {
                "ts": "2026-11-23T09:45:00+08:00",
                "points": [{"code": "DC01-HOPPER_TEMP-1", "value": 40}],
            }
        ),
        CTX,
    )
    assert checked.readings[0].backfilled is True


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "not UTF-8 JSON"),
        (b"[1, 2]", "a message is a JSON object"),
        (_bytes({"points": "x"}), "points is a list"),
        (_bytes({"msg_id": 5, "points": []}), "msg_id is a string"),
        (_bytes({"ts": "yesterday", "points": []}), "ts:"),
        (b"{" + b" " * (256 * 1024) + b"}", "over the 256 KiB limit"),
    ],
)
def test_a_malformed_message_is_refused_whole(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageRejectedError, match=reason):
        check_rts(payload, CTX)


def test_events_and_state() -> None:
    checked = check_event(
        _bytes(
            {
                "ts": "2026-11-23T10:00:05+08:00",
                "events": [
                    {
                        "code": "DC01-SPARK_DET-1",
                        "type": "ACTIVE",
                        "value": 3,
                        "content": "火花探测 3 次",
                    },
                    {"code": "DC01-HOPPER_TEMP-1", "type": "RESET"},
                ],
            }
        ),
        CTX,
    )
    assert [(e.point_id, e.type, e.value) for e in checked.events] == [(4, "ACTIVE", 3.0)]
    assert [(r.index, r.reason) for r in checked.rejected] == [(1, "type is ACTIVE or CLEAR")]
    assert check_state(b"online").state == "online"
    with pytest.raises(MessageRejectedError):
        check_state(b"maybe")
