"""HTTP conventions (SPEC.md "General"): one error shape everywhere, validation without echo, OpenAPI and
offline docs, probes, CORS, no leaks on 500, and the deprecation headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from adapters.postgres.migrations import head_revision
from entrypoints.http.errors import install_error_handlers
from entrypoints.http.routing import DeprecationAwareRoute
from tests.e2e.support import API, api_routes, fetch, http_client
from tests.helpers import PASSWORD, Account, assert_error_shape, register, unique_email

CONTACTS = f"{API}/contacts"
CANARY = f"CANARY-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
async def admin(app: FastAPI) -> AsyncIterator[Account]:
    async with http_client(app) as client:
        yield await register(client, organization_name="Conventions")


async def _contact_count(client: httpx.AsyncClient, account: Account) -> int:
    response = await client.get(CONTACTS, headers=account.headers, params={"limit": 1})
    assert response.status_code == 200
    return int(response.headers["X-Total-Count"])


def _assert_validation(response: httpx.Response) -> dict[str, Any]:
    body = assert_error_shape(response, 422, "validation_error")
    assert isinstance(body["errors"], list) and body["errors"]
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}, error
        assert isinstance(error["loc"], list) and error["loc"]
        assert isinstance(error["msg"], str) and isinstance(error["type"], str)
    assert CANARY not in response.text
    return body


# --- routing errors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [("GET", f"{API}/nope"), ("GET", "/nope"), ("POST", f"{API}/auth"),
                                              ("GET", f"{API}/contacts/{uuid.uuid4()}/nothing-here")])
async def test_unknown_routes_are_404_in_the_error_shape(client: httpx.AsyncClient, method: str, path: str) -> None:
    assert_error_shape(await client.request(method, path), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [("DELETE", f"{API}/auth/me"), ("GET", f"{API}/auth/login"),
                                              ("PUT", f"{API}/auth/register"), ("PATCH", CONTACTS),
                                              ("DELETE", f"{API}/users")])
async def test_wrong_methods_are_405_in_the_error_shape(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert_error_shape(response, 405, "method_not_allowed")
    assert response.headers.get("Allow")


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("OPTIONS", CONTACTS, {"GET", "POST"}), ("PATCH", f"{CONTACTS}/{uuid.uuid4()}", {"GET", "PUT", "DELETE"}),
    ("DELETE", f"{API}/flow-automations", {"GET", "POST"}), ("PUT", f"{API}/secrets/", {"GET", "POST"})])
async def test_405_allows_every_method_of_the_resource(client: httpx.AsyncClient, method: str, path: str,
                                                       allowed: set[str]) -> None:
    """Fuzzing regression: FastAPI keeps GET and POST /contacts as two routes and Starlette's Allow named only
    the methods of the first one (RFC 9110: the methods of the target resource)."""
    response = await client.request(method, path)
    assert_error_shape(response, 405, "method_not_allowed")
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")} <= allowed | {"HEAD"}


# --- request validation: 422 with errors, no echo, nothing stored ---------------------------------------------

# b"\xff" and b"\x80{}" (not UTF-8 at all) were a 400 "There was an error parsing the body" (fuzzing regression)
@pytest.mark.parametrize("content", [b"{bad json", b"", b"[1, 2", b"null", b"\xff\xfe", b'"just a string"',
                                     b"\xff", b"\x80{}"])
async def test_malformed_json_is_422_and_stores_nothing(client: httpx.AsyncClient, admin: Account,
                                                        content: bytes) -> None:
    before = await _contact_count(client, admin)
    response = await client.post(CONTACTS, headers={**admin.headers, "Content-Type": "application/json"},
                                 content=content)
    _assert_validation(response)
    assert await _contact_count(client, admin) == before


@pytest.mark.parametrize("path", ["auth/refresh", "auth/login", "auth/register"])
async def test_a_body_that_is_not_utf8_is_422_on_public_routes(client: httpx.AsyncClient, path: str) -> None:
    _assert_validation(await client.post(f"{API}/{path}", content=b"\xff",
                                         headers={"Content-Type": "application/json"}))


async def test_malformed_register_body_stores_nothing(client: httpx.AsyncClient) -> None:
    email = unique_email("malformed")
    broken = f'{{"email": "{email}", "password": "{PASSWORD}", "name": "A", "organization_name": "B"'
    _assert_validation(await client.post(f"{API}/auth/register", content=broken.encode(),
                                         headers={"Content-Type": "application/json"}))
    assert (await register(client, email=email)).email == email


@pytest.mark.parametrize(("body", "field"), [
    ({"whatsapp_id": 5511987654321}, "whatsapp_id"),
    ({"whatsapp_id": "5511987654321", "opted_out": "sometimes"}, "opted_out"),
    ({"whatsapp_id": "5511987654321", "tags": "vip"}, "tags"),
    ({"whatsapp_id": "5511987654321", "tags": [1, 2]}, "tags"),
    ({"whatsapp_id": "5511987654321", "attributes": "plan=gold"}, "attributes"),
    ({"whatsapp_id": "5511987654321", "name": ["a"]}, "name"),
    ({"whatsapp_id": "5511987654321", "email": {"x": 1}}, "email"),
])
async def test_wrong_types_are_422_with_the_field_located(client: httpx.AsyncClient, admin: Account,
                                                          body: dict[str, Any], field: str) -> None:
    before = await _contact_count(client, admin)
    response = await client.post(CONTACTS, headers=admin.headers, json=body)
    errors = _assert_validation(response)["errors"]
    assert any(e["loc"][:2] == ["body", field] for e in errors), errors
    assert await _contact_count(client, admin) == before


@pytest.mark.parametrize("path", ["register", "login", "forgot-password", "reset-password", "refresh"])
async def test_unknown_fields_are_refused_without_echo(client: httpx.AsyncClient, path: str) -> None:
    email = unique_email("extra")
    bodies = {
        "register": {"email": email, "password": PASSWORD, "name": "A", "organization_name": "B"},
        "login": {"email": email, "password": PASSWORD},
        "forgot-password": {"email": email},
        "reset-password": {"token": "t" * 43, "new_password": PASSWORD},
        "refresh": {"refresh_token": "r" * 43},
    }
    response = await client.post(f"{API}/auth/{path}", json={**bodies[path], "is_superuser": CANARY})
    errors = _assert_validation(response)["errors"]
    assert ["body", "is_superuser"] in [e["loc"] for e in errors]
    if path == "register":
        assert (await register(client, email=email)).user["role"] == "org_admin"  # nothing was stored


async def test_unknown_contact_fields_are_refused_without_echo(client: httpx.AsyncClient, admin: Account) -> None:
    before = await _contact_count(client, admin)
    response = await client.post(CONTACTS, headers=admin.headers, json={
        "whatsapp_id": "5511987654321", "name": "Ok", "organization_id": str(uuid.uuid4()), "secret": CANARY})
    errors = _assert_validation(response)["errors"]
    assert {tuple(e["loc"]) for e in errors} >= {("body", "organization_id"), ("body", "secret")}
    assert await _contact_count(client, admin) == before


@pytest.mark.parametrize("password", [CANARY + "x" * 129, CANARY[:7]])
async def test_refused_passwords_are_never_echoed(client: httpx.AsyncClient, admin: Account, password: str) -> None:
    email = unique_email("echo")
    responses = [
        await client.post(f"{API}/auth/register", json={"email": email, "password": password, "name": "A",
                                                        "organization_name": "B"}),
        await client.post(f"{API}/auth/reset-password", json={"token": "t" * 43, "new_password": password}),
        await client.post(f"{API}/users", headers=admin.headers, json={"email": email, "name": "U",
                                                                       "password": password}),
        await client.post(f"{API}/auth/login", json={"password": password}),  # email missing
    ]
    for response in responses:
        _assert_validation(response)
        assert password not in response.text and password[:7] not in response.text
    assert (await register(client, email=email)).email == email


@pytest.mark.parametrize(("path", "body"), [
    ("register", {"email": unique_email(), "password": PASSWORD, "name": "n" * 256, "organization_name": "B"}),
    ("register", {"email": unique_email(), "password": PASSWORD, "name": "A", "organization_name": "o" * 256}),
    ("register", {"email": "e" * 250 + "@example.com", "password": PASSWORD, "name": "A", "organization_name": "B"}),
    ("login", {"email": "e" * 300, "password": PASSWORD}),
    ("login", {"email": "a@example.com", "password": "p" * 1025}),
    ("forgot-password", {"email": "e" * 300}),
    ("reset-password", {"token": "t" * 513, "new_password": PASSWORD}),
    ("refresh", {"refresh_token": "r" * 513}),
])
async def test_oversized_auth_fields_are_422(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    _assert_validation(await client.post(f"{API}/auth/{path}", json=body))
    if path == "register":  # nothing stored
        assert (await register(client, email=unique_email())).user


@pytest.mark.parametrize("fields", [{"whatsapp_id": "1" * 33}, {"name": "n" * 256}, {"email": "e" * 255},
                                    {"tags": [f"t{i}" for i in range(51)]}])
async def test_oversized_contact_fields_are_422(client: httpx.AsyncClient, admin: Account,
                                                fields: dict[str, Any]) -> None:
    before = await _contact_count(client, admin)
    response = await client.post(CONTACTS, headers=admin.headers, json={"whatsapp_id": "5511900000000", **fields})
    _assert_validation(response)
    assert await _contact_count(client, admin) == before


# --- OpenAPI and the offline docs -----------------------------------------------------------------------------

async def test_openapi_lists_every_route_with_a_summary(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    routes = [(method, path) for method, path, route in api_routes(app) if route.include_in_schema]
    assert len(routes) >= 14
    for method, path in routes:
        operation = paths.get(path, {}).get(method.lower())
        assert operation is not None, (method, path)
        assert operation.get("summary"), (method, path)
    contract = {("post", "/auth/login"), ("post", "/auth/register"), ("post", "/auth/refresh"),
                ("post", "/auth/logout"), ("get", "/auth/me"), ("post", "/auth/forgot-password"),
                ("post", "/auth/reset-password"), ("get", "/contacts"), ("post", "/contacts")}
    for method, path in contract:
        assert method in paths.get(API + path, {}), (method, path)
    schemas = spec["components"]["schemas"]
    assert {"detail", "status_code", "error_code"} <= set(schemas["ErrorResponse"]["properties"])
    assert "errors" in schemas["ValidationErrorResponse"]["properties"]
    # the error responses of the routes of this suite are documented
    assert {"401", "403", "409", "422"} <= set(paths[f"{API}/contacts"]["post"]["responses"])
    assert {"401", "403", "429"} <= set(paths[f"{API}/auth/login"]["post"]["responses"])


async def test_openapi_documents_the_error_shapes_really_sent(client: httpx.AsyncClient) -> None:
    """Fuzzing regressions: FastAPI's default 422 ({detail: [...]}) was documented where a route did not list
    422 itself, and X-Organization-ID was a `string | null` whose 403/404 answers were undocumented."""
    spec = (await client.get(f"{API}/openapi.json")).json()
    assert not {"HTTPValidationError", "ValidationError"} & set(spec["components"]["schemas"])
    acting = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if "422" in responses:
                assert responses["422"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ValidationErrorResponse"}, (method, path)
            headers = [p for p in operation.get("parameters", []) if p["in"] == "header"
                       and p["name"].lower() == "x-organization-id"]
            if headers:
                acting += 1
                schema = headers[0]["schema"]
                assert (schema["type"], schema["format"], "anyOf" in schema) == ("string", "uuid", False), path
                assert {"403", "404"} <= set(responses), (method, path)
    assert acting >= 40
    me = spec["paths"][f"{API}/auth/me"]["get"]["responses"]
    assert {"401", "403", "404", "422"} <= set(me)


@pytest.mark.parametrize("offset", [1_000_000_001, 10**30])
async def test_an_offset_past_the_limit_is_422_not_500(client: httpx.AsyncClient, admin: Account,
                                                       offset: int) -> None:
    """Fuzzing regression: an offset beyond PostgreSQL's bigint reached the query and was a 500."""
    response = await client.get(CONTACTS, headers=admin.headers, params={"offset": offset})
    errors = _assert_validation(response)["errors"]
    assert errors[0]["loc"] == ["query", "offset"], errors
    assert (await client.get(CONTACTS, headers=admin.headers, params={"offset": 1_000_000_000})).status_code == 200


