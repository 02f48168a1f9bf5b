"""``/api/v1/auth``: log in (OAuth2 password flow) and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.deps import ConnDep, SettingsDep, UserDep
from twins.tokens import DEFAULT_TTL, InvalidTokenError, issue_token
from twins.users import authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["auth / 认证"])


class Token(BaseModel):
    """An access token."""

    access_token: str = Field(description="访问令牌 / Access token (JWT)")
    token_type: str = Field(default="bearer", description="令牌类型 / Token type")
    expires_in: int = Field(description="有效期（秒）/ Seconds until it expires")


class Me(BaseModel):
    """The caller's account."""

    username: str = Field(description="用户名 / Username")
    role: str = Field(description="角色 / Role: admin, regulator, enterprise, integrator")
    scope: str | None = Field(
        description="辖区或企业 / Adcode (regulator) or credit code (enterprise)"
    )
    display_name: str | None = Field(description="显示名 / Display name")


@router.post("/token", summary="Log in / 登录")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], conn: ConnDep, settings: SettingsDep
) -> Token:
    """Exchange a username and password for a bearer token."""
    user = await authenticate(conn, form.username, form.password)
    if user is None:
        raise InvalidTokenError("wrong username or password / 用户名或密码错误")
    token = issue_token(settings.secret_key.get_secret_value(), user.username)
    return Token(access_token=token, expires_in=int(DEFAULT_TTL.total_seconds()))


@router.get("/me", summary="Who am I / 当前用户")
async def me(user: UserDep) -> Me:
    """The account the request is made with."""
    return Me(
        username=user.username, role=user.role, scope=user.scope, display_name=user.display_name
    )
