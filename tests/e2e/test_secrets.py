"""The secrets vault over HTTP: the twelve contract endpoints, every status transition, roles, tenancy,
usage counting and the no-leak rules (research/VAULT_AND_AUTH.md part C, V01..V27 as applicable)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.e2e.support import fetch
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import Account, add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e

API = "/api/v1/secrets"
SECRET_FIELDS = {"id", "key", "environment", "service", "status", "organization_id", "created_at", "updated_at",
                 "last_rotated_at"}
USAGE_FIELDS = {"secret_id", "total_requests", "last_used_at", "success_rate"}


def canary() -> str:
    return f"CANARY-{uuid.uuid4()}"


async def create(client: httpx.AsyncClient, account: Account, *, key: str | None = None, value: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    body = {"key": key or f"KEY_{uuid.uuid4().hex[:8]}", "value": value or canary(), **extra}
    response = await client.post(f"{API}/", headers=account.headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def value_of(client: httpx.AsyncClient, account: Account, secret_id: str) -> httpx.Response:
    return await client.get(f"{API}/{secret_id}/value", headers=account.headers)


async def usage_of(client: httpx.AsyncClient, account: Account, secret_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/{secret_id}/usage", headers=account.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def every_route(secret_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"{API}/", None), ("POST", f"{API}/", {"key": "K", "value": "v"}),
        ("GET", f"{API}/usage/organization", None), ("GET", f"{API}/{secret_id}", None),
        ("GET", f"{API}/{secret_id}/value", None), ("PUT", f"{API}/{secret_id}", {"environment": "staging"}),
        ("DELETE", f"{API}/{secret_id}", None), ("POST", f"{API}/{secret_id}/rotate", None),
        ("POST", f"{API}/{secret_id}/activate", None), ("POST", f"{API}/{secret_id}/deactivate", None),
        ("POST", f"{API}/{secret_id}/test", None), ("GET", f"{API}/{secret_id}/usage", None),
    ]


async def test_create_get_list_and_value(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    value = canary()
    created = await create(client, admin, key="WHATSAPP_TOKEN", value=value, service="whatsapp")
    assert set(created) == SECRET_FIELDS
    assert created["status"] == "active" and created["environment"] == "development"
    assert created["organization_id"] == admin.organization_id and created["last_rotated_at"] is None
    listed = await client.get(f"{API}/", headers=admin.headers)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert listed.json() == [created]
    got = await client.get(f"{API}/{created['id']}", headers=admin.headers)
    assert got.json() == created and value not in got.text and value not in listed.text
    revealed = await value_of(client, admin, created["id"])
    assert revealed.status_code == 200 and revealed.json() == {"value": value}
    assert revealed.headers["Cache-Control"] == "no-store" and revealed.headers["Pragma"] == "no-cache"


async def test_list_filters_and_pagination(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    await create(client, admin, key="A", environment="production", service="whatsapp")
    await create(client, admin, key="B", environment="production")
    await create(client, admin, key="C", environment="staging", service="whatsapp")
    prod = await client.get(f"{API}/", params={"environment": "production"}, headers=admin.headers)
    assert [s["key"] for s in prod.json()] == ["A", "B"]
    wa = await client.get(f"{API}/", params={"service": "whatsapp"}, headers=admin.headers)
    assert [s["key"] for s in wa.json()] == ["A", "C"]
    page = await client.get(f"{API}/", params={"limit": 1, "offset": 1}, headers=admin.headers)
    assert [s["key"] for s in page.json()] == ["B"] and page.headers["X-Total-Count"] == "3"
    bad = await client.get(f"{API}/", params={"environment": "prod"}, headers=admin.headers)
    assert_error_shape(bad, 422)


@pytest.mark.parametrize("body", [
    {"key": "K", "value": "v", "environment": "prod"}, {"key": "K", "value": "v", "environment": "PRODUCTION"},
    {"key": "../etc", "value": "v"}, {"key": "a b", "value": "v"}, {"key": "", "value": "v"},
    {"key": "K" * 300, "value": "v"}, {"key": "K", "value": ""}, {"key": "K", "value": {"a": 1}},
    {"key": "K", "value": "x" * 16385}, {"key": "K", "value": "v", "status": "inactive"},
    {"key": "K", "value": "v", "last_rotated_at": "2026-01-01T00:00:00Z"}, {"key": "K", "value": "v", "id": "x"},
    {"key": "K", "value": "v", "organization_id": str(uuid.uuid4())}, {"key": "K", "value": "v", "service": "Bad!"},
])
async def test_invalid_create_is_422_and_persists_nothing(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    admin = await register(client)
    assert_error_shape(await client.post(f"{API}/", headers=admin.headers, json=body), 422)
    assert (await client.get(f"{API}/", headers=admin.headers)).headers["X-Total-Count"] == "0"


async def test_422_bodies_never_echo_the_value(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    value = canary()
    secret = await create(client, admin)
    attempts = [
        await client.post(f"{API}/", headers=admin.headers, json={"value": value}),
        await client.post(f"{API}/", headers=admin.headers, json={"key": "a b", "value": value}),
        await client.post(f"{API}/", headers=admin.headers, json={"key": "K", "value": value, "status": value}),
        await client.post(f"{API}/", headers=admin.headers, json={"key": "K", "value": value * 500}),
        await client.put(f"{API}/{secret['id']}", headers=admin.headers, json={"value": value, "extra": value}),
        await client.post(f"{API}/{secret['id']}/rotate", headers=admin.headers, json={"value": value, "x": 1}),
        await client.post(f"{API}/{secret['id']}/test", headers=admin.headers, json={"test_type": value}),
    ]
    for response in attempts:
        assert_error_shape(response, 422)
        assert value not in response.text


async def test_duplicates_conflict_including_null_service(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    await create(client, admin, key="TOKEN", service="whatsapp")
    duplicate = await client.post(f"{API}/", headers=admin.headers,
                                  json={"key": "TOKEN", "value": "v", "service": "whatsapp"})
    assert_error_shape(duplicate, 409, "secret_already_exists")
    await create(client, admin, key="TOKEN", service="whatsapp", environment="production")
    await create(client, admin, key="PLAIN")
    second = await client.post(f"{API}/", headers=admin.headers, json={"key": "PLAIN", "value": "v"})
    assert_error_shape(second, 409, "secret_already_exists")


async def test_put_rules(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    first = await create(client, admin, key="K")
    other = await create(client, admin, key="K", environment="staging")
    url = f"{API}/{first['id']}"
    assert_error_shape(await client.put(url, headers=admin.headers, json={}), 422)
    assert_error_shape(await client.put(url, headers=admin.headers, json={"status": "active"}), 422)
    collision = await client.put(url, headers=admin.headers, json={"environment": "staging"})
    assert_error_shape(collision, 409, "secret_already_exists")
    moved = await client.put(url, headers=admin.headers, json={"environment": "production", "service": "mail"})
    assert moved.status_code == 200 and moved.json()["environment"] == "production"
    assert moved.json()["service"] == "mail" and moved.json()["status"] == "active"
    cleared = await client.put(url, headers=admin.headers, json={"service": None})
    assert cleared.json()["service"] is None
    assert (await client.get(f"{API}/{other['id']}", headers=admin.headers)).json() == other


async def test_value_change_rotation_and_promotion(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    secret = await create(client, admin, value="old-value")
    url = f"{API}/{secret['id']}"
    changed = await client.put(url, headers=admin.headers, json={"value": "new-value"})
    assert changed.status_code == 200 and changed.json()["status"] == "rotated"
    assert changed.json()["last_rotated_at"] is not None
    assert (await value_of(client, admin, secret["id"])).json() == {"value": "new-value"}
    again = await client.put(url, headers=admin.headers, json={"value": "newer"})
    assert_error_shape(again, 409, "rotation_in_progress")
    via_rotate = await client.post(f"{url}/rotate", headers=admin.headers, json={"value": "newer"})
    assert_error_shape(via_rotate, 409, "rotation_in_progress")
    activated = await client.post(f"{url}/activate", headers=admin.headers)
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    rotated = await client.post(f"{url}/rotate", headers=admin.headers, json={"value": "third"})
    assert rotated.status_code == 200 and rotated.json()["status"] == "rotated"
    tested = await client.post(f"{url}/test", headers=admin.headers, json={"test_type": "decrypt"})
    assert tested.status_code == 200 and tested.json()["valid"] is True
    assert (await client.get(url, headers=admin.headers)).json()["status"] == "active"
    assert (await value_of(client, admin, secret["id"])).json() == {"value": "third"}


async def test_rotate_without_body_rekeys(client: httpx.AsyncClient, database_url: str) -> None:
    admin = await register(client)
    value = canary()
    secret = await create(client, admin, value=value)
    url = f"{API}/{secret['id']}"
    sql = ("SELECT version, state, kek_version, ciphertext, value_nonce, wrapped_dek FROM secret_versions "
           "WHERE secret_id = $1 ORDER BY version")
    before = await fetch(database_url, sql, uuid.UUID(secret["id"]))
    first = await client.post(f"{url}/rotate", headers=admin.headers)
    second = await client.post(f"{url}/rotate", headers=admin.headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "active"
    assert datetime.fromisoformat(second.json()["last_rotated_at"]) > datetime.fromisoformat(
        first.json()["last_rotated_at"])
    assert (await value_of(client, admin, secret["id"])).json() == {"value": value}
    after = await fetch(database_url, sql, uuid.UUID(secret["id"]))
    assert [(r["version"], r["state"]) for r in after] == [(1, "destroyed"), (2, "destroyed"), (3, "current")]
    assert after[0]["ciphertext"] is None and after[0]["wrapped_dek"] is None
    for column in ("ciphertext", "value_nonce", "wrapped_dek"):
        assert after[2][column] != before[0][column]
    assert after[2]["kek_version"] == before[0]["kek_version"]


async def test_deactivate_activate_and_usage_failure(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    secret = await create(client, admin, value="v")
    url = f"{API}/{secret['id']}"
    for _ in range(2):  # idempotent
        response = await client.post(f"{url}/deactivate", headers=admin.headers)
        assert response.status_code == 200 and response.json()["status"] == "inactive"
    assert_error_shape(await value_of(client, admin, secret["id"]), 409, "secret_inactive")
    usage = await usage_of(client, admin, secret["id"])
    assert usage["total_requests"] == 1 and usage["success_rate"] == 0.0
    for _ in range(2):
        response = await client.post(f"{url}/activate", headers=admin.headers)
        assert response.status_code == 200 and response.json()["status"] == "active"
    assert (await value_of(client, admin, secret["id"])).status_code == 200
    assert (await usage_of(client, admin, secret["id"]))["success_rate"] == 0.5


async def test_delete_is_soft_then_404_and_key_reusable(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    secret = await create(client, admin, key="REUSED")
    assert (await client.delete(f"{API}/{secret['id']}", headers=admin.headers)).status_code == 204
    for method, path, body in every_route(secret["id"])[3:]:
        response = await client.request(method, path, headers=admin.headers, json=body)
        assert_error_shape(response, 404, "secret_not_found")
    again = await create(client, admin, key="REUSED")
    assert again["id"] != secret["id"]
    usage = await client.get(f"{API}/usage/organization", headers=admin.headers)
    assert [u["secret_id"] for u in usage.json()] == [again["id"]]


@pytest.mark.parametrize("role", ["agent", "viewer"])
async def test_agent_and_viewer_get_403_everywhere(client: httpx.AsyncClient, role: str) -> None:
    admin = await register(client)
    secret = await create(client, admin)
    member = await add_member(client, admin, role)
    for method, path, body in every_route(secret["id"]):
        response = await client.request(method, path, headers=member.headers, json=body)
        assert_error_shape(response, 403)
    for method, path, body in every_route(secret["id"]):
        assert_error_shape(await client.request(method, path, json=body), 401)
    assert (await usage_of(client, admin, secret["id"]))["total_requests"] == 0
    assert (await client.get(f"{API}/{secret['id']}", headers=admin.headers)).json() == secret


async def test_another_organizations_secret_is_404_and_untouched(client: httpx.AsyncClient) -> None:
    a, b = await register(client), await register(client)
    theirs = await create(client, b, value="b-value")
    assert (await value_of(client, b, theirs["id"])).status_code == 200
    for method, path, body in every_route(theirs["id"])[3:]:
        assert_error_shape(await client.request(method, path, headers=a.headers, json=body), 404)
    listed = await client.get(f"{API}/", headers=a.headers, params={"org_id": b.organization_id})
    assert listed.json() == []
    assert (await client.get(f"{API}/{theirs['id']}", headers=b.headers)).json() == theirs
    usage = await usage_of(client, b, theirs["id"])
    assert usage["total_requests"] == 1 and usage["success_rate"] == 1.0
    assert (await value_of(client, b, theirs["id"])).json() == {"value": "b-value"}


async def test_ids_must_be_uuids(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    for method, path, body in every_route("not-a-uuid")[3:]:
        assert_error_shape(await client.request(method, path, headers=admin.headers, json=body), 422)
    assert_error_shape(await client.get(f"{API}/{uuid.uuid4()}", headers=admin.headers), 404, "secret_not_found")


async def test_test_endpoint(client: httpx.AsyncClient, fake_graph: FakeGraphServer) -> None:
    admin = await register(client)
    token = "EAA" + "x1" * 20
    secret = await create(client, admin, value=token, service="whatsapp")
    url = f"{API}/{secret['id']}/test"
    assert_error_shape(await client.post(url, headers=admin.headers, json={"test_type": "bogus"}), 422)
    assert_error_shape(await client.post(url, headers=admin.headers,
                                         json={"url": "http://169.254.169.254/"}), 422)
    decrypt = await client.post(url, headers=admin.headers, json={"test_type": "decrypt"})
    assert decrypt.json() == {"valid": True, "message": "decryptable; no provider check"}
    shape = await client.post(url, headers=admin.headers, json={"test_type": "format"})
    assert shape.json()["valid"] is True
    # the whatsapp_token check calls the (fake) Graph API over real HTTP: an unknown token is error 190
    invalid = await client.post(url, headers=admin.headers)  # default for service whatsapp
    assert invalid.status_code == 200
    assert invalid.json()["valid"] is False and "invalid or expired" in invalid.json()["message"]
    assert token not in invalid.text
    fake_graph.add_number(f"9{uuid.uuid4().int % 10**12:012d}", token)
    valid = await client.post(url, headers=admin.headers)
    assert valid.json()["valid"] is True and token not in valid.text
    me_calls = [r for r in fake_graph.requests if r.path.endswith("/me")]
    assert len(me_calls) >= 2 and all("EAA" not in str(r.headers.get("authorization", "")) for r in me_calls)
    assert (await usage_of(client, admin, secret["id"]))["total_requests"] == 0


async def test_the_test_endpoint_is_limited_per_secret(client: httpx.AsyncClient, fake_graph: FakeGraphServer) -> None:
    admin = await register(client)
    token = "EAA" + uuid.uuid4().hex
    fake_graph.add_number(f"8{uuid.uuid4().int % 10**12:012d}", token)
    secret = await create(client, admin, value=token, service="whatsapp")
    other = await create(client, admin, value=token, service="whatsapp", environment="staging")
    before = len([r for r in fake_graph.requests if r.path.endswith("/me")])

    answers = [await client.post(f"{API}/{secret['id']}/test", headers=admin.headers) for _ in range(6)]

    assert [r.status_code for r in answers] == [200] * 5 + [429]
    assert all(r.json()["valid"] is True for r in answers[:5])
    body = assert_error_shape(answers[5], 429, "too_many_secret_tests")
    assert 0 < int(answers[5].headers["Retry-After"]) <= 60 and token not in str(body)
    assert len([r for r in fake_graph.requests if r.path.endswith("/me")]) == before + 5  # Meta saw five
    assert (await client.post(f"{API}/{other['id']}/test", headers=admin.headers)).status_code == 200


async def test_usage_statistics(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    fresh = await create(client, admin)
    assert await usage_of(client, admin, fresh["id"]) == {"secret_id": fresh["id"], "total_requests": 0,
                                                           "last_used_at": None, "success_rate": 0.0}
    used = await create(client, admin)
    for _ in range(3):
        assert (await value_of(client, admin, used["id"])).status_code == 200
    await client.post(f"{API}/{used['id']}/deactivate", headers=admin.headers)
    assert (await value_of(client, admin, used["id"])).status_code == 409
    usage = await usage_of(client, admin, used["id"])
    assert set(usage) == USAGE_FIELDS and usage["total_requests"] == 4 and usage["success_rate"] == 0.75
    assert usage["last_used_at"] is not None
    other = await register(client)
    theirs = await create(client, other)
    await value_of(client, other, theirs["id"])
    org = await client.get(f"{API}/usage/organization", headers=admin.headers)
    assert org.status_code == 200 and org.headers["X-Total-Count"] == "2"
    assert {u["secret_id"]: u["total_requests"] for u in org.json()} == {fresh["id"]: 0, used["id"]: 4}


async def test_concurrent_value_reads_lose_no_count(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    secret = await create(client, admin, value="v")
    responses = await asyncio.gather(*(value_of(client, admin, secret["id"]) for _ in range(50)))
    assert all(r.status_code == 200 for r in responses)
    usage = await usage_of(client, admin, secret["id"])
    assert usage["total_requests"] == 50 and usage["success_rate"] == 1.0


async def test_tampered_row_fails_closed(client: httpx.AsyncClient, database_url: str) -> None:
    admin = await register(client)
    x = await create(client, admin, value="x-value")
    y = await create(client, admin, value="y-value")
    await fetch(database_url, """UPDATE secret_versions y SET ciphertext = x.ciphertext, value_nonce = x.value_nonce,
        wrapped_dek = x.wrapped_dek, dek_nonce = x.dek_nonce FROM secret_versions x
        WHERE x.secret_id = $1 AND y.secret_id = $2""", uuid.UUID(x["id"]), uuid.UUID(y["id"]))
    response = await value_of(client, admin, y["id"])
    body = assert_error_shape(response, 500, "secret_decrypt_failed")
    assert "x-value" not in response.text and body["detail"] == "An internal error occurred."
    usage = await usage_of(client, admin, y["id"])
    assert usage["total_requests"] == 1 and usage["success_rate"] == 0.0
    tested = await client.post(f"{API}/{y['id']}/test", headers=admin.headers)
    assert tested.status_code == 200 and tested.json()["valid"] is False


async def test_audit_log_records_every_action_without_values(client: httpx.AsyncClient, database_url: str) -> None:
    admin = await register(client)
    value = canary()
    secret = await create(client, admin, value=value)
    url = f"{API}/{secret['id']}"
    await value_of(client, admin, secret["id"])
    await client.put(url, headers=admin.headers, json={"value": value + "-2"})
    await client.put(url, headers=admin.headers, json={"value": value + "-3"})  # 409: audited as a failure
    for action in ("rotate", "test", "activate", "deactivate"):
        await client.post(f"{url}/{action}", headers=admin.headers)
    await value_of(client, admin, secret["id"])  # inactive: failure
    await client.delete(url, headers=admin.headers)
    rows = await fetch(database_url, "SELECT action, outcome, actor_user_id, details::text AS details "
                                     "FROM vault_audit_events WHERE secret_id = $1 ORDER BY created_at, action",
                       uuid.UUID(secret["id"]))
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("secret.create", "success"), ("value.read", "success"), ("secret.update", "success"),
        ("secret.update", "failure"), ("secret.rotate", "success"), ("secret.test", "success"),
        ("secret.activate", "success"), ("secret.deactivate", "success"), ("value.read", "failure"),
        ("secret.delete", "success")]
    assert {str(r["actor_user_id"]) for r in rows} == {admin.user["id"]}
    assert all(value not in r["details"] for r in rows)


async def test_canary_never_leaks_to_logs_responses_or_database(client: httpx.AsyncClient, app: FastAPI,
                                                                 database_url: str,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """V07/V10/V12: the whole flow at DEBUG (SQL statements and parameters included): the canary shows up only
    in the answers of /value."""
    import io
    import logging
    import sys

    from entrypoints.logging import configure_logging

    value = canary()
    stream, original = io.StringIO(), sys.stderr
    sys.stderr = stream
    configure_logging(level="DEBUG", json_output=True)  # replaces the root handlers, caplog's included
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    responses: list[httpx.Response] = []
    try:
        admin = await register(client)
        created = await client.post(f"{API}/", headers=admin.headers,
                                    json={"key": "CANARY", "value": value, "service": "whatsapp"})
        sid = created.json()["id"]
        url = f"{API}/{sid}"
        responses += [created, await client.get(f"{API}/", headers=admin.headers),
                      await client.get(url, headers=admin.headers)]
        revealed = [await value_of(client, admin, sid)]
        responses += [await client.put(url, headers=admin.headers, json={"value": value + "-2"}),
                      await client.put(url, headers=admin.headers, json={"value": value + "-3"}),
                      await client.post(f"{url}/rotate", headers=admin.headers),
                      await client.post(f"{url}/activate", headers=admin.headers),
                      await client.post(f"{url}/rotate", headers=admin.headers, json={"value": value + "-4"})]
        for test_type in ("decrypt", "format"):
            responses.append(await client.post(f"{url}/test", headers=admin.headers, json={"test_type": test_type}))
        responses.append(await client.post(f"{url}/test", headers=admin.headers))  # real call to the fake Graph
        responses += [await client.post(f"{API}/", headers=admin.headers, json={"key": "a b", "value": value}),
                      await client.put(url, headers=admin.headers, json={"value": value, "status": "x"}),
                      await client.get(f"{url}/usage", headers=admin.headers),
                      await client.get(f"{API}/usage/organization", headers=admin.headers)]
        revealed.append(await value_of(client, admin, sid))
        await client.post(f"{url}/deactivate", headers=admin.headers)
        responses.append(await value_of(client, admin, sid))
    finally:
        sys.stderr = original
        configure_logging(level="WARNING", json_output=True)
    assert [r.json()["value"] for r in revealed] == [value, value + "-4"]
    for response in responses:
        assert value not in response.text, response.request.url
    assert "INSERT INTO secret_versions" in caplog.text  # SQL and its parameters were logged
    assert "INSERT INTO secret_versions" in stream.getvalue()  # ... and rendered as JSON lines
    assert value not in stream.getvalue()
    assert value not in caplog.text
    for table in ("secrets", "secret_versions", "secret_usage", "vault_audit_events"):
        rows = await fetch(database_url, f"SELECT t::text AS row FROM {table} t")
        assert rows or table == "secret_usage"
        assert not [r["row"] for r in rows if value in r["row"]], table
        bytea = await fetch(database_url, f"SELECT count(*) AS n FROM {table} t WHERE position($1::bytea IN "
                                          "convert_to(t::text, 'UTF8')) > 0", value.encode())
        assert bytea[0]["n"] == 0
