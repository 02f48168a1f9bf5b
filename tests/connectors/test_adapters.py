"""Provincial envelopes opened and mapped onto protocol v1, without any service.

Envelopes are built here the way the gateways build them (Java's ``DES/CBC/PKCS5Padding`` or
SM4-CBC, then the encodings), and two were made once with the ``openssl`` command line, an
implementation independent of ours, so a key or encoding mix-up cannot hide in a round trip.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.adapters import (
    CHINA,
    AdapterConfig,
    AdapterConfigError,
    AdapterRefusedError,
    load_adapter_config,
    open_hebei,
    open_mem,
    parse_adapter_config,
)
from connectors.protocol import Context, PointSpec, check

ROOT = Path(__file__).resolve().parents[2]
HB_CC = "91130102HEB000001X"  # made up, valid check digit
TJ_CC = "91120116TJN000001M"
HB_KEY, HB_IV = b"dtK3y-HB", b"HBiv2026"
TJ_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")
TJ_IV = bytes.fromhex("00112233445566778899aabbccddeeff")
TJ_APPID, TJ_SECRET = "TJ-APP-0001", "tj-secret-0001"
CONFIG: dict[str, Any] = {
    "hebei": {
        "key": HB_KEY.decode(),
        "iv": HB_IV.decode(),
        "enterprises": {
            HB_CC: {"gateway_id": "GW01", "cameras": {"13010200001320000001": "DC01-SMOKE-1"}}
        },
    },
    "mem": {
        "apps": {
            TJ_APPID: {
                "appsecret": TJ_SECRET,
                "key": TJ_KEY.hex(),
                "iv": TJ_IV.hex(),
                "credit_code": TJ_CC,
                "gateway_id": "GW02",
            }
        }
    },
}

# `printf '%s' "$PLAIN" | openssl enc -des-cbc -K <hex of dtK3y-HB> -iv <hex of HBiv2026>
#  -provider legacy -provider default | base64 -w0 | xxd -p`, PLAIN as in the test below
OPENSSL_HEBEI_DATA = (
    "39754b44747469736569683058644d68342f59706332546f736b306a6345524e69355435706234744a6e4f4473"
    "552f335050324859726e66527a4f446f484c463749505553366c6939587276314f642f3531636d666f6c677757"
    "334537647354356a522b79616e4139413730536e346a484531665a36362b73434531327934696c427a73676168"
    "786b5843376e7a3158735938454f645a644a4a4f524e7a5a4f4d755a533250314173684a475758553675337257"
    "506b726155456e554837496f4549797257395a4f537042304e79516642663633796f5a78372f7a4b7935637a55"
    "4d6d46747a554d6a334a6b6e6279754b675049614d5664576f66567632314b"
)
# `printf '%s' "$PLAIN" | openssl enc -sm4-cbc -K 0123…3210 -iv 0011…eeff | xxd -p`, upper case
# as the ministry's example shows it
OPENSSL_MEM_DATA = (
    "6D1AACEEC1598DD831AE65F2D6EBF9F66C7E8538DC405CA806C8E9004B5BB981BB31634C98B68B7EB8CA1A0E"
    "6989B909D64D302B7BD7F8390A949F910DC77F8C38BE6842284370065E7EE760059869363C1C96660D47CC4C"
    "D31111B79BA46BF341410C397EBF6B62718F4AF9D213BC1C32BB84927D935DFB59E133E5683E5161"
)


def _cbc(algorithm: Any, block_bits: int, iv: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(block_bits).padder()  # PKCS#5 is PKCS#7 on 8-byte blocks
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithm, modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def hebei_data(plaintext: bytes, key: bytes = HB_KEY, iv: bytes = HB_IV) -> str:
    """A Hebei gateway's ``data``: DES-CBC (PKCS#5), then Base64, then hex (upper case)."""
    ciphertext = _cbc(TripleDES(key * 3), 64, iv, plaintext)
    return base64.b64encode(ciphertext).hex().upper()


def hebei_post(body: dict[str, Any], qybm: str = HB_CC, **keys: bytes) -> bytes:
    """A Hebei gateway's JSON post of a plaintext body."""
    data = hebei_data(json.dumps(body, ensure_ascii=False).encode(), **keys)
    return json.dumps({"qybm": qybm, "data": data}).encode()


