"""A camera's links and their credentials (视频地址凭据): found, stripped, and put back.

The video service hands out links that may carry credentials, in the user info
(``rtsp://user:pass@host/…``) or in a token-like query parameter (``?token=…``). The platform
keeps them as given; a caller who may not hold them reads the links without them
(``redact_camera_attributes``), and a redacted link written back keeps the stored credentials
(``restore_credentials``), so that a read-then-write round trip cannot wipe them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "CREDENTIAL_PARAM",
    "has_credentials",
    "is_credential_param",
    "redact_camera_attributes",
    "restore_credentials",
    "strip_credentials",
]

# A token in a link's query is a credential when its name says so (token, key, sign, ...).
CREDENTIAL_PARAM: Final = re.compile(
    r"token|key|secret|pass|pwd|auth|sign|sig$|session|ticket|credential", re.IGNORECASE
)


def is_credential_param(name: str) -> bool:
    """Whether a query parameter of this name carries a credential."""
    return CREDENTIAL_PARAM.search(name) is not None


def has_credentials(url: str) -> bool:
    """Whether a link carries credentials (``user:pass@`` or a token-like query parameter)."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return True
    return any(is_credential_param(k) for k, _ in parse_qsl(parts.query, keep_blank_values=True))


def _strip(url: str, safe: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if not is_credential_param(k)]
    # re-encoded only when something was taken out: servers may be strict about their encoding
    text = parts.query if len(kept) == len(query) else urlencode(kept, safe=safe)
    return urlunsplit((parts.scheme, netloc, parts.path, text, parts.fragment))


def strip_credentials(url: str) -> str:
    """The link without its user info and token-like query parameters."""
    return _strip(url, "")


def _strip_template(template: str) -> str:
    # a playback template stays a template: its {start} and {end} are not percent-encoded
    return _strip(template, "{}")


# Where a camera's attributes hold links, and how each is stripped (twins/schemas.py CameraFields):
# every live link (hls, flv, webrtc, rtsp) and the playback template.
def _links(attributes: Mapping[str, Any]) -> list[tuple[tuple[str, ...], Callable[[str], str]]]:
    live = attributes.get("live")
    found: list[tuple[tuple[str, ...], Callable[[str], str]]] = []
    if isinstance(live, Mapping):
        found += [(("live", kind), strip_credentials) for kind in live]
    found.append((("playback_template",), _strip_template))
    return found


def _get(attributes: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = attributes
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _with(attributes: dict[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    if len(path) == 1:
        return {**attributes, path[0]: value}
    return {**attributes, path[0]: _with(dict(attributes[path[0]]), path[1:], value)}


def redact_camera_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """A camera's attributes with every link stripped of its credentials (a new dict)."""
    shown = dict(attributes)
    for path, strip in _links(attributes):
        link = _get(attributes, path)
        if isinstance(link, str):
            shown = _with(shown, path, strip(link))
    return shown


def restore_credentials(given: dict[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with each link that equals the redacted stored link replaced by the stored one.

    A caller who read redacted links and writes them back unchanged keeps the credentials; a
    link that changed in any other way is taken as given.
    """
    restored = given
    for path, strip in _links(given):
        link, kept = _get(given, path), _get(stored, path)
        unchanged = isinstance(kept, str) and link != kept and strip(kept) == link
        if isinstance(link, str) and unchanged:
            restored = _with(restored, path, kept)
    return restored
