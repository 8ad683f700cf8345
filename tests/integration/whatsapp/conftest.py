"""A fake Graph API on 127.0.0.1 for the whole session, reset before every test, and a gateway on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import pytest

from adapters.whatsapp import AiohttpWhatsAppGateway
from tests.fake_graph import FakeGraphServer

PHONE = "106540352242922"
TOKEN = "EAAG-integration-token-SECRET"
API_VERSION = "v25.0"


@pytest.fixture(scope="session")
def fake_graph_server() -> Iterator[FakeGraphServer]:
    with FakeGraphServer.running() as fake:
        yield fake


@pytest.fixture
def fake_graph(fake_graph_server: FakeGraphServer) -> FakeGraphServer:
    fake_graph_server.reset(keep_numbers=False)
    fake_graph_server.add_number(
        PHONE, TOKEN, display_phone_number="15550783881", verified_name="Lucky Shrub"
    )
    return fake_graph_server


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """For raw requests to the fake."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


@pytest.fixture
async def graph_session() -> AsyncIterator[aiohttp.ClientSession]:
    """The gateway's connection pool."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as session:
        yield session


@pytest.fixture
def gateway(fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession) -> AiohttpWhatsAppGateway:
    return AiohttpWhatsAppGateway(graph_session, base_url=fake_graph.base_url, api_version=API_VERSION)
