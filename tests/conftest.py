"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL or the embedded one), the app, an HTTP client."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from adapters.postgres.database import asyncpg_url
from adapters.postgres.migrations import upgrade
from entrypoints.config import Settings, load_settings
from entrypoints.embedded_db import start_embedded_postgres
from entrypoints.http.app import create_app, wire
from entrypoints.worker.main import run_worker
from tests.fake_graph.server import FakeGraphServer

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return start_embedded_postgres(ROOT / ".data" / "test", database="postgres", stop_on_exit=False)


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _plain(url: str) -> str:
    """asyncpg.connect wants a plain postgresql:// DSN."""
    return make_url(asyncpg_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


@asynccontextmanager
async def migrated_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A fresh database with every migration applied, dropped on exit (for tests that need one of their own:
    they look at whole tables)."""
    name = f"{prefix}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """The session's database, with every migration applied."""
    async with migrated_database(server_url, "pytake_test") as url:
        yield url


APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"


@pytest.fixture(scope="session")
def fake_graph() -> Iterator[FakeGraphServer]:
    """The local fake Graph API over real HTTP; the app under test points WHATSAPP_GRAPH_URL at it."""
    with FakeGraphServer.running() as fake:
        yield fake


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory, fake_graph: FakeGraphServer) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    return load_settings(env="test", data_dir=data_dir, log_json=True, log_level="WARNING", worker_metrics_port=0,
                         password_hash_time_cost=1, password_hash_memory_kib=1024,
                         whatsapp_app_secret=APP_SECRET, whatsapp_verify_token=VERIFY_TOKEN,
                         whatsapp_graph_url=fake_graph.base_url,
                         metrics_cache_seconds=0,  # every scrape sees the database (tests/e2e/test_metrics_access)
                         flow_http_allowed_private_hosts=["127.0.0.1"])  # local apps of the flow HTTP tests


@pytest.fixture(scope="session")
async def app(test_settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(test_settings, database_url=database_url)
    async with LifespanManager(application):
        yield application


@asynccontextmanager
async def app_with(test_settings: Settings, database_url: str, session_app: FastAPI, **updates: object
                   ) -> AsyncIterator[FastAPI]:
    """Another application on the session's database with some settings changed, for one test module; the
    process-wide dependency-injector wiring goes back to the session app afterwards."""
    application = create_app(test_settings.model_copy(update=updates), database_url=database_url)
    try:
        async with LifespanManager(application):
            yield application
    finally:
        wire(session_app.state.container)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    wire(app.state.container)  # a test that built another application re-wired the routes to its container
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="module")
async def worker(app: FastAPI, test_settings: Settings, database_url: str) -> AsyncIterator[None]:
    """The real worker (PgQueuer consumer with every handler) running on the test loop for one module."""
    async with running_worker(test_settings, database_url):
        yield


@asynccontextmanager
async def running_worker(settings: Settings, database_url: str) -> AsyncIterator[None]:
    """The real worker with ``settings`` on the test loop until the block ends (then stopped gracefully)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, database_url, stop=stop))
    await asyncio.sleep(0.3)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def mailbox(test_settings: Settings) -> Iterator[Path]:
    yield Path(test_settings.data_dir) / "mailbox"
