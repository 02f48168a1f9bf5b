"""The twin model: Ditto things, their kinds and thingIds, and JSON merge patch.

Each region, enterprise, dust-removal system, gateway, monitoring point and camera is an Eclipse
Ditto thing: ``attributes`` hold registered data, ``features`` live state, ``definition`` names the
twin type and version (protocol v1 §2).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from twins.errors import InvalidThingError
from twins.identifiers import (
    ADCODE_RE,
    LOCAL_ID_RE,
    NAMESPACE,
    POINT_CODE_RE,
    is_valid_credit_code,
)

Json = dict[str, Any]
TwinKind = Literal["region", "enterprise", "system", "gateway", "point", "camera", "other"]

DEFINITIONS: dict[TwinKind, str] = {
    "region": "dusttwin:Region:1.0.0",
    "enterprise": "dusttwin:Enterprise:1.0.0",
    "system": "dusttwin:DustRemovalSystem:1.0.0",
    "gateway": "dusttwin:Gateway:1.0.0",
    "point": "dusttwin:Point:1.0.0",
    "camera": "dusttwin:Camera:1.0.0",
}
GB28181_RE = re.compile(r"^\d{20}$")
# Ditto: namespace is a Java-package-like name, then ':' and a name without '/' and control chars.
THING_ID_RE = re.compile(
    r"^(?=.{3,256}$)[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[^/\s?#%]+$"
)
_KEY_RE = re.compile(r"^dusttwin:(region|enterprise|system|gateway|point|camera)-(.+)$")


@dataclass(frozen=True)
class ThingKey:
    """What a thingId says: the twin's kind and its identifiers."""

    kind: TwinKind
    credit_code: str | None = None
    local_id: str | None = None  # adcode, system code, gateway id, point code or camera id


def parse_thing_id(thing_id: str) -> ThingKey:
    """Check a thingId against Ditto's syntax and, in our namespace, protocol v1 §2."""
    if not THING_ID_RE.match(thing_id):
        raise InvalidThingError(
            f"thingId {thing_id!r} is not 'namespace:name' (namespace like a Java package, "
            "name without '/', '?', '#', '%' or spaces)"
        )
    match = _KEY_RE.match(thing_id)
    if not thing_id.startswith(f"{NAMESPACE}:"):
        return ThingKey("other")
    if match is None:
        raise InvalidThingError(
            f"thingId {thing_id!r}: the dusttwin namespace holds only "
            "region-, enterprise-, system-, gateway-, point- and camera- twins"
        )
    kind, rest = match[1], match[2]
    if kind == "region":
        _check(ADCODE_RE.match(rest) is not None, thing_id, "an adcode of 6 digits")
        return ThingKey("region", local_id=rest)
    if kind == "camera":
        _check(GB28181_RE.match(rest) is not None, thing_id, "a GB/T 28181 id of 20 digits")
        return ThingKey("camera", local_id=rest)
    credit_code, local = rest[:18], rest[19:]
    _check(is_valid_credit_code(credit_code), thing_id, "a valid credit code")
    if kind == "enterprise":
        _check(len(rest) == 18, thing_id, "only the credit code")
        return ThingKey("enterprise", credit_code=credit_code)
    _check(rest[18:19] == "-", thing_id, "'-' after the credit code")
    pattern = POINT_CODE_RE if kind == "point" else LOCAL_ID_RE
    _check(pattern.match(local) is not None, thing_id, f"a valid {kind} code")
    return ThingKey(kind, credit_code=credit_code, local_id=local)  # type: ignore[arg-type]


def _check(ok: bool, thing_id: str, expected: str) -> None:
    if not ok:
        raise InvalidThingError(f"thingId {thing_id!r} needs {expected}")


@dataclass(frozen=True)
class Thing:
    """One twin as stored."""

    thing_id: str
    policy_id: str
    definition: str | None
    attributes: Json
    features: Json
    revision: int
    created: datetime
    modified: datetime
    id: int = 0

    @property
    def kind(self) -> TwinKind:
        """The twin's kind, from its thingId."""
        return parse_thing_id(self.thing_id).kind

    def to_json(self) -> Json:
        """The thing in Ditto's JSON shape."""
        body: Json = {"thingId": self.thing_id, "policyId": self.policy_id}
        if self.definition is not None:
            body["definition"] = self.definition
        body["attributes"] = self.attributes
        body["features"] = self.features
        body["_revision"] = self.revision
        body["_created"] = self.created.isoformat()
        body["_modified"] = self.modified.isoformat()
        return body


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def get_path(document: Json, path: list[str]) -> Any:
    """The value at ``path`` in a JSON object; KeyError when any part is missing."""
    node: Any = document
    for part in path:
        if not isinstance(node, dict) or part not in node:
            raise KeyError("/".join(path))
        node = node[part]
    return node


def set_path(document: Json, path: list[str], value: Any) -> Json:
    """A copy of ``document`` with ``value`` at ``path`` (objects created on the way)."""
    result = copy.deepcopy(document)
    node = result
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value
    return result


def delete_path(document: Json, path: list[str]) -> Json:
    """A copy of ``document`` without the value at ``path``; KeyError when it is not there."""
    get_path(document, path)
    result = copy.deepcopy(document)
    node = result
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return result
