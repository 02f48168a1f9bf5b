"""Inbound adapters (protocol v1 §9): provincial envelopes opened and mapped onto protocol v1.

Gateways already configured for a provincial platform post what that platform expects:

- **Hebei V1.1** (河北): ``{"qybm", "data"}`` where ``qybm`` is the enterprise's credit code and
  ``data`` is hex(Base64(DES-CBC-PKCS5(JSON))), one path per data kind (``rtsData``,
  ``eventsData``, ``videosData``);
- **MEM / Tianjin** (应急管理部 / 天津): ``{"appid", "data"}`` with the ``appsecret`` header, where
  ``data`` is hex(SM4-CBC-PKCS5(JSON)).

Opening an envelope (parse, identify, decrypt, map) is pure: bytes and the configuration in, a
protocol v1 body for one registered gateway out, or ``AdapterRefusedError`` with a clear reason.
The body then goes through the same pipeline as MQTT and HTTP (``deliver``), so the same checks,
writer, dead letters and diagnostics apply. Keys live in the configuration file
(``DUSTTWIN_ADAPTERS_FILE``), never in code, and are never shown in a repr or a log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

import psycopg
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import (
    BlockCipherAlgorithm,
    Cipher,
    algorithms,
    modes,
)

from connectors.pipeline import IngestPipeline, RawMessage
from connectors.protocol import MessageKind, MessageRejectedError
from connectors.writer import Incoming, Outcome, store_batch
from twins.identifiers import LOCAL_ID_RE, POINT_CODE_RE, is_valid_credit_code

__all__ = [
    "KINDS",
    "MAX_ENVELOPE_BYTES",
    "AdapterConfig",
    "AdapterConfigError",
    "AdapterGateway",
    "AdapterKind",
    "AdapterRefusedError",
    "CipherKey",
    "Mapped",
    "deliver",
    "load_adapter_config",
    "map_body",
    "open_hebei",
    "open_mem",
    "parse_adapter_config",
    "record_refusal",
]

log = logging.getLogger(__name__)

AdapterKind = Literal["rtsData", "eventsData", "videosData"]
# the provincial data kinds and the protocol v1 message each becomes
KINDS: dict[str, MessageKind] = {"rtsData": "rts", "eventsData": "event", "videosData": "event"}
# An envelope may carry a video alarm's snapshot (≤ 500 KB JPEG), Base64 and hex encoded on top:
# about 2.7 times its size. The mapped protocol v1 body keeps the 256 KiB limit.
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
# Provincial platforms send wall-clock times without an offset; they are China Standard Time.
CHINA = timezone(timedelta(hours=8), "CST")
_HEX_RE = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")


class AdapterConfigError(ValueError):
    """The adapters' configuration file is unreadable or wrong (says where)."""


