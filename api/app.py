"""Build the FastAPI application from settings (``dusttwin serve api``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from api import errors
from api.routes import (
    adapters,
    alarms,
    auth,
    catalog,
    changes,
    cleaning,
    ditto,
    enterprises,
    events,
    filings,
    hazards,
    health,
    imports,
    ingest,
    jobs,
    parts,
    readings,
    regions,
    risk,
    video,
    warnings,
    webhooks,
)
from connectors.broker_admin import DynsecAdmin
from connectors.directory import PointDirectory
from connectors.gateway_auth import GatewayPasswords
from connectors.pipeline import IngestPipeline
from device_catalog import load_catalog
from dusttwin import __version__
from dusttwin.settings import Settings
from risk.evaluator import LimitEvaluator
from risk.events import Bell
from risk.model_holder import ModelHolder
from twins.graph import TwinGraph
from twins.registry import RegistryValidator
from twins.store import PostgresTwinStore


def create_app(settings: Settings) -> FastAPI:
    """The API with every router mounted; shared clients live in the app's state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dsn = settings.database_url.get_secret_value()
        pool = AsyncConnectionPool(
            dsn, min_size=1, max_size=10, open=False, kwargs={"connect_timeout": 5}
        )
        await pool.open()
        catalog = load_catalog()
        graph = TwinGraph()
        stop = asyncio.Event()
        follower = asyncio.create_task(graph.follow(dsn, stop))
        await asyncio.wait_for(graph.ready.wait(), timeout=60)
        app.state.pool = pool
        app.state.catalog = catalog
        app.state.graph = graph
        app.state.store = PostgresTwinStore(pool, RegistryValidator(catalog))
        app.state.risk_models = ModelHolder(settings.risk_model_file)
        app.state.pipeline = IngestPipeline(
            pool,
            PointDirectory(pool, catalog),
            timedelta(days=settings.retention_raw_days),
            sink=LimitEvaluator.for_model(catalog, app.state.risk_models.current()),
        )
        app.state.event_bell = Bell()
        bell = asyncio.create_task(app.state.event_bell.run(dsn, stop))
        app.state.gateway_passwords = GatewayPasswords()
        writer = asyncio.create_task(app.state.pipeline.run(stop))
        app.state.broker = DynsecAdmin(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_username,
            settings.mqtt_password.get_secret_value(),
        )
        try:
            yield
        finally:
            stop.set()
            await writer
            await follower
            await bell
            await pool.close()

    app = FastAPI(
        title="dusttwin API",
        version=__version__,
        description=(
            "粉尘涉爆企业安全生产风险监测预警系统 — dust-explosion risk monitoring and early "
            "warning: registry, ingest, alarms, risk and the Eclipse Ditto HTTP API v2 for twins."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    for room in (
        health,
        auth,
        enterprises,
        parts,
        catalog,
        ingest,
        adapters,
        readings,
        imports,
        regions,
        alarms,
        warnings,
        risk,
        events,
        jobs,
        webhooks,
        cleaning,
        filings,
        hazards,
        changes,
        video,
        ditto,
    ):
        app.include_router(room.router)
    return app
