"""What an RQ job may use in its worker process: the settings the worker was started with.

RQ jobs are plain module-level functions taking JSON-serialisable ids; credentials never travel
through Redis. ``dusttwin serve worker`` calls :func:`install` once before it starts working.
"""

from __future__ import annotations

from dusttwin.errors import ConfigurationError
from dusttwin.settings import Settings

_settings: Settings | None = None


def install(settings: Settings) -> None:
    """Make ``settings`` the worker's settings (called once at worker start-up)."""
    global _settings  # noqa: PLW0603 — RQ gives a job no other way to reach its process's state
    _settings = settings


def settings() -> Settings:
    """The worker's settings; an error if the process was not started as a dusttwin worker."""
    if _settings is None:
        raise ConfigurationError(
            "this job runs outside a dusttwin worker: start it with `dusttwin serve worker`"
        )
    return _settings
