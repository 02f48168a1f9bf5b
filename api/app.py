"""Build the FastAPI application from settings (``dusttwin serve api``)."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import health
from dusttwin import __version__
from dusttwin.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """The API with every router mounted; shared clients live in the app's state."""
    app = FastAPI(
        title="dusttwin API",
        version=__version__,
        description=(
            "粉尘涉爆企业安全生产风险监测预警系统 — dust-explosion risk monitoring and early "
            "warning: registry, ingest, alarms, risk and the Eclipse Ditto HTTP API v2 for twins."
        ),
    )
    app.state.settings = settings
    app.include_router(health.router)
    return app
