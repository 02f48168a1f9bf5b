"""Access tokens: short-lived JWTs (HS256) naming a user; the role is re-read on every request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from twins.errors import TwinsError

ALGORITHM = "HS256"
ISSUER = "dusttwin"
DEFAULT_TTL = timedelta(hours=8)


class InvalidTokenError(TwinsError):
    """A token that is malformed, forged, expired or not ours."""


def issue_token(
    secret: str, username: str, *, ttl: timedelta = DEFAULT_TTL, now: datetime | None = None
) -> str:
    """A signed token for ``username`` valid for ``ttl``."""
    if not secret:
        raise InvalidTokenError("no secret key configured (DUSTTWIN_SECRET_KEY)")
    issued = now or datetime.now(UTC)
    claims = {"sub": username, "iss": ISSUER, "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def token_subject(secret: str, token: str) -> str:
    """The username a valid token names; InvalidTokenError otherwise."""
    if not secret:
        raise InvalidTokenError("no secret key configured (DUSTTWIN_SECRET_KEY)")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as err:
        raise InvalidTokenError("the token has expired; log in again") from err
    except jwt.InvalidTokenError as err:
        raise InvalidTokenError(f"the token is not valid: {err}") from err
    return str(claims["sub"])
