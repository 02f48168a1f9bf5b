"""Indicator and device types as data shipped in the package (TOML), validated at load."""

from device_catalog.catalog import (
    Catalog,
    DeviceType,
    Indicator,
    Limits,
    RateOfRise,
    RelativeLimit,
    effective_limits,
    load_catalog,
    parse_catalog,
    validate_limits,
)
from device_catalog.errors import (
    CatalogError,
    DeviceCatalogError,
    LimitOverrideError,
    UnknownCollectorError,
    UnknownDeviceTypeError,
    UnknownIndicatorError,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "DeviceCatalogError",
    "DeviceType",
    "Indicator",
    "LimitOverrideError",
    "Limits",
    "RateOfRise",
    "RelativeLimit",
    "UnknownCollectorError",
    "UnknownDeviceTypeError",
    "UnknownIndicatorError",
    "effective_limits",
    "load_catalog",
    "parse_catalog",
    "validate_limits",
]
