"""The ``dusttwin`` command: doctor, migrate, serve, demo, seed-demo, simulate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer

from dusttwin.errors import DusttwinError
from dusttwin.settings import Settings

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from connectors.broker_admin import DynsecAdmin
    from twins.store import PostgresTwinStore

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
    # the pool warns at each reconnection attempt during an outage; our own loops log it once
    # when it starts and once when it ends
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return settings


def _fail(err: Exception) -> typer.Exit:
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
    from psycopg_pool import AsyncConnectionPool

    from connectors.directory import PointDirectory
    from connectors.mqtt import BrokerAccount, run
    from connectors.pipeline import IngestPipeline
    from device_catalog import load_catalog
    from risk.evaluator import LimitEvaluator
    from risk.model_holder import ModelHolder

    account = BrokerAccount(
        settings.mqtt_host,
        settings.mqtt_port,
        settings.mqtt_username,
        settings.mqtt_password.get_secret_value(),
        client_id=f"{settings.mqtt_client_id_prefix}-connector-{settings.connector_id}",
        tls=settings.mqtt_tls,
        ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
        share_group=settings.mqtt_share_group,
    )

    async def main() -> None:
        stop_receiving, stop_writing = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_receiving.set)
        pool = AsyncConnectionPool(
            settings.database_url.get_secret_value(), min_size=1, max_size=4, open=False
        )
        await pool.open()
        try:
            catalog = load_catalog()
            pipeline = IngestPipeline(
                pool,
                PointDirectory(pool, catalog),
                timedelta(days=settings.retention_raw_days),
                sink=LimitEvaluator.for_model(
                    catalog, ModelHolder(settings.risk_model_file).current()
                ),
            )
            writer = asyncio.create_task(pipeline.run(stop_writing))
            await run(account, pipeline, stop_receiving)
            stop_writing.set()  # what was received is written (and acknowledged) before exit
            await writer
        finally:
            await pool.close()

    asyncio.run(main())


@app.command("forget-connector")
def forget_connector(
    connector_id: Annotated[str, typer.Argument(help="the DUSTTWIN_CONNECTOR_ID it ran with")],
) -> None:
    """Retire a connector for good: the broker stops keeping messages for its session."""
    from connectors.mqtt import BrokerAccount, forget_session

    settings = _settings()
    client_id = f"{settings.mqtt_client_id_prefix}-connector-{connector_id}"
    asyncio.run(
        forget_session(
            BrokerAccount(
                settings.mqtt_host,
                settings.mqtt_port,
                settings.mqtt_username,
                settings.mqtt_password.get_secret_value(),
                client_id=client_id,
            )
        )
    )
    typer.echo(f"session {client_id} ended; the broker keeps nothing more for it")


@app.command("seed-demo")
def seed_demo() -> None:
    """Create what is missing of the demo region: 3 districts of Shanghai, 63 enterprises with
    their systems, points, gateways (with broker credentials), cameras, and the demo users."""
    from dusttwin.demo import read_passwords, seed, write_passwords

    settings = _settings()
    path = _demo_passwords_path(settings)
    passwords = read_passwords(path)

    async def run() -> str:
        async with _registry(settings) as (pool, store, broker), pool.connection() as conn:
            report = await seed(store, conn, broker, passwords)
        return str(report)

    try:
        report = asyncio.run(run())
    finally:
        write_passwords(path, passwords)
    typer.echo(f"demo: created {report}")


class ImportKindChoice(StrEnum):
    """What an import file holds."""

    enterprises = "enterprises"
    points = "points"


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help=".xlsx or .csv")
    ],
    kind: Annotated[
        ImportKindChoice,
        typer.Option(help="enterprises (粉尘涉爆企业基础情况表) or points (监测点位表)"),
    ],
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="import with this user's scope and rights; omitted: the platform's admin scope",
        ),
    ] = None,
) -> None:
    """Import a spreadsheet, all or nothing: every row is checked, and if any has a problem the
    problems are listed and nothing is imported (exit code 1)."""
    from collections.abc import Callable

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from twins.errors import TwinsError
    from twins.imports import ImportResult, apply_import, read_sheet
    from twins.scope import Scope
    from twins.users import load_user, scope_of

    settings = _settings()
    console = Console()

    async def run(progress: Callable[[int, int], None]) -> ImportResult:
        sheet = read_sheet(file.read_bytes(), file.name)
        async with _registry(settings) as (pool, store, _broker), pool.connection() as conn:
            scope = Scope.admin()
            if as_user is not None:
                user = await load_user(conn, as_user)
                if user is None:
                    raise DusttwinError(f"no enabled user {as_user!r} / 用户不存在或已停用")
                scope = await scope_of(conn, user)
            return await apply_import(store, conn, scope, kind.value, sheet, progress)

    columns = (TextColumn("checking rows / 检查"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("rows", total=None)
            result = asyncio.run(
                run(lambda done, total: bar.update(task, completed=done, total=total))
            )
    except (DusttwinError, TwinsError) as err:
        raise _fail(err) from err
    who = as_user or "admin scope"
    if not result.ok:
        table = Table("行 row", "列 column", show_lines=True)
        table.add_column("值 value", overflow="fold")
        table.add_column("原因 reason", overflow="fold")
        for p in result.problems:
            table.add_row(str(p.row), p.column, p.value, p.reason)
        console.print(table)
        typer.secho(
            f"{file.name}: {len(result.problems)} problem(s) in {result.rows} rows; nothing was "
            f"imported / 有 {len(result.problems)} 处问题，未导入任何数据",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=1)
    typer.echo(
        f"{file.name}: imported {result.rows} {kind.value} as {who} — created {result.created}, "
        f"updated {result.updated}, unchanged {result.unchanged}"
    )


def _demo_passwords_path(settings: Settings) -> Path:
    return settings.data_dir / "demo" / "gateways.json"


@contextlib.asynccontextmanager
async def _registry(
    settings: Settings,
) -> AsyncIterator[tuple[AsyncConnectionPool, PostgresTwinStore, DynsecAdmin]]:
    """A pool, the twin store with the registry's rules, and the broker's account manager."""
    from psycopg_pool import AsyncConnectionPool

    from connectors.broker_admin import DynsecAdmin
    from device_catalog import load_catalog
    from twins.registry import RegistryValidator
    from twins.store import PostgresTwinStore

    pool = AsyncConnectionPool(
        settings.database_url.get_secret_value(), min_size=1, max_size=4, open=False
    )
    await pool.open()
    try:
        store = PostgresTwinStore(pool, RegistryValidator(load_catalog()))
        broker = DynsecAdmin(
            settings.mqtt_host,
            settings.mqtt_port,
            settings.mqtt_username,
            settings.mqtt_password.get_secret_value(),
        )
        yield pool, store, broker
    finally:
        await pool.close()


user_app = typer.Typer(help="Accounts: add users with a role and a scope.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="admin, regulator, enterprise or integrator")],
    scope: Annotated[
        str | None,
        typer.Option(help="regulator: adcode (000000 = Ministry); enterprise: credit code"),
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="omit to read it from standard input")
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="name shown in the UI")] = None,
) -> None:
    """Create a user (for scripts and first set-up)."""
    from twins.users import UserError, add_user

    settings = _settings()
    if password is None:
        password = sys.stdin.readline().rstrip("\n")

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(
            settings.database_url.get_secret_value(), autocommit=True
        ) as conn:
            await add_user(conn, username, role, scope, password, display_name=display_name)

    try:
        asyncio.run(run())
    except UserError as err:
        raise _fail(err) from err
    typer.echo(f"user {username} ({role}{', ' + scope if scope else ''}) created")


@app.command()
def simulate(
    period: Annotated[float, typer.Option(min=0.01, help="seconds between rts messages")] = 10.0,
    gateways: Annotated[
        int | None, typer.Option(min=1, help="simulate only the first N registered gateways")
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="CREDIT_CODE[.GATEWAY_ID]=SCENARIO: overheat, smoulder, clogging, broken_bag, "
            "sensor_fault, offline_backfill or vent_burst (repeatable)"
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a live count of what was sent")] = True,
) -> None:
    """Run the registered gateways as simulated ones, publishing protocol v1 messages."""
    from connectors.simulator import SCENARIOS, SimGateway, SimPoint, Tally, run_fleet
    from dusttwin.demo import read_passwords
    from twins.queries import gateways_with_points

    settings = _settings()
    passwords = read_passwords(_demo_passwords_path(settings))

    async def load() -> list[SimGateway]:
        async with await psycopg.AsyncConnection.connect(
            settings.database_url.get_secret_value()
        ) as conn:
            found = await gateways_with_points(conn)
        return [
            SimGateway(g.credit_code, g.gateway_id, tuple(SimPoint(c, i) for c, i in g.points))
            for g in found
            if g.mqtt_username in passwords and g.points
        ][:gateways]

    fleet = asyncio.run(load())
    if not fleet:
        raise _fail(DusttwinError("no simulated gateways: run `dusttwin seed-demo` first"))
    scenarios: dict[str, str] = {}
    for item in scenario or []:
        target, _, name = item.partition("=")
        if name not in SCENARIOS or not target:
            raise _fail(DusttwinError(f"--scenario {item!r}: TARGET=one of {', '.join(SCENARIOS)}"))
        for gw in fleet:
            if target in (gw.credit_code, f"{gw.credit_code}.{gw.gateway_id}"):
                scenarios[f"{gw.credit_code}.{gw.gateway_id}"] = name

    def credentials(gw: SimGateway) -> tuple[str, str]:
        username = f"{gw.credit_code}.{gw.gateway_id}"
        return username, passwords[username]

    tally = Tally()

    async def main() -> None:
        fleet_task = asyncio.create_task(
            run_fleet(
                fleet,
                settings.mqtt_host,
                settings.mqtt_port,
                credentials,
                period_s=period,
                scenarios=scenarios,
                tally=tally,
            )
        )
        if progress and sys.stderr.isatty():
            await _show_progress(tally, len(fleet), fleet_task)
        await fleet_task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


async def _show_progress(tally: object, gateways: int, task: asyncio.Task[None]) -> None:
    from rich.live import Live

    from connectors.simulator import Tally

    assert isinstance(tally, Tally)
    started = asyncio.get_running_loop().time()
    with Live(refresh_per_second=2, transient=True) as live:
        while not task.done():
            elapsed = max(asyncio.get_running_loop().time() - started, 1e-6)
            live.update(
                f"{gateways} gateways · {tally.messages:,} messages · {tally.points:,} points"
                f" · {tally.points / elapsed:,.0f} points/s · {tally.errors} connection errors"
            )
            await asyncio.sleep(0.5)


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
