"""Indicator and device types as data shipped in the package (TOML), validated at load."""
