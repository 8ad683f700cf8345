"""The flows' HTTP caller against a local Starlette app over real HTTP: SSRF rules, redirects, timeouts, size."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from adapters.http.caller import HttpxFlowHttpCaller, is_public
from application.ports.flows import HttpCallError
from tests.fake_graph.server import ServedApp

pytestmark = pytest.mark.integration


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"method": request.method, "host": request.headers.get("host"),
                         "auth": request.headers.get("authorization"), "body": (await request.body()).decode(),
                         "query": request.url.query}, status_code=201)


async def _slow(_: Request) -> Response:
    await asyncio.sleep(3)
    return PlainTextResponse("late")


async def _big(_: Request) -> Response:
    return PlainTextResponse("x" * 5000)


hits: list[str] = []


async def _target(_: Request) -> Response:
    hits.append("target")
    return PlainTextResponse("should not be reached")


APP = Starlette(routes=[
    Route("/echo", _echo, methods=["GET", "POST"]), Route("/slow", _slow), Route("/big", _big),
    Route("/redirect", lambda _: RedirectResponse("/target", status_code=302)), Route("/target", _target),
    Route("/text", lambda _: PlainTextResponse("plain words")),
])


@pytest.fixture(scope="module")
def served() -> Iterator[ServedApp]:
    with ServedApp.running(APP) as app:
        yield app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False) as c:
        yield c


def caller(client: httpx.AsyncClient, **options: object) -> HttpxFlowHttpCaller:
    return HttpxFlowHttpCaller(client, **{"allowed_private_hosts": ["127.0.0.1", "localhost"], **options})  # type: ignore[arg-type]


async def test_json_call_with_headers_and_body(served: ServedApp, client: httpx.AsyncClient) -> None:
    response = await caller(client).call("POST", f"{served.base_url}/echo?a=1", {"Authorization": "Bearer t"},
                                         {"k": "v"}, 5)
    assert response.status_code == 201
    assert response.body == {"method": "POST", "host": f"127.0.0.1:{served.port}", "auth": "Bearer t",
                             "body": '{"k":"v"}', "query": "a=1"}
    text = await caller(client).call("GET", f"{served.base_url}/text", {}, None, 5)
    assert text.body == "plain words"


async def test_private_addresses_are_refused_unless_allowlisted(served: ServedApp,
                                                                client: httpx.AsyncClient) -> None:
    strict = HttpxFlowHttpCaller(client)
    for url in (f"{served.base_url}/echo", f"http://localhost:{served.port}/echo", "http://10.0.0.1/",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
                "http://0.0.0.0/"):
        with pytest.raises(HttpCallError) as error:
            await strict.call("GET", url, {}, None, 5)
        assert error.value.kind == "blocked", url
    with pytest.raises(HttpCallError) as scheme:
        await strict.call("GET", "file:///etc/passwd", {}, None, 5)
    assert scheme.value.kind == "blocked"
    assert (await caller(client).call("GET", f"{served.base_url}/echo", {}, None, 5)).status_code == 201


async def test_host_allowlist(served: ServedApp, client: httpx.AsyncClient) -> None:
    only_api = caller(client, allowed_hosts=["api.example.com", ".trusted.example"])
    with pytest.raises(HttpCallError) as error:
        await only_api.call("GET", f"{served.base_url}/echo", {}, None, 5)
    assert error.value.kind == "blocked" and "FLOW_HTTP_ALLOWED_HOSTS" in error.value.message
    both = caller(client, allowed_hosts=["127.0.0.1"])
    assert (await both.call("GET", f"{served.base_url}/echo", {}, None, 5)).status_code == 201


async def test_redirects_are_not_followed(served: ServedApp, client: httpx.AsyncClient) -> None:
    response = await caller(client).call("GET", f"{served.base_url}/redirect", {}, None, 5)
    assert response.status_code == 302 and hits == []


async def test_timeout_and_size_limit(served: ServedApp, client: httpx.AsyncClient) -> None:
    with pytest.raises(HttpCallError) as slow:
        await caller(client).call("GET", f"{served.base_url}/slow", {}, None, 1)
    assert slow.value.kind == "timeout"
    with pytest.raises(HttpCallError) as big:
        await caller(client, max_response_bytes=1000).call("GET", f"{served.base_url}/big", {}, None, 5)
    assert big.value.kind == "too_large"
    with pytest.raises(HttpCallError) as refused:
        await caller(client).call("GET", "http://127.0.0.1:1/", {}, None, 2)
    assert refused.value.kind == "failed"


# IPv6 addresses that carry an IPv4 address: each must be judged by the address it carries (issue #11 item 8)
EMBEDDED_IPV4 = [
    "http://[64:ff9b::7f00:1]/",  # NAT64 well-known prefix -> 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # NAT64 -> 169.254.169.254 (cloud metadata)
    "http://[64:ff9b::a00:1]/",  # NAT64 -> 10.0.0.1
    "http://[64:ff9b:1::808:808]/",  # NAT64 local-use prefix (RFC 8215): never public
    "http://[64:ff9b:1:7f00:0:100::]/",  # the same prefix, /48 embedding of 127.0.0.1
    "http://[2002:7f00:1::1]/",  # 6to4 -> 127.0.0.1
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 -> 169.254.169.254
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[::a9fe:a9fe]/",  # IPv4-compatible -> 169.254.169.254
    "http://[::ffff:0:7f00:1]/",  # IPv4-translated (SIIT) -> 127.0.0.1
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped, as before
]


@pytest.mark.parametrize("url", EMBEDDED_IPV4)
async def test_ipv6_addresses_embedding_a_private_ipv4_are_refused(url: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(HttpCallError) as error:
        await HttpxFlowHttpCaller(client).call("GET", url, {}, None, 2)
    assert error.value.kind == "blocked", error.value.message


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111"])
def test_ipv6_addresses_embedding_a_public_ipv4_stay_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", ["http://[x/", "http://a..b.example/", f"http://{'a' * 300}.example/"])
async def test_urls_that_cannot_be_parsed_are_refused_without_quoting_them(url: str,
                                                                          client: httpx.AsyncClient) -> None:
    with pytest.raises(HttpCallError) as error:
        await HttpxFlowHttpCaller(client).call("GET", url, {}, None, 2)
    assert error.value.kind == "blocked" and "example" not in error.value.message


async def test_header_values_go_as_utf8_and_a_request_that_cannot_be_built_is_refused(
        served: ServedApp, client: httpx.AsyncClient) -> None:
    response = await caller(client).call("GET", f"{served.base_url}/echo", {"Authorization": "Bearer José 😀"},
                                         None, 5)
    assert response.body["auth"].encode("latin-1").decode() == "Bearer José 😀"  # type: ignore[index]
    for headers, body in (({"X-Naïve": "v"}, None), ({}, {"n": float("nan")})):
        with pytest.raises(HttpCallError) as error:
            await caller(client).call("POST", f"{served.base_url}/echo", headers, body, 5)
        assert error.value.kind == "blocked" and "Naïve" not in error.value.message