def _asset_urls(html: str) -> list[str]:
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html, flags=re.IGNORECASE)
    urls = []
    for tag in tags:
        urls += re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", tag, flags=re.IGNORECASE)
    return urls


@pytest.mark.parametrize("page", ["docs", "redoc"])
async def test_docs_pages_use_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(f"{API}/{page}")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assets = _asset_urls(response.text)
    assert assets, "the page loads no script or stylesheet?"
    for url in assets:
        assert not re.match(r"^(https?:)?//", url), f"CDN/remote asset: {url}"
    assert not re.search(r"""["'](https?:)?//(cdn|unpkg|fonts\.googleapis)""", response.text)
    for url in assets:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
        if url.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], url
        if url.endswith(".css"):
            assert "text/css" in asset.headers["content-type"], url
    assert f"{API}/openapi.json" in response.text


# --- probes ---------------------------------------------------------------------------------------------------

async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_ready_reports_the_migration_head(client: httpx.AsyncClient, database_url: str) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body["migration"] == head_revision()
    rows = await fetch(database_url, "SELECT version_num FROM alembic_version")
    assert [r["version_num"] for r in rows] == [body["migration"]]


# --- CORS -----------------------------------------------------------------------------------------------------

async def test_cors_preflight_from_the_frontend(client: httpx.AsyncClient) -> None:
    response = await client.options(CONTACTS, headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-organization-id"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


async def test_cors_exposes_the_total_count(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.get(CONTACTS, headers={**admin.headers, "Origin": "http://localhost:3000"})
    assert response.status_code == 200 and "X-Total-Count" in response.headers
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-total-count", "retry-after"} <= exposed


async def test_cors_refuses_other_origins(client: httpx.AsyncClient) -> None:
    response = await client.options(CONTACTS, headers={"Origin": "https://evil.example",
                                                       "Access-Control-Request-Method": "POST"})
    assert response.headers.get("access-control-allow-origin") not in {"https://evil.example", "*"}


@pytest.mark.parametrize(("origin", "method", "refused"), [
    ("https://evil.example", "POST", "origin"), ("http://localhost:3000", "TRACE", "method"),
    ("https://evil.example", "PROPFIND", "origin, method")])
async def test_a_refused_cors_preflight_answers_in_the_error_shape(client: httpx.AsyncClient, origin: str,
                                                                  method: str, refused: str) -> None:
    response = await client.options(f"{API}/secrets/", headers={"Origin": origin,
                                                                "Access-Control-Request-Method": method})
    assert response.headers["content-type"] == "application/json"
    body = assert_error_shape(response, 400, "cors_preflight_refused")
    assert body == {"detail": f"CORS preflight refused: {refused} not allowed.", "status_code": 400,
                    "error_code": "cors_preflight_refused"}
    if "origin" in refused:
        assert response.headers.get("access-control-allow-origin") != origin


# --- 500s never leak ------------------------------------------------------------------------------------------

LEAKS = ("Traceback", "File \"", "sqlalchemy", "asyncpg", "INSERT INTO", "SELECT ", "psycopg", "Error:", CANARY)


def _assert_no_leak(response: httpx.Response) -> None:
    body = assert_error_shape(response, 500, "internal_error")
    assert set(body) == {"detail", "status_code", "error_code"}
    for leak in LEAKS:
        assert leak not in response.text, leak


async def test_an_unhandled_error_answers_a_generic_500() -> None:
    """The app's own error handlers, on a route that fails with a revealing message."""
    tiny = FastAPI()
    install_error_handlers(tiny)

    @tiny.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f'File "/srv/app.py", SELECT password_hash FROM users -- {CANARY}')

    transport = httpx.ASGITransport(app=tiny, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        _assert_no_leak(await c.get("/boom"))


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", CONTACTS, {"whatsapp_id": "5511912345678", "name": f"nul\x00{CANARY}"}),
    ("GET", CONTACTS, None),
])
async def test_a_500_from_the_real_app_leaks_nothing(client: httpx.AsyncClient, admin: Account, method: str,
                                                     path: str, body: dict[str, Any] | None) -> None:
    """NUL characters are refused before they reach PostgreSQL; whatever the status,
    the body must not reveal the SQL, the driver or the submitted value."""
    params = {"query": f"x\x00{CANARY}"} if body is None else None
    response = await client.request(method, path, headers=admin.headers, json=body, params=params)
    assert response.status_code in {200, 422, 500}, response.text
    if response.status_code == 500:
        _assert_no_leak(response)
    else:
        assert CANARY not in response.text


