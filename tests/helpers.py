"""Small helpers shared by tests."""

from __future__ import annotations

from dusttwin.settings import Settings


def override(settings: Settings, **changes: object) -> Settings:
    """A copy of ``settings`` with some values changed, validated like the environment's."""
    return Settings.model_validate({**settings.model_dump(), **changes})