def mem_data(plaintext: bytes, key: bytes = TJ_KEY, iv: bytes = TJ_IV) -> str:
    """A MEM/Tianjin gateway's ``data``: SM4-CBC (PKCS#5), hex (upper case)."""
    return _cbc(algorithms.SM4(key), 128, iv, plaintext).hex().upper()


def mem_post(body: dict[str, Any], appid: str = TJ_APPID, **keys: bytes) -> bytes:
    """A MEM/Tianjin gateway's JSON post of a plaintext body."""
    data = mem_data(json.dumps(body, ensure_ascii=False).encode(), **keys)
    return json.dumps({"appid": appid, "data": data}).encode()


def _config() -> AdapterConfig:
    return parse_adapter_config(CONFIG)


def _context(*specs: tuple[str, str, str]) -> Context:
    points = {
        code: PointSpec(i + 1, code, indicator, kind, 0, 1000, None)
        for i, (code, indicator, kind) in enumerate(specs)
    }
    now = datetime(2026, 11, 23, 10, 1, tzinfo=CHINA)
    return Context("GW01", points, now, timedelta(days=180))


def test_an_openssl_made_hebei_envelope_opens_to_protocol_v1() -> None:
    body = json.dumps({"qybm": HB_CC, "data": OPENSSL_HEBEI_DATA}).encode()
    mapped = open_hebei(_config(), "rtsData", body)
    assert (mapped.gateway.credit_code, mapped.gateway.gateway_id) == (HB_CC, "GW01")
    assert mapped.kind == "rts"
    assert json.loads(mapped.payload) == {
        "msg_id": "HB-1",
        "ts": "2026-11-23T10:00:00+08:00",
        "points": [
            {
                "code": "DC01-HOPPER_TEMP-1",
                "value": 41.2,
                "ts": "2026-11-23T09:59:58+08:00",
                "quality": "GOOD",
            }
        ],
    }


def test_an_openssl_made_mem_envelope_opens_to_protocol_v1() -> None:
    body = json.dumps({"appid": TJ_APPID, "data": OPENSSL_MEM_DATA}).encode()
    mapped = open_mem(_config(), "rtsData", body, TJ_SECRET)
    assert (mapped.gateway.credit_code, mapped.gateway.gateway_id) == (TJ_CC, "GW02")
    assert json.loads(mapped.payload) == {
        "msg_id": "TJ-1",
        "ts": "2026-11-23T10:00:00+08:00",
        "points": [{"code": "DC01-TANK_LEVEL-1", "value": 1.5, "quality": "FAULT"}],
    }


def test_a_form_encoded_hebei_post_opens_like_a_json_one() -> None:
    plain = {"datas": [{"pointCode": "DC01-FAN_RUN-1", "value": "1"}]}
    form = urlencode({"qybm": HB_CC, "data": hebei_data(json.dumps(plain).encode())}).encode()
    mapped = open_hebei(_config(), "rtsData", form)
    assert json.loads(mapped.payload) == {"points": [{"code": "DC01-FAN_RUN-1", "value": 1.0}]}


def test_mapped_readings_pass_the_protocol_checks_entry_by_entry() -> None:
    plain = {
        "sendTime": "2026-11-23 10:00:00",
        "datas": [
            {"pointCode": "DC01-HOPPER_TEMP-1", "value": "52.5", "status": "0"},
            {"pointCode": "DC01-HOPPER_TEMP-1", "value": "hot", "collectTime": "2026-11-23 09:59"},
            {"pointCode": "DC01-DP_IN_OUT-1", "value": "", "status": "1"},
            {"pointCode": "DC09-NOT_THERE-1", "value": 1},
            {"pointCode": "DC01-DP_IN_OUT-1", "value": 800, "status": "7"},
        ],
    }
    mapped = open_hebei(_config(), "rtsData", hebei_post(plain))
    checked = check(
        "rts",
        mapped.payload,
        _context(
            ("DC01-HOPPER_TEMP-1", "HOPPER_TEMP", "analog"),
            ("DC01-DP_IN_OUT-1", "DP_IN_OUT", "analog"),
        ),
    )
    at_ten = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA)
    assert [(r.point_id, r.time, r.value, r.quality) for r in checked.readings] == [
        (1, at_ten, 52.5, 0),
        (2, at_ten, None, 1),
    ]
    assert [(r.index, r.code, r.reason) for r in checked.rejected] == [
        (1, "DC01-HOPPER_TEMP-1", "value of type str; expected a number"),
        (3, "DC09-NOT_THERE-1", "unknown point"),
        (4, "DC01-DP_IN_OUT-1", "quality '7'; one of GOOD, FAULT, MAINT"),
    ]


