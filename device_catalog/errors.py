"""The device catalog's exception tree, documented in one place.

- ``DeviceCatalogError``: base of everything below.
- ``CatalogError``: a catalog file (TOML) breaks the catalog's rules; names the file, the entry
  (indicator or device type) and the field.
- ``UnknownIndicatorError`` / ``UnknownDeviceTypeError``: a code the catalog does not hold.
- ``UnknownCollectorError``: a collector type other than ``dry`` or ``wet``.
- ``LimitOverrideError``: a point's limit overrides name an unknown key or switch off a field that
  cannot be switched off (deadband, persistence).
"""

from __future__ import annotations


class DeviceCatalogError(Exception):
    """Base of every error the device catalog raises on purpose."""


class CatalogError(DeviceCatalogError):
    """A catalog file that breaks the catalog's rules (file, entry and field in the message)."""

    def __init__(self, file: str, entry: str | None, field: str, problem: str) -> None:
        self.file = file
        self.entry = entry
        self.field = field
        self.problem = problem
        where = f"{file}: {entry}" if entry else file
        super().__init__(f"{where}: {field}: {problem}")


class UnknownIndicatorError(DeviceCatalogError):
    """No indicator with this code in the catalog."""


class UnknownDeviceTypeError(DeviceCatalogError):
    """No device type with this code in the catalog."""


class UnknownCollectorError(DeviceCatalogError):
    """A collector type the catalog does not know (it knows ``dry`` and ``wet``)."""


class LimitOverrideError(DeviceCatalogError):
    """A point's limit overrides that cannot be applied (unknown key, or a required field off)."""
