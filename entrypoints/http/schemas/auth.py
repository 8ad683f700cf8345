"""Auth and user schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from entrypoints.http.schemas.common import RequestModel, ResponseModel, read_only

RoleName = Literal["super_admin", "org_admin", "agent", "viewer"]


class UserOut(ResponseModel):
    id: UUID
    email: str
    name: str
    role: RoleName
    organization_id: UUID
    is_active: bool
    created_at: datetime
    updated_at: datetime


class RegisterIn(RequestModel):
    email: str = Field(min_length=3, max_length=254, examples=["ana@example.com"])
    password: str = Field(min_length=8, max_length=128, examples=["correct horse battery"])
    name: str = Field(min_length=1, max_length=255, examples=["Ana Souza"])
    organization_name: str = Field(min_length=1, max_length=255, examples=["Acme Ltda"])


class LoginIn(RequestModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class ForgotPasswordIn(RequestModel):
    email: str = Field(min_length=1, max_length=254)


class ResetPasswordIn(RequestModel):
    token: str = Field(min_length=1, max_length=512)
    new_password: str = Field(min_length=8, max_length=128)


class TokenOut(ResponseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserOut


class RefreshOut(ResponseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class MeOut(ResponseModel):
    user: UserOut


class CreateUserIn(RequestModel):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1, max_length=255)
    role: RoleName = "agent"
    password: str | None = Field(default=None, min_length=8, max_length=128,
                                 description="Omit to email an invitation link instead")


class UpdateUserIn(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    role: RoleName | None = None
    is_active: bool | None = None
    id: UUID | None = read_only()
    email: str | None = read_only()
    organization_id: UUID | None = read_only()
    created_at: datetime | None = read_only()
    updated_at: datetime | None = read_only()
