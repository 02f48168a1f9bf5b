"""What the Flask server behind the Dash app holds: its settings, photo store and risk model.

Each is made once per Flask app (``current_app.extensions``) from the settings ``create_app`` was
given, so every page and the API behind it share the same photo store and model.
"""

from __future__ import annotations

from typing import Final

from flask import current_app

from dusttwin.settings import Settings
from risk.model import RiskModel
from risk.model_holder import ModelHolder
from twins.photos import PhotoStore, photo_store_from

__all__ = ["SETTINGS_KEY", "app_settings", "max_photo_bytes", "photo_store", "risk_model"]

SETTINGS_KEY: Final = "DUSTTWIN_SETTINGS"
_STORE_KEY: Final = "dusttwin_photo_store"
_MODELS_KEY: Final = "dusttwin_risk_models"


def app_settings() -> Settings:
    """The settings the Dash app was built with."""
    found: Settings = current_app.config[SETTINGS_KEY]
    return found


def photo_store() -> PhotoStore:
    """The photo store the settings choose, made once per Flask app (the API uses the same)."""
    store: PhotoStore | None = current_app.extensions.get(_STORE_KEY)
    if store is None:
        store = photo_store_from(app_settings())
        current_app.extensions[_STORE_KEY] = store
    return store


def max_photo_bytes() -> int:
    """The largest photo accepted (``DUSTTWIN_PHOTO_MAX_BYTES``), as the API takes it."""
    return app_settings().photo_max_bytes


def risk_model() -> RiskModel:
    """The risk model in force (reloaded when its file changes), held by the Flask app."""
    holder: ModelHolder | None = current_app.extensions.get(_MODELS_KEY)
    if holder is None:
        found = current_app.config.get(SETTINGS_KEY)
        holder = ModelHolder(getattr(found, "risk_model_file", None))
        current_app.extensions[_MODELS_KEY] = holder
    return holder.current()
