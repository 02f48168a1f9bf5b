"""Users, their roles and jurisdictions, and integrators' grants (SQL of tables users and
integrator_grants). Passwords are hashed with argon2; nothing stores or logs them in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg import AsyncConnection

from twins.errors import TwinsError
from twins.identifiers import ADCODE_RE, is_valid_credit_code
from twins.regions import MINISTRY_SCOPE, is_known_adcode
from twins.scope import Role, Scope

ROLES: tuple[Role, ...] = ("admin", "regulator", "enterprise", "integrator")
_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


class UserError(TwinsError):
    """A user that cannot be created as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    """An account as the API sees it (no password hash)."""

    username: str
    role: Role
    scope: str | None
    display_name: str | None
    disabled: bool


def hash_password(password: str) -> str:
    """The argon2 hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the argon2 hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_new_user(role: str, scope: str | None, password: str) -> None:
    """Raise UserError when a role, its scope or the password is not acceptable."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if role == "regulator":
        if scope is None or not ADCODE_RE.match(scope):
            raise UserError("a regulator needs --scope with an adcode (000000 for the Ministry)")
        if scope != MINISTRY_SCOPE and not is_known_adcode(scope):
            raise UserError(f"unknown adcode {scope}")
    elif role == "enterprise":
        if scope is None or not is_valid_credit_code(scope):
            raise UserError("an enterprise user needs --scope with its credit code")
    elif scope is not None:
        raise UserError(f"a {role} has no scope")


async def add_user(
    conn: AsyncConnection[Any],
    username: str,
    role: str,
    scope: str | None,
    password: str,
    *,
    display_name: str | None = None,
) -> User:
    """Create a user; UserError when it exists or is not valid."""
    check_new_user(role, scope, password)
    try:
        async with conn.transaction():  # a savepoint when the caller holds a transaction
            await conn.execute(
                "INSERT INTO users (username, password_hash, role, scope, display_name)"
                " VALUES (%s, %s, %s, %s, %s)",
                (username, hash_password(password), role, scope, display_name),
            )
    except psycopg.errors.UniqueViolation as err:
        raise UserError(f"user {username!r} exists already") from err
    except psycopg.errors.CheckViolation as err:
        raise UserError(f"user {username!r} is not valid: {err.diag.constraint_name}") from err
    return User(username, role, scope, display_name, False)  # type: ignore[arg-type]


async def authenticate(conn: AsyncConnection[Any], username: str, password: str) -> User | None:
    """The user when the password is right and the account enabled; None otherwise."""
    cur = await conn.execute(
        "SELECT password_hash, role, scope, display_name, disabled FROM users WHERE username = %s",
        (username,),
    )
    row = await cur.fetchone()
    if row is None:
        verify_password(_DUMMY_HASH, password)  # same work either way: no user enumeration by time
        return None
    if not verify_password(str(row[0]), password) or row[4]:
        return None
    return User(username, row[1], row[2], row[3], bool(row[4]))


async def load_user(conn: AsyncConnection[Any], username: str) -> User | None:
    """The enabled user with this name, if any."""
    cur = await conn.execute(
        "SELECT role, scope, display_name FROM users WHERE username = %s AND NOT disabled",
        (username,),
    )
    row = await cur.fetchone()
    return User(username, row[0], row[1], row[2], False) if row else None


async def scope_of(conn: AsyncConnection[Any], user: User) -> Scope:
    """The jurisdiction of a user, read fresh (grants can change at any time)."""
    if user.role == "admin":
        return Scope.admin(user.username)
    if user.role == "regulator":
        assert user.scope is not None
        return Scope.regulator(user.username, user.scope)
    if user.role == "enterprise":
        assert user.scope is not None
        return Scope.enterprise(user.username, user.scope)
    cur = await conn.execute(
        "SELECT credit_code FROM integrator_grants WHERE username = %s", (user.username,)
    )
    return Scope.integrator(user.username, frozenset(str(r[0]) for r in await cur.fetchall()))


async def grant_integrator(
    conn: AsyncConnection[Any], integrator: str, credit_code: str, granted_by: str
) -> None:
    """Let an integrator see and configure an enterprise (idempotent)."""
    cur = await conn.execute(
        "SELECT role FROM users WHERE username = %s AND NOT disabled", (integrator,)
    )
    row = await cur.fetchone()
    if row is None or row[0] != "integrator":
        raise UserError(f"{integrator!r} is not an integrator account")
    await conn.execute(
        "INSERT INTO integrator_grants (username, credit_code, granted_by) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (integrator, credit_code, granted_by),
    )


async def revoke_integrator(conn: AsyncConnection[Any], integrator: str, credit_code: str) -> bool:
    """Withdraw an integrator's access to an enterprise; False when it had none."""
    cur = await conn.execute(
        "DELETE FROM integrator_grants WHERE username = %s AND credit_code = %s",
        (integrator, credit_code),
    )
    return cur.rowcount > 0


_DUMMY_HASH = _hasher.hash("dusttwin-no-such-user")
