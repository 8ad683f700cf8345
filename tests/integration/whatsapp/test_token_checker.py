"""``HttpxWhatsAppTokenChecker`` over real HTTP against the local fake Graph API (and a bare local server for
5xx and network failures): valid token, error 190, permission errors, timeouts -> inconclusive. The token
never appears in the answer or in the logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from adapters.whatsapp.token_checker import HttpxWhatsAppTokenChecker
from tests.fake_graph import FakeGraphServer, ServedApp

pytestmark = pytest.mark.integration

TOKEN = "EAAGoodToken1234567890abcdef"


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraphServer]:
    async with FakeGraphServer.running_async() as server:
        server.add_number("106540352242922", TOKEN)
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def checker(client: httpx.AsyncClient, base_url: str, timeout: float = 10.0) -> HttpxWhatsAppTokenChecker:
    return HttpxWhatsAppTokenChecker(client, base_url=base_url, api_version="v25.0",
                                     timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)))


async def test_valid_token(fake: FakeGraphServer, client: httpx.AsyncClient) -> None:
    result = await checker(client, fake.base_url).check_whatsapp_token(TOKEN)
    assert result.valid is True and TOKEN not in result.message
    request = fake.requests[-1]
    assert request.path == "/v25.0/me" and "fields=id%2Cname" in request.query and TOKEN not in request.query


async def test_invalid_token_is_190(fake: FakeGraphServer, client: httpx.AsyncClient,
                                    caplog: pytest.LogCaptureFixture) -> None:
    result = await checker(client, fake.base_url).check_whatsapp_token("EAAinvalid")
    assert result.valid is False and result.message == "token invalid or expired"
    assert "EAAinvalid" not in caplog.text


async def test_slow_provider_is_inconclusive(fake: FakeGraphServer, client: httpx.AsyncClient) -> None:
    fake.set_delay(2.0)
    started = asyncio.get_running_loop().time()
    result = await checker(client, fake.base_url, timeout=0.5).check_whatsapp_token(TOKEN)
    assert result.valid is None and result.message.startswith("inconclusive")
    assert asyncio.get_running_loop().time() - started < 1.9
    fake.set_delay(0)


def _graph_like(status: int, body: dict[str, object] | None) -> Starlette:
    async def me(_: Request) -> Response:
        if body is None:
            return PlainTextResponse("Bad Gateway", status_code=status)
        return JSONResponse(body, status_code=status)

    async def redirect(_: Request) -> Response:
        return Response(status_code=302, headers={"Location": "http://169.254.169.254/"})

    return Starlette(routes=[Route("/v25.0/me", me if status != 302 else redirect)])


@pytest.mark.parametrize(("status", "body", "valid", "prefix"), [
    (403, {"error": {"code": 10, "message": "Permission denied", "type": "OAuthException"}}, False, "missing"),
    (403, {"error": {"code": 200, "message": "(#200) Permissions error"}}, False, "missing"),
    (400, {"error": {"code": 4, "message": "Application request limit reached"}}, None, "inconclusive"),
    (429, {"error": {"code": 80007, "message": "Rate limit"}}, None, "inconclusive"),
    (502, None, None, "inconclusive"),
    (503, {"error": {"code": 2, "message": "Service temporarily unavailable"}}, None, "inconclusive"),
    (302, None, None, "inconclusive"),
])
async def test_provider_answers(client: httpx.AsyncClient, status: int, body: dict[str, object] | None,
                                valid: bool | None, prefix: str) -> None:
    async with ServedApp.running_async(_graph_like(status, body)) as served:
        result = await checker(client, served.base_url).check_whatsapp_token(TOKEN)
    assert result.valid is valid and result.message.startswith(prefix)
    assert TOKEN not in result.message and "Permission denied" not in result.message


async def test_unreachable_provider_is_inconclusive(client: httpx.AsyncClient) -> None:
    result = await checker(client, "http://127.0.0.1:9").check_whatsapp_token(TOKEN)
    assert result.valid is None and result.message.startswith("inconclusive")
