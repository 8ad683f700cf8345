"""Helpers for the e2e suites, on top of tests/helpers.py: clients with their own address, the job queue,
forged tokens and a super_admin made through the operator CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.engine import make_url

from tests.helpers import PASSWORD, Account, login, unique_email

API = "/api/v1"

# The user fields the API documents (SPEC.md "Auth": User = {...}).
USER_FIELDS = {"id", "email", "name", "role", "organization_id", "is_active", "created_at", "updated_at"}
CONTACT_FIELDS = {"id", "whatsapp_id", "bsuid", "name", "email", "tags", "attributes", "opted_out", "organization_id",
                  "created_at", "updated_at"}
ROLES = ("viewer", "agent", "org_admin", "super_admin")


def parse_time(value: str) -> datetime:
    """An API timestamp: ISO-8601 with an offset (SPEC "General")."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


def plain_dsn(database_url: str) -> str:
    """asyncpg wants postgresql://, never postgresql+asyncpg://."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


def unique_ip() -> str:
    """A client address of its own: login throttling also counts failures per address, and every test
    client of the `client` fixture shares 127.0.0.1, so tests that fail logins on purpose use their own."""
    b = uuid.uuid4().bytes
    return f"10.{b[0]}.{b[1]}.{max(b[2], 1)}"


@asynccontextmanager
async def http_client(app: FastAPI, *, ip: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip or unique_ip(), 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


# --- routes -------------------------------------------------------------------------------------------------

def api_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every APIRoute, also through included routers: FastAPI >= 0.16x keeps
    included routers as nodes of app.routes, so a flat isinstance(route, APIRoute) scan misses them. The path is
    the template OpenAPI shows (a converter, ``{contact_id:contact_id}``, is left out)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are flattened into app.routes
        pairs = [(r, getattr(r, "path", "")) for r in app.routes]
    else:
        pairs = [(ctx.original_route, ctx.path or "") for ctx in iter_route_contexts(app.routes)]
    found = []
    for route, path in pairs:
        if isinstance(route, APIRoute):
            template = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)
            found += [(method, template, route) for method in sorted(route.methods - {"HEAD", "OPTIONS"})]
    return found


# --- mail -----------------------------------------------------------------------------------------------------

async def emails_to(database_url: str, mailbox: Path, to: str) -> list[dict[str, Any]]:
    """Messages for ``to``: read from the durable queue (the `send_email` jobs in the `pgqueuer` table), which is
    much faster than running the worker; plus any the worker of another test may already have delivered to the
    development mailbox, so that a consumed job is still seen."""
    rows = await fetch(database_url, "SELECT payload FROM pgqueuer WHERE entrypoint = 'send_email' ORDER BY id")
    found = [json.loads(bytes(r["payload"])) for r in rows if r["payload"]]
    if mailbox.is_dir():
        found += [json.loads(p.read_text()) for p in sorted(mailbox.glob("*.json"))]
    return [m for m in found if str(m.get("to", "")).lower() == to.strip().lower()]


_TOKEN = re.compile(r"#token=([A-Za-z0-9_\-]+)")


def token_in(message: dict[str, Any]) -> str:
    match = _TOKEN.search(message["body"])
    assert match, "no #token= link in the message body"
    return match.group(1)


async def latest_token_for(database_url: str, mailbox: Path, to: str) -> str:
    messages = await emails_to(database_url, mailbox, to)
    assert messages, f"no email queued for {to}"
    return token_in(messages[-1])


# --- tokens ---------------------------------------------------------------------------------------------------

def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def header_of(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: str = "") -> str:
    """A JWT assembled by hand (for alg=none and edited payloads)."""
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), signature])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- accounts -------------------------------------------------------------------------------------------------

async def create_user(client: httpx.AsyncClient, admin: Account, role: str, *, email: str | None = None,
                      password: str | None = PASSWORD, headers: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email or unique_email(role), "name": f"{role} user", "role": role}
    if password is not None:
        body["password"] = password
    response = await client.post(f"{API}/users", headers=headers or admin.headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def insert_superadmin(database_url: str, *, email: str | None = None, password: str = PASSWORD) -> str:
    """A super_admin in its own (platform) organization, inserted as rows: super_admins are never created
    through the API (SPEC/research: seed or CLI only). See `run_cli_create_superadmin` for the CLI path."""
    from argon2 import PasswordHasher

    email = email or unique_email("root")
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)
    now = datetime.now(UTC)
    org_id, user_id = uuid.uuid4(), uuid.uuid4()
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        async with connection.transaction():
            await connection.execute("INSERT INTO organizations (id, name, created_at, updated_at) "
                                     "VALUES ($1, 'PyTake Platform (tests)', $2, $2)", org_id, now)
            await connection.execute(
                "INSERT INTO users (id, organization_id, email, name, role, is_active, password_hash, created_at, "
                "updated_at) VALUES ($1, $2, $3, 'Platform Root', 'super_admin', true, $4, $5, $5)",
                user_id, org_id, email, password_hash, now)
    finally:
        await connection.close()
    return email


async def run_cli_create_superadmin(database_url: str, data_dir: Path, *, email: str,
                                    password: str = PASSWORD) -> Any:
    """Run the operator command `pytake create-superadmin` (entrypoints.cli) against the test database.

    The command calls asyncio.run, so it runs in a worker thread, with its own environment."""
    from typer.testing import CliRunner

    from entrypoints.cli import app as cli

    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "ENV": "test", "LOG_LEVEL": "WARNING",
           "PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "1024"}

    def _invoke() -> Any:
        return CliRunner().invoke(cli, ["create-superadmin", "--email", email, "--name", "Platform Root",
                                        "--password", password], env=env)

    return await asyncio.to_thread(_invoke)


async def login_as(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Account:
    return await login(client, email, password)
