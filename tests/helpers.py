"""Helpers for end-to-end tests over HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Account:
    email: str
    password: str
    access_token: str
    refresh_token: str
    user: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def organization_id(self) -> str:
        return str(self.user["organization_id"])


async def register(client: httpx.AsyncClient, *, email: str | None = None, password: str = PASSWORD,
                   name: str = "Ana Souza", organization_name: str = "Acme") -> Account:
    email = email or unique_email()
    response = await client.post("/api/v1/auth/register", json={
        "email": email, "password": password, "name": name, "organization_name": organization_name})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(email=email, password=password, access_token=body["access_token"],
                   refresh_token=body["refresh_token"], user=body["user"])


async def add_member(client: httpx.AsyncClient, admin: Account, role: str) -> Account:
    """An org_admin creates a user with ``role`` and that user logs in."""
    email = unique_email(role)
    created = await client.post("/api/v1/users", headers=admin.headers, json={
        "email": email, "name": f"{role} user", "role": role, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return await login(client, email)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Account:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(email=email, password=password, access_token=body["access_token"],
                   refresh_token=body["refresh_token"], user=body["user"])


def assert_error_shape(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["status_code"] == status
    assert isinstance(body["error_code"], str) and body["error_code"]
    if code is not None:
        assert body["error_code"] == code, body
    return dict(body)
