"""Dependency aliases shared by the routers (``Annotated`` types, one place)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials, OAuth2PasswordBearer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from connectors.broker_admin import DynsecAdmin
from device_catalog import Catalog
from dusttwin.settings import Settings
from twins.graph import TwinGraph
from twins.scope import Scope
from twins.store import PostgresTwinStore
from twins.tokens import InvalidTokenError, token_subject
from twins.users import User, authenticate, load_user, scope_of

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
basic = HTTPBasic(auto_error=False, realm="dusttwin")


def get_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_pool(request: Request) -> AsyncConnectionPool:
    """The application's database pool."""
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


async def get_conn(request: Request) -> AsyncIterator[AsyncConnection[Any]]:
    """A pooled connection for one request (a transaction, committed at the end)."""
    async with get_pool(request).connection() as conn:
        yield conn


def get_store(request: Request) -> PostgresTwinStore:
    """The twin store."""
    store: PostgresTwinStore = request.app.state.store
    return store


def get_catalog(request: Request) -> Catalog:
    """The device catalog in force."""
    catalog: Catalog = request.app.state.catalog
    return catalog


def get_graph(request: Request) -> TwinGraph:
    """The hierarchy graph."""
    graph: TwinGraph = request.app.state.graph
    return graph


def get_broker(request: Request) -> DynsecAdmin:
    """The broker's account manager."""
    broker: DynsecAdmin = request.app.state.broker
    return broker


SettingsDep = Annotated[Settings, Depends(get_settings)]
ConnDep = Annotated[AsyncConnection[Any], Depends(get_conn)]
StoreDep = Annotated[PostgresTwinStore, Depends(get_store)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
GraphDep = Annotated[TwinGraph, Depends(get_graph)]
BrokerDep = Annotated[DynsecAdmin, Depends(get_broker)]

NOT_AUTHENTICATED = (
    "not authenticated: send 'Authorization: Bearer <token>' (POST /api/v1/auth/token) "
    "or HTTP Basic credentials / 未认证"
)


async def current_user(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(oauth2)],
    _basic: Annotated[HTTPBasicCredentials | None, Depends(basic)],
) -> User:
    """The caller, from a bearer token or HTTP Basic credentials (the Ditto clients' way)."""
    return await _authenticate(request, conn, settings, bearer)


async def _authenticate(
    request: Request, conn: AsyncConnection[Any], settings: Settings, bearer: str | None
) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    user: User | None = None
    if bearer is not None:
        username = token_subject(settings.secret_key.get_secret_value(), bearer)
        user = await load_user(conn, username)
    elif scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise InvalidTokenError(NOT_AUTHENTICATED) from err
        user = await authenticate(conn, username, password)
    if user is None:
        raise InvalidTokenError(NOT_AUTHENTICATED)
    return user


UserDep = Annotated[User, Depends(current_user)]


async def current_scope(user: UserDep, conn: ConnDep) -> Scope:
    """The caller's jurisdiction."""
    return await scope_of(conn, user)


ScopeDep = Annotated[Scope, Depends(current_scope)]


async def streaming_scope(
    request: Request,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(oauth2)],
    _basic: Annotated[HTTPBasicCredentials | None, Depends(basic)],
) -> Scope:
    """The caller's jurisdiction, for a long-lived response: the connection is given back at once.

    ``ScopeDep`` holds its pooled connection (and its open transaction) until the response ends;
    for a stream that lasts hours that transaction would hold back vacuum on the whole database.
    """
    async with get_pool(request).connection() as conn:
        user = await _authenticate(request, conn, settings, bearer)
        return await scope_of(conn, user)


StreamingScopeDep = Annotated[Scope, Depends(streaming_scope)]
