"""Dependency aliases shared by the routers (``Annotated`` types, one place)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dusttwin.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