@pytest.mark.parametrize("where", ["register", "contact", "search"])
async def test_nul_characters_are_a_validation_error(client: httpx.AsyncClient, admin: Account,
                                                     where: str) -> None:
    if where == "register":
        response = await client.post(f"{API}/auth/register", json={
            "email": unique_email(), "password": PASSWORD, "name": "a\x00b", "organization_name": "B"})
    elif where == "contact":
        response = await client.post(CONTACTS, headers=admin.headers,
                                     json={"whatsapp_id": "5511912345670", "name": "a\x00b"})
    else:
        response = await client.get(CONTACTS, headers=admin.headers, params={"query": "a\x00b"})
    assert response.status_code == 422, response.text


# --- deprecation headers --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deprecated_app() -> FastAPI:
    tiny = FastAPI(openapi_url="/openapi.json")
    router = APIRouter(route_class=DeprecationAwareRoute)

    @router.get("/old", deprecated=True, openapi_extra={"x-sunset": "2027-01-31"}, summary="Old")
    async def old() -> dict[str, str]:
        return {"v": "old"}

    @router.get("/older", deprecated=True, summary="Older, no date")
    async def older() -> dict[str, str]:
        return {"v": "older"}

    @router.get("/current", summary="Current")
    async def current() -> dict[str, str]:
        return {"v": "current"}

    tiny.include_router(router)
    return tiny


async def test_deprecated_routes_announce_it(deprecated_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=deprecated_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        old = await c.get("/old")
        assert old.status_code == 200 and old.json() == {"v": "old"}
        assert old.headers["Deprecated"] == "true" and old.headers["Sunset"] == "2027-01-31"
        older = await c.get("/older")
        assert older.headers["Deprecated"] == "true" and "Sunset" not in older.headers
        current = await c.get("/current")
        assert "Deprecated" not in current.headers and "Sunset" not in current.headers
        spec = (await c.get("/openapi.json")).json()
    assert spec["paths"]["/old"]["get"]["deprecated"] is True
    assert spec["paths"]["/old"]["get"]["x-sunset"] == "2027-01-31"
    assert spec["paths"]["/older"]["get"]["deprecated"] is True
    assert "deprecated" not in spec["paths"]["/current"]["get"]


async def test_the_api_routers_use_the_deprecation_aware_route(app: FastAPI) -> None:
    routes = [(path, route) for _, path, route in api_routes(app) if path.startswith(API) and route.include_in_schema]
    assert routes
    plain = [path for path, route in routes if not isinstance(route, DeprecationAwareRoute)]
    assert plain == [], f"routes that would not send the Deprecated header: {plain}"