class AdapterRefusedError(MessageRejectedError):
    """An envelope refused whole, with the reply status it earns and who sent it, when known.

    ``gateway`` is set once the envelope named a configured enterprise or app, so the refusal can
    be kept as that gateway's dead letter; ``raw`` is what to keep (the envelope, or the decrypted
    text when decryption worked).
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int = 400,
        gateway: AdapterGateway | None = None,
        raw: bytes = b"",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.gateway = gateway
        self.raw = raw


@dataclass(frozen=True)
class CipherKey:
    """A block cipher's key and IV (CBC, PKCS#5/#7 padding); the bytes never show in a repr."""

    algorithm: Literal["DES", "SM4"]
    key: bytes = field(repr=False)
    iv: bytes = field(repr=False)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """The plaintext; ValueError for a ciphertext of broken blocks or bad padding."""
        if self.algorithm == "DES":
            # single DES is 3DES with K1 = K2 = K3 (the 8-byte form is deprecated in cryptography)
            algorithm: BlockCipherAlgorithm = TripleDES(self.key * 3)
            block_bits = 64
        else:
            algorithm = algorithms.SM4(self.key)
            block_bits = 128
        if not ciphertext or len(ciphertext) * 8 % block_bits:
            size = block_bits // 8
            raise ValueError(
                f"a ciphertext of {len(ciphertext)} bytes is not whole {size}-byte blocks"
            )
        decryptor = Cipher(algorithm, modes.CBC(self.iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(block_bits).unpadder()
        return unpadder.update(padded) + unpadder.finalize()


@dataclass(frozen=True)
class AdapterGateway:
    """A registered gateway as a provincial envelope names it, with its key."""

    credit_code: str
    gateway_id: str
    cipher: CipherKey
    cameras: Mapping[str, str] = field(default_factory=dict)  # GB/T 28181 id -> point code
    appsecret: str | None = field(default=None, repr=False)  # MEM only

    @property
    def key(self) -> str:
        """``{credit_code}.{gateway_id}``: the gateway's dead-letter and diagnostics key."""
        return f"{self.credit_code}.{self.gateway_id}"


@dataclass(frozen=True)
class AdapterConfig:
    """Who may post through the adapters: Hebei enterprises by qybm, MEM apps by appid."""

    hebei: Mapping[str, AdapterGateway] = field(default_factory=dict)
    mem: Mapping[str, AdapterGateway] = field(default_factory=dict)


@dataclass(frozen=True)
class VideoAlarmIn:
    """A video AI alarm of a ``videosData`` envelope, for the camera's alarm (with snapshot)."""

    index: int  # in the gateway's list
    camera: str  # the camera's GB/T 28181 id
    alarm_type: str
    at: datetime | None
    content: str | None
    snapshot: bytes | None  # the decoded JPEG, when the entry carried one
    problem: str | None = None  # why the entry cannot become an alarm


@dataclass(frozen=True)
class Mapped:
    """An opened envelope: a protocol v1 body for one registered gateway."""

    gateway: AdapterGateway
    kind: MessageKind
    payload: bytes
    videos: tuple[VideoAlarmIn, ...] = ()


# --- configuration -------------------------------------------------------------------------------


def load_adapter_config(path: Path | None) -> AdapterConfig:
    """The configuration in a TOML file (none configured: no gateway may use the adapters)."""
    if path is None:
        return AdapterConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise AdapterConfigError(f"{path}: {err}") from err
    return parse_adapter_config(data, str(path))


def parse_adapter_config(data: Mapping[str, Any], where: str = "adapters") -> AdapterConfig:
    """The configuration from parsed TOML; AdapterConfigError naming the wrong entry."""
    hebei_section = _table(data.get("hebei", {}), f"{where}: hebei")
    hebei: dict[str, AdapterGateway] = {}
    enterprises = _table(hebei_section.get("enterprises", {}), f"{where}: hebei.enterprises")
    for qybm, value in enterprises.items():
        at = f"{where}: hebei.enterprises.{qybm}"
        entry = _table(value, at)
        hebei[qybm] = _gateway(
            at,
            credit_code=qybm,
            gateway_id=entry.get("gateway_id"),
            cipher=_cipher(
                at,
                "DES",
                entry.get("key", hebei_section.get("key")),
                entry.get("iv", hebei_section.get("iv")),
            ),
            cameras=entry.get("cameras", {}),
        )
    mem: dict[str, AdapterGateway] = {}
    apps = _table(_table(data.get("mem", {}), f"{where}: mem").get("apps", {}), f"{where}: mem")
    for appid, value in apps.items():
        at = f"{where}: mem.apps.{appid}"
        entry = _table(value, at)
        secret = entry.get("appsecret")
        if not isinstance(secret, str) or not secret:
            raise AdapterConfigError(f"{at}: appsecret is required")
        mem[appid] = _gateway(
            at,
            credit_code=entry.get("credit_code"),
            gateway_id=entry.get("gateway_id"),
            cipher=_cipher(at, "SM4", entry.get("key"), entry.get("iv")),
            cameras=entry.get("cameras", {}),
            appsecret=secret,
        )
    return AdapterConfig(hebei=hebei, mem=mem)


def _table(value: Any, at: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdapterConfigError(f"{at}: expected a table")
    return value


def _gateway(
    at: str,
    *,
    credit_code: Any,
    gateway_id: Any,
    cipher: CipherKey,
    cameras: Any,
    appsecret: str | None = None,
) -> AdapterGateway:
    if not isinstance(credit_code, str) or not is_valid_credit_code(credit_code):
        raise AdapterConfigError(f"{at}: {credit_code!r} is not a valid credit code")
    if not isinstance(gateway_id, str) or not LOCAL_ID_RE.match(gateway_id):
        raise AdapterConfigError(f"{at}: gateway_id is required ([A-Za-z0-9_-]{{1,32}})")
    cameras = _table(cameras, f"{at}.cameras")
    for camera, point in cameras.items():
        if not isinstance(point, str) or not POINT_CODE_RE.match(point):
            raise AdapterConfigError(f"{at}.cameras.{camera}: {point!r} is not a point code")
    return AdapterGateway(credit_code, gateway_id, cipher, dict(cameras), appsecret)


def _cipher(at: str, algorithm: Literal["DES", "SM4"], key: Any, iv: Any) -> CipherKey:
    size = 8 if algorithm == "DES" else 16
    return CipherKey(
        algorithm, _key_bytes(f"{at}: key", key, size), _key_bytes(f"{at}: iv", iv, size)
    )


def _key_bytes(at: str, value: Any, size: int) -> bytes:
    """A key or IV given as ``size`` ASCII characters (the gateways' usual form) or as hex."""
    if isinstance(value, str) and len(value) == size and value.isascii():
        return value.encode("ascii")
    if isinstance(value, str) and len(value) == 2 * size and _HEX_RE.match(value):
        return bytes.fromhex(value)
    raise AdapterConfigError(f"{at}: {size} characters or {2 * size} hex digits (not shown)")


# --- envelopes -----------------------------------------------------------------------------------


def open_hebei(config: AdapterConfig, kind: AdapterKind, body: bytes) -> Mapped:
    """A Hebei V1.1 post (JSON or form: ``qybm``, ``data``) as a protocol v1 body."""
    envelope = _envelope(body, ("qybm", "data"))
    gateway = config.hebei.get(envelope["qybm"])
    if gateway is None:
        raise AdapterRefusedError(
            f"qybm {envelope['qybm']!r} is not an enterprise configured for the Hebei adapter",
            status=401,
        )
    encoded = _unhex(envelope["data"], gateway, body)
    try:
        ciphertext = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise AdapterRefusedError(
            f"data does not hold Base64 text once hex-decoded ({err})", gateway=gateway, raw=body
        ) from err
    plaintext = _decrypt(gateway, ciphertext, body)
    return Mapped(
        gateway, KINDS[kind], map_body(kind, plaintext, gateway), video_alarms(kind, plaintext)
    )


def open_mem(
    config: AdapterConfig, kind: AdapterKind, body: bytes, appsecret: str | None
) -> Mapped:
    """A MEM/Tianjin post (JSON ``appid``, ``data``; ``appsecret`` header) as a protocol v1 body."""
    envelope = _envelope(body, ("appid", "data"))
    gateway = config.mem.get(envelope["appid"])
    if gateway is None:
        raise AdapterRefusedError(
            f"appid {envelope['appid']!r} is not an app configured for the MEM adapter", status=401
        )
    expected = (gateway.appsecret or "").encode()
    if appsecret is None or not hmac.compare_digest(appsecret.encode(), expected):
        raise AdapterRefusedError("wrong or missing appsecret header", status=401)
    plaintext = _decrypt(gateway, _unhex(envelope["data"], gateway, body), body)
    return Mapped(
        gateway, KINDS[kind], map_body(kind, plaintext, gateway), video_alarms(kind, plaintext)
    )


def _envelope(body: bytes, names: tuple[str, str]) -> dict[str, str]:
    """The envelope's two string fields, from a JSON object or a form-encoded body."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise AdapterRefusedError(
            f"envelope of {len(body)} bytes is over the {MAX_ENVELOPE_BYTES // 2**20} MiB limit",
            status=413,
        )
    fields: dict[str, Any]
    try:
        text = body.decode("utf-8")
        if text.lstrip().startswith("{"):
            parsed = json.loads(text)
            fields = parsed if isinstance(parsed, dict) else {}
        else:
            fields = {k: v[0] for k, v in parse_qs(text).items()}
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AdapterRefusedError(f"envelope is not UTF-8 JSON or a form: {err}") from err
    missing = [n for n in names if not isinstance(fields.get(n), str) or not fields[n]]
    if missing:
        raise AdapterRefusedError(f"envelope needs {' and '.join(names)} (strings)")
    return {n: fields[n].strip() for n in names}


def _unhex(data: str, gateway: AdapterGateway, body: bytes) -> bytes:
    if not _HEX_RE.match(data):
        raise AdapterRefusedError(
            "data is not hexadecimal (an even number of 0-9, A-F)", gateway=gateway, raw=body
        )
    return bytes.fromhex(data)


def _decrypt(gateway: AdapterGateway, ciphertext: bytes, body: bytes) -> bytes:
    algorithm = gateway.cipher.algorithm
    try:
        return gateway.cipher.decrypt(ciphertext)
    except ValueError as err:
        # bad padding after decryption is what a wrong key or IV looks like
        raise AdapterRefusedError(
            f"data cannot be decrypted with the configured {algorithm}-CBC key ({err}): "
            "wrong key or IV, or corrupted data",
            gateway=gateway,
            raw=body,
        ) from err


# --- mapping onto protocol v1 --------------------------------------------------------------------

# The decrypted bodies [DECIDED, docs/protocol.md §9: the provincial documents that fix these
# names are not public]: per protocol v1 field, the names accepted, first found wins. Every entry
# maps to one entry at the same index, so refusals name the gateway's own entries.
LIST_NAMES = ("datas", "points", "events")
MESSAGE_NAMES = {"msg_id": ("msgId", "msg_id"), "ts": ("sendTime", "ts")}
ENTRY_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "rtsData": {
        "code": ("pointCode", "code"),
        "value": ("value",),
        "ts": ("collectTime", "ts"),
        "quality": ("status", "quality"),
    },
    "eventsData": {
        "code": ("pointCode", "code"),
        "type": ("eventType", "type"),
        "value": ("value",),
        "ts": ("eventTime", "ts"),
        "content": ("content",),
    },
}
VIDEO_NAMES = {
    "camera": ("cameraCode",),
    "code": ("pointCode", "code"),
    "alarm_type": ("alarmType",),
    "ts": ("alarmTime", "ts"),
    "content": ("content",),
    "picture": ("picture",),
    "picture_url": ("pictureUrl",),
}
# status 0 normal, 1 fault, 2 maintenance; eventType 1 raised, 0 cleared
QUALITIES = {"0": "GOOD", "1": "FAULT", "2": "MAINT"}
EVENT_TYPES = {"1": "ACTIVE", "0": "CLEAR"}


def map_body(kind: AdapterKind, plaintext: bytes, gateway: AdapterGateway) -> bytes:
    """A decrypted provincial body as the protocol v1 body of its kind (rts or event)."""
    try:
        body = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AdapterRefusedError(
            f"decrypted data is not UTF-8 JSON ({err}): wrong key or IV?",
            gateway=gateway,
            raw=plaintext,
        ) from err
    if not isinstance(body, dict):
        raise AdapterRefusedError(
            "decrypted data is not a JSON object", gateway=gateway, raw=plaintext
        )
    named = body.get("qybm")
    if named is not None and named != gateway.credit_code:
        raise AdapterRefusedError(
            f"data names enterprise {named!r}, but the envelope is {gateway.credit_code}'s",
            gateway=gateway,
            raw=plaintext,
        )
    entries = next((body[n] for n in LIST_NAMES if n in body), None)
    if not isinstance(entries, list):
        raise AdapterRefusedError(
            "decrypted data needs a list of entries under 'datas'", gateway=gateway, raw=plaintext
        )
    message: dict[str, Any] = {}
    msg_id = _first(body, MESSAGE_NAMES["msg_id"])
    if msg_id is not None:
        message["msg_id"] = str(msg_id) if isinstance(msg_id, int | str) else msg_id
    sent = _first(body, MESSAGE_NAMES["ts"])
    if sent is not None:
        message["ts"] = _time(sent)
    if kind == "videosData":
        message["events"] = [_video_entry(e, gateway) for e in entries]
    else:
        member = "points" if kind == "rtsData" else "events"
        message[member] = [_entry(e, ENTRY_NAMES[kind]) for e in entries]
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def _first(entry: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    return next((entry[n] for n in names if n in entry), None)


def _entry(entry: Any, names: Mapping[str, tuple[str, ...]]) -> Any:
    if not isinstance(entry, dict):
        return entry  # refused by the protocol check with its index ("an entry is a JSON object")
    out: dict[str, Any] = {}
    for target, sources in names.items():
        present = next((n for n in sources if n in entry), None)
        if present is not None:
            out[target] = CONVERT.get(target, _same)(entry[present])
    return out


def _video_entry(entry: Any, gateway: AdapterGateway) -> Any:
    """A video AI alarm (视频AI报警) as an ACTIVE event on the point its camera is mapped to.

    Protocol v1 has no alarms of cameras, so the alarm is a device event of a registered point
    (``cameras`` in the configuration; an unmapped camera is refused as an unknown point). Its
    snapshot is not kept yet, only its size and digest in the content; alarms with snapshots are
    issue 6.
    """
    if not isinstance(entry, dict):
        return entry
    fields = {name: _first(entry, sources) for name, sources in VIDEO_NAMES.items()}
    camera = fields["camera"]
    code = fields["code"] or gateway.cameras.get(str(camera), camera)
    parts = [f"VIDEO_AI {fields['alarm_type'] or 'ALARM'}", f"camera {camera}"]
    if fields["content"]:
        parts.append(str(fields["content"]))
    picture = fields["picture"]
    if isinstance(picture, str) and picture:
        digest = hashlib.sha256(picture.encode("ascii", "replace")).hexdigest()[:16]
        size = len(picture) * 3 // 4  # of the Base64 JPEG, near enough to tell snapshots apart
        parts.append(f"snapshot ~{size} bytes sha256:{digest} (not kept yet)")
    if fields["picture_url"]:
        parts.append(f"snapshot {fields['picture_url']}")
    out: dict[str, Any] = {"code": code, "type": "ACTIVE", "content": "; ".join(parts)}
    if fields["ts"] is not None:
        out["ts"] = _time(fields["ts"])
    return out


def video_alarms(kind: AdapterKind, plaintext: bytes) -> tuple[VideoAlarmIn, ...]:
    """The video AI alarms of a decrypted ``videosData`` body (nothing for other kinds).

    Called after ``map_body`` accepted the body, so it is a JSON object with its list.
    """
    if kind != "videosData":
        return ()
    body = json.loads(plaintext.decode("utf-8"))
    entries: list[Any] = next((body[n] for n in LIST_NAMES if n in body), [])
    out: list[VideoAlarmIn] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue  # refused by the protocol check with its index
        fields = {name: _first(entry, sources) for name, sources in VIDEO_NAMES.items()}
        when = _time(fields["ts"]) if fields["ts"] is not None else None
        at = (
            datetime.fromisoformat(when)
            if isinstance(when, str)
            else datetime.fromtimestamp(when / 1000, UTC)
            if isinstance(when, int)
            else None
        )
        snapshot, problem = None, None
        if isinstance(fields["picture"], str) and fields["picture"]:
            try:
                snapshot = base64.b64decode(fields["picture"], validate=True)
            except binascii.Error:
                problem = "picture is not Base64"
        if at is None and fields["ts"] is not None:
            problem = f"alarmTime {fields['ts']!r} is not a time"
        out.append(
            VideoAlarmIn(
                i,
                str(fields["camera"] or ""),
                str(fields["alarm_type"] or "ALARM"),
                at,
                None if fields["content"] is None else str(fields["content"]),
                snapshot,
                problem,
            )
        )
    return tuple(out)


def _same(value: Any) -> Any:
    return value


def _time(value: Any) -> Any:
    """Offset-less wall-clock times are China Standard Time; digits are epoch milliseconds."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return value  # refused by the protocol check, with its reason
        if parsed.utcoffset() is None:
            parsed = parsed.replace(tzinfo=CHINA)
        return parsed.isoformat()
    return value


def _number(value: Any) -> Any:
    """Numbers sent as text ("41.2") become numbers; other text is left to be refused."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)  # NaN and infinities are refused by the protocol check
        except ValueError:
            return value
    return value


def _quality(value: Any) -> Any:
    key = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return QUALITIES.get(key, value)


def _event_type(value: Any) -> Any:
    key = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return EVENT_TYPES.get(key, value)


CONVERT: dict[str, Callable[[Any], Any]] = {
    "ts": _time,
    "value": _number,
    "quality": _quality,
    "type": _event_type,
}


# --- into the pipeline ---------------------------------------------------------------------------


async def deliver(pipeline: IngestPipeline, mapped: Mapped) -> Outcome:
    """Hand a mapped body to the ingest pipeline; resolves once it is stored (or refused)."""
    gateway = mapped.gateway
    raw = RawMessage(
        gateway.credit_code, gateway.gateway_id, mapped.kind, mapped.payload, "adapter"
    )
    return await (await pipeline.submit(raw))


async def record_refusal(
    pipeline: IngestPipeline, error: AdapterRefusedError, kind: AdapterKind
) -> None:
    """Keep an envelope refused before mapping as a dead letter of its gateway, when known."""
    gateway = error.gateway
    if gateway is None:
        return  # nobody to show it to: an unknown qybm or appid is only answered
    incoming = Incoming(
        gateway.key,
        gateway.credit_code,
        gateway.gateway_id,
        "adapter",
        KINDS[kind],
        error.raw,
        None,
        refused=error.reason,
    )
    try:
        async with pipeline.pool.connection() as conn:
            await store_batch(conn, [incoming], datetime.now(UTC))
    except psycopg.Error:
        # the gateway still gets its answer; the dead letter is what is lost
        log.exception("adapters: could not keep the refusal of %s as a dead letter", gateway.key)