def test_events_raise_and_clear_with_their_content() -> None:
    plain = {
        "datas": [
            {
                "pointCode": "DC01-SPARK_DET-1",
                "eventType": "1",
                "value": "3",
                "eventTime": "2026-11-23 10:00:05",
                "content": "1#除尘器入口火花探测 3 次",
            },
            {"pointCode": "DC01-SPARK_DET-1", "eventType": 0, "eventTime": "2026-11-23 10:00:30"},
        ]
    }
    mapped = open_mem(_config(), "eventsData", mem_post(plain), TJ_SECRET)
    checked = check("event", mapped.payload, _context(("DC01-SPARK_DET-1", "SPARK_DET", "count")))
    assert mapped.kind == "event"
    assert [(e.type, e.value, e.content, e.time.second) for e in checked.events] == [
        ("ACTIVE", 3.0, "1#除尘器入口火花探测 3 次", 5),
        ("CLEAR", None, None, 30),
    ]
    assert checked.rejected == []


def test_a_video_alarm_is_an_event_of_its_cameras_point_without_the_picture() -> None:
    picture = base64.b64encode(b"\xff\xd8 a JPEG snapshot " * 1000).decode()
    plain = {
        "datas": [
            {
                "cameraCode": "13010200001320000001",
                "alarmType": "SMOKE",
                "alarmTime": "2026-11-23 10:00:10",
                "content": "除尘器区域烟雾",
                "picture": picture,
            },
            {"cameraCode": "13010200001320000099", "alarmType": "FIRE"},
        ]
    }
    mapped = open_hebei(_config(), "videosData", hebei_post(plain))
    checked = check("event", mapped.payload, _context(("DC01-SMOKE-1", "SMOKE", "switch")))
    (event,) = checked.events
    assert event.type == "ACTIVE"
    assert event.content is not None
    assert event.content.startswith("VIDEO_AI SMOKE; camera 13010200001320000001; 除尘器区域烟雾")
    assert "snapshot ~" in event.content
    assert picture[:100] not in mapped.payload.decode()
    assert [(r.index, r.code, r.reason) for r in checked.rejected] == [
        (1, "13010200001320000099", "unknown point")
    ]


def _hebei(body: bytes) -> Callable[[AdapterConfig], object]:
    return lambda config: open_hebei(config, "rtsData", body)


def _mem(body: bytes, secret: str | None = TJ_SECRET) -> Callable[[AdapterConfig], object]:
    return lambda config: open_mem(config, "rtsData", body, secret)


def _hebei_raw(data: str) -> Callable[[AdapterConfig], object]:
    return _hebei(json.dumps({"qybm": HB_CC, "data": data}).encode())


