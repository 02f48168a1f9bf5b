"""The ``dusttwin`` command: doctor, migrate, serve, demo, seed-demo, simulate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from enum import StrEnum
from typing import Annotated

import typer

from dusttwin.errors import DusttwinError
from dusttwin.settings import Settings

app = typer.Typer(
    help="dusttwin — 粉尘涉爆企业安全生产风险监测预警系统 (dust-explosion risk monitoring).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


def _fail(err: DusttwinError) -> typer.Exit:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@app.command()
def doctor() -> None:
    """Check every service and the TimescaleDB mode; say what is wrong and how to fix it."""
    from dusttwin.health import check_all

    report = asyncio.run(check_all(_settings()))
    for c in report.checks:
        mark = (
            typer.style("ok  ", fg=typer.colors.GREEN)
            if c.ok
            else typer.style("FAIL", fg=typer.colors.RED)
        )
        typer.echo(f"{mark} {c.name:9} {c.detail}")
        if c.fix:
            typer.echo(f"     {'':9} fix: {c.fix}")
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Apply pending schema migrations (forward-only; safe to run again)."""
    from dusttwin.migrate import migrate as run_migrations

    settings = _settings()
    try:
        report = run_migrations(settings.database_url.get_secret_value(), settings.timescaledb)
    except DusttwinError as err:
        raise _fail(err) from err
    applied = ", ".join(f"{v:04d}" for v in report.applied) or "none"
    typer.echo(
        f"applied: {applied}; schema version {report.current_version:04d}; "
        f"time series: {report.timeseries_mode}"
    )


class Service(StrEnum):
    """The long-running processes of the platform."""

    api = "api"
    dash = "dash"
    connector = "connector"
    worker = "worker"
    scheduler = "scheduler"


@app.command()
def serve(service: Annotated[Service, typer.Argument(help="which process to run")]) -> None:
    """Run one platform process in the foreground."""
    settings = _settings()
    if service is Service.api:
        import uvicorn

        from api.app import create_app

        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)
    elif service is Service.dash:
        from dash_app.app import create_app as create_dash

        create_dash(settings).run(host=settings.dash_host, port=settings.dash_port, debug=False)
    elif service is Service.connector:
        _serve_connector(settings)
    elif service is Service.worker:
        from redis import Redis
        from rq import Queue, Worker

        from dusttwin import worker_context
        from dusttwin.scheduler import QUEUE_NAME

        worker_context.install(settings)
        redis = Redis.from_url(settings.redis_url.get_secret_value())
        Worker([Queue(QUEUE_NAME, connection=redis)], connection=redis).work()
    else:
        from redis import Redis

        from dusttwin import scheduler

        redis = Redis.from_url(settings.redis_url.get_secret_value())
        stopped = False

        def stop(_signum: int, _frame: object) -> None:
            nonlocal stopped
            stopped = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        scheduler.run(redis, stop=lambda: stopped)


def _serve_connector(settings: Settings) -> None:
    import os

    from connectors.mqtt import BrokerAccount, MessageCounter, run

    account = BrokerAccount(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_username,
        settings.mqtt_password.get_secret_value(),
        client_id=f"{settings.mqtt_client_id_prefix}-connector-{os.getpid()}",
        tls=settings.mqtt_tls,
        ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(account, MessageCounter(), stop)

    asyncio.run(main())


@app.command("seed-demo")
def seed_demo() -> None:
    """Create (or refresh) the demo region's twins: Shanghai with Baoshan and two neighbours."""
    from dusttwin.db import connect
    from dusttwin.demo import seed_regions

    settings = _settings()
    with connect(settings.database_url.get_secret_value()) as conn:
        regions = seed_regions(conn)
    typer.echo(f"demo: {regions} region twins")


@app.command()
def simulate(
    enterprises: Annotated[int, typer.Option(min=1, help="how many demo gateways")] = 60,
    period: Annotated[float, typer.Option(min=0.1, help="seconds between rts messages")] = 10.0,
) -> None:
    """Run simulated gateways that publish protocol v1 messages to the broker."""
    from connectors.simulator import SimGateway, SimPoint, run_fleet
    from dusttwin.demo import demo_gateways

    settings = _settings()
    gateways = [
        SimGateway(
            g.credit_code, g.gateway_id, tuple(SimPoint(p.code, p.indicator) for p in g.points)
        )
        for g in demo_gateways(enterprises)
    ]
    # Until gateways are registered with credentials of their own, the simulator publishes
    # with the platform's account.
    account = (settings.mqtt_username, settings.mqtt_password.get_secret_value())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_fleet(
                gateways, settings.mqtt_host, settings.mqtt_port, lambda _: account, period_s=period
            )
        )


@app.command()
def demo() -> None:
    """Everything at once: migrate, seed the demo region, start every process and the simulator."""
    from dusttwin.processes import DEMO_PROCESSES, supervise

    settings = _settings()
    migrate()
    seed_demo()
    typer.echo(f"API:        {settings.api_url}/docs  (health: {settings.api_url}/healthz)")
    typer.echo(f"Dash:       {settings.dash_url}/")
    typer.echo("Ctrl-C stops everything.")
    raise typer.Exit(code=supervise(DEMO_PROCESSES))


if __name__ == "__main__":
    app()