GOOD: dict[str, Any] = {"datas": []}
REFUSALS = {
    "unknown qybm": (_hebei(hebei_post(GOOD, qybm=TJ_CC)), 401, "not an enterprise configured"),
    "not hex": (_hebei_raw("not hex at all"), 400, "not hexadecimal"),
    "odd hex": (_hebei_raw("ABC"), 400, "not hexadecimal"),
    "hex of no base64": (_hebei_raw(b"\x00\x01*".hex()), 400, "Base64"),
    "broken blocks": (
        _hebei_raw(base64.b64encode(b"12345").hex()),
        400,
        "not whole 8-byte blocks",
    ),
    "wrong key": (_hebei(hebei_post(GOOD, key=b"wrongkey")), 400, "wrong key"),
    "wrong iv, first block garbled": (_hebei(hebei_post(GOOD, iv=b"otheriv!")), 400, "wrong key"),
    "malformed json": (_hebei_raw(hebei_data(b'{"datas": [')), 400, "not UTF-8 JSON"),
    "json not an object": (_hebei_raw(hebei_data(b"[1, 2]")), 400, "not a JSON object"),
    "no entries": (_hebei(hebei_post({"points": 3})), 400, "needs a list of entries"),
    "another enterprise inside": (
        _hebei(hebei_post({"qybm": TJ_CC, "datas": []})),
        400,
        f"names enterprise '{TJ_CC}'",
    ),
    "unknown appid": (_mem(mem_post(GOOD, appid="TJ-APP-9999")), 401, "not an app configured"),
    "wrong appsecret": (_mem(mem_post(GOOD), secret="guess"), 401, "appsecret"),
    "no appsecret": (_mem(mem_post(GOOD), secret=None), 401, "appsecret"),
    "mem wrong key": (_mem(mem_post(GOOD, key=b"K" * 16)), 400, "SM4-CBC key"),
    "not an envelope": (_hebei(b"<xml/>"), 400, "envelope needs qybm and data"),
    "too large": (_hebei(b"{" + b" " * (4 * 2**20)), 413, "over the 4 MiB limit"),
}
# the refusals that name a configured gateway, and so become its dead letters
KNOWN_SENDER = {
    "not hex",
    "odd hex",
    "hex of no base64",
    "broken blocks",
    "wrong key",
    "wrong iv, first block garbled",
    "malformed json",
    "json not an object",
    "no entries",
    "another enterprise inside",
    "mem wrong key",
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_envelopes_are_refused_with_a_clear_reason(case: str) -> None:
    attempt, status, reason = REFUSALS[case]
    with pytest.raises(AdapterRefusedError) as refused:
        attempt(_config())
    assert refused.value.status == status
    assert reason in refused.value.reason
    assert (refused.value.gateway is not None) == (case in KNOWN_SENDER)


def test_keys_are_text_or_hex_and_never_shown() -> None:
    as_hex = {**CONFIG, "hebei": {**CONFIG["hebei"], "key": HB_KEY.hex(), "iv": HB_IV.hex()}}
    mapped = open_hebei(parse_adapter_config(as_hex), "rtsData", hebei_post(GOOD))
    shown = repr(_config())
    assert json.loads(mapped.payload) == {"points": []}
    assert HB_KEY.decode() not in shown
    assert TJ_KEY.hex() not in shown
    assert TJ_SECRET not in shown


def _with(section: str, name: str, **changes: object) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(CONFIG))
    table = config["hebei"]["enterprises"] if section == "hebei" else config["mem"]["apps"]
    table[name].update(changes)
    return config


BAD_CONFIGS = {
    "DES key of 7": (_with("hebei", HB_CC, key="short77"), f"hebei.enterprises.{HB_CC}: key"),
    "SM4 iv not hex": (_with("mem", TJ_APPID, iv="x" * 32), f"mem.apps.{TJ_APPID}: iv"),
    "no gateway": (_with("hebei", HB_CC, gateway_id=None), "gateway_id is required"),
    "bad credit code": (_with("mem", TJ_APPID, credit_code="91120116TJN000001A"), "credit code"),
    "no appsecret": (_with("mem", TJ_APPID, appsecret=""), "appsecret is required"),
    "camera to a non-point": (_with("hebei", HB_CC, cameras={"1": "a b"}), "not a point code"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_wrong_configuration_names_the_entry_but_not_the_key(case: str) -> None:
    data, where = BAD_CONFIGS[case]
    with pytest.raises(AdapterConfigError) as wrong:
        parse_adapter_config(data)
    assert where in str(wrong.value)
    assert "short77" not in str(wrong.value)


def test_the_shipped_example_configuration_is_valid() -> None:
    config = load_adapter_config(ROOT / "deploy" / "local" / "adapters.example.toml")
    unset = load_adapter_config(None)
    assert sorted(config.hebei) == ["91130102HEB000001X"]
    assert config.mem["EXAMPLE-APPID-0001"].gateway_id == "GW01"
    assert config.hebei["91130102HEB000001X"].cameras == {"13010200001320000001": "DC01-SMOKE-1"}
    assert unset == AdapterConfig()
