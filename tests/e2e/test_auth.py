"""Auth over HTTP: register, login, throttling, tokens, refresh, logout, me, forgot/reset password.

SPEC.md "Auth" and the research cases A01..A27 (docs/research VAULT_AND_AUTH.md part C); SPEC wins where they
differ. Tests that fail logins on purpose use a client with its own address (see support.unique_ip)."""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from entrypoints.config import Settings
from tests.e2e.support import (
    API,
    USER_FIELDS,
    bearer,
    claims_of,
    create_user,
    emails_to,
    fetch,
    forge,
    header_of,
    http_client,
    latest_token_for,
    parse_time,
)
from tests.helpers import PASSWORD, Account, assert_error_shape, login, register, unique_email

NEW_PASSWORD = "a brand new passphrase 42"


def _register_body(email: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    return {"email": email, "password": password, "name": "Ana Souza", "organization_name": "Acme", **extra}


async def _me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"{API}/auth/me", headers=bearer(token))


def _assert_401(response: httpx.Response, code: str | None = None) -> dict[str, Any]:
    body = assert_error_shape(response, 401, code)
    assert response.headers.get("WWW-Authenticate") == "Bearer"
    return body


# --- register -------------------------------------------------------------------------------------------------

async def test_register_returns_tokens_and_a_new_org_admin(client: httpx.AsyncClient) -> None:
    email = unique_email("Reg").upper()
    response = await client.post(f"{API}/auth/register", json=_register_body(email))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "user"}
    assert body["token_type"] == "bearer"
    assert body["access_token"] and body["refresh_token"] and body["access_token"] != body["refresh_token"]
    user = body["user"]
    assert set(user) == USER_FIELDS
    assert user["email"] == email.lower()
    assert user["name"] == "Ana Souza"
    assert user["role"] == "org_admin"
    assert user["is_active"] is True
    uuid.UUID(user["id"]), uuid.UUID(user["organization_id"])
    assert parse_time(user["created_at"]) <= parse_time(user["updated_at"])
    lowered = response.text.lower()
    assert "password" not in lowered and "hash" not in lowered and "$argon2" not in lowered
    # both tokens work right away, and a second registration gets its own organization
    me = await _me(client, body["access_token"])
    assert me.status_code == 200 and me.json()["user"] == user
    refreshed = await client.post(f"{API}/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    other = await register(client)
    assert other.organization_id != user["organization_id"]


@pytest.mark.parametrize("extra", [{"role": "super_admin"}, {"organization_id": str(uuid.uuid4())},
                                   {"is_active": False}])
async def test_register_refuses_mass_assignment(client: httpx.AsyncClient, extra: dict[str, Any]) -> None:
    email = unique_email("mass")
    response = await client.post(f"{API}/auth/register", json=_register_body(email, **extra))
    body = assert_error_shape(response, 422, "validation_error")
    assert any(e["loc"][-1] == next(iter(extra)) for e in body["errors"]), body
    account = await register(client, email=email)  # nothing was stored: the email is still free
    assert account.user["role"] == "org_admin"


async def test_duplicate_email_is_case_insensitive_and_only_the_first_account_exists(app: FastAPI) -> None:
    async with http_client(app) as client:
        email = unique_email("dup")
        first = await register(client, email=email)
        response = await client.post(f"{API}/auth/register", json=_register_body(
            f"  {email.upper()} ", password="another strong passphrase", organization_name="Other"))
        assert_error_shape(response, 409, "email_already_registered")
        again = await login(client, email)
        assert again.user["id"] == first.user["id"]
        denied = await client.post(f"{API}/auth/login", json={"email": email,
                                                              "password": "another strong passphrase"})
        _assert_401(denied, "invalid_credentials")


@pytest.mark.parametrize(("label", "password"), [
    ("too_short", "Ab1!xyz"),
    ("too_long", "x" * 129),
    ("common", "password"),
    ("common_2", "12345678"),
    ("empty", ""),
    ("megabyte", "p" * 1_000_000),
])
async def test_weak_passwords_are_refused_and_nothing_is_stored(client: httpx.AsyncClient, label: str,
                                                                password: str) -> None:
    email = unique_email(label)
    started = time.perf_counter()
    response = await client.post(f"{API}/auth/register", json=_register_body(email, password=password))
    body = assert_error_shape(response, 422)
    if len(password) > 8:
        assert password not in response.text  # never echo the submitted password
    if label == "megabyte":
        assert time.perf_counter() - started < 2.0, "a huge password must be refused before hashing"
    assert body["error_code"] in {"validation_error", "weak_password"}
    account = await register(client, email=email)  # the email was not taken by the refused attempt
    assert account.user["email"] == email


@pytest.mark.parametrize(("body", "loc", "code"), [
    ({"password": "qwerty123"}, ["body", "password"], "weak_password"),
    ({"email": "not-an-email"}, ["body", "email"], "invalid_email"),
])
async def test_domain_refusals_at_register_locate_the_field(client: httpx.AsyncClient, body: dict[str, Any],
                                                            loc: list[str], code: str) -> None:
    response = await client.post(f"{API}/auth/register", json={**_register_body(unique_email("loc")), **body})
    errors = assert_error_shape(response, 422, code)["errors"]
    assert [e["loc"] for e in errors] == [loc] and errors[0]["type"] == code


async def test_a_weak_new_password_at_reset_is_located_on_new_password(client: httpx.AsyncClient,
                                                                      database_url: str, mailbox: Path) -> None:
    account = await register(client)
    await client.post(f"{API}/auth/forgot-password", json={"email": account.email})
    token = await latest_token_for(database_url, mailbox, account.email)
    response = await client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": "qwerty123"})
    errors = assert_error_shape(response, 422, "weak_password")["errors"]
    assert [e["loc"] for e in errors] == [["body", "new_password"]]


async def test_password_equal_to_the_email_is_refused(client: httpx.AsyncClient) -> None:
    email = unique_email("same")
    response = await client.post(f"{API}/auth/register", json=_register_body(email, password=email))
    assert_error_shape(response, 422, "weak_password")


@pytest.mark.parametrize("password", ["8chars!x", "y" * 128, "  spaces and emoji 🔐 ção  " + "z" * 20])
async def test_boundary_and_unicode_passwords_are_kept_exactly(client: httpx.AsyncClient, password: str) -> None:
    account = await register(client, password=password)
    again = await login(client, account.email, password)
    assert again.user["id"] == account.user["id"]


@pytest.mark.parametrize("field", ["name", "organization_name"])
@pytest.mark.parametrize("value", [None, "", "   ", "n" * 256])
async def test_register_requires_name_and_organization_name(client: httpx.AsyncClient, field: str,
                                                             value: str | None) -> None:
    body = _register_body(unique_email("names"))
    if value is None:
        body.pop(field)
    else:
        body[field] = value
    response = await client.post(f"{API}/auth/register", json=body)
    assert_error_shape(response, 422)


# --- login ----------------------------------------------------------------------------------------------------

async def test_login_returns_tokens_and_the_user(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post(f"{API}/auth/login", json={"email": f"  {account.email.upper()} ",
                                                            "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "user"}
    assert body["token_type"] == "bearer"
    assert body["user"] == account.user
    assert body["access_token"] != account.access_token and body["refresh_token"] != account.refresh_token


async def test_wrong_password_and_unknown_email_are_indistinguishable(app: FastAPI) -> None:
    async with http_client(app) as client:
        account = await register(client)
        wrong = await client.post(f"{API}/auth/login", json={"email": account.email, "password": "not it at all"})
        unknown = await client.post(f"{API}/auth/login", json={"email": unique_email("ghost"),
                                                               "password": "not it at all"})
        for response in (wrong, unknown):
            _assert_401(response, "invalid_credentials")
        assert wrong.json() == unknown.json()
        assert {k: v for k, v in wrong.headers.items() if k not in {"content-length", "x-request-id"}} == \
            {k: v for k, v in unknown.headers.items() if k not in {"content-length", "x-request-id"}}


class CountingArgon2:
    """Wraps the app's real argon2 hasher to count the hashes and verifications it computes."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.hashes, self.verifies = inner, 0, 0

    def hash(self, password: str) -> str:
        self.hashes += 1
        return str(self.inner.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifies += 1
        return bool(self.inner.verify(password_hash, password))


async def test_an_unknown_email_costs_one_argon2_verification_and_no_hash(app: FastAPI) -> None:
    hasher = app.state.container.hasher()
    counting = CountingArgon2(hasher._argon2)
    hasher._argon2 = counting
    try:
        async with http_client(app) as client:
            body = {"email": unique_email("ghost"), "password": "not it at all"}
            _assert_401(await client.post(f"{API}/auth/login", json=body), "invalid_credentials")
            hashes, verifies = counting.hashes, counting.verifies  # the process's dummy hash exists from here on
            for _ in range(3):
                body = {"email": unique_email("ghost"), "password": "not it at all"}
                _assert_401(await client.post(f"{API}/auth/login", json=body), "invalid_credentials")
    finally:
        hasher._argon2 = counting.inner
    assert (counting.hashes - hashes, counting.verifies - verifies) == (0, 3)


async def test_five_failures_throttle_even_the_right_password(app: FastAPI) -> None:
    async with http_client(app) as client:
        account = await register(client)
        for _ in range(5):
            failed = await client.post(f"{API}/auth/login", json={"email": account.email, "password": "wrong pw 1"})
            _assert_401(failed, "invalid_credentials")
        blocked = await client.post(f"{API}/auth/login", json={"email": account.email, "password": PASSWORD})
        body = assert_error_shape(blocked, 429, "too_many_login_attempts")
        assert int(blocked.headers["Retry-After"]) > 0
        assert "access_token" not in body
    # the block is on the account, not only on the address
    async with http_client(app) as elsewhere:
        still = await elsewhere.post(f"{API}/auth/login", json={"email": account.email.upper(),
                                                                "password": PASSWORD})
        assert_error_shape(still, 429, "too_many_login_attempts")
        assert int(still.headers["Retry-After"]) > 0


@pytest.mark.parametrize("email", ["' OR 1=1--", "admin@example.com' --", {"$ne": ""}, ["a@b.c"], "a" * 300])
async def test_injection_like_emails_never_crash_login(app: FastAPI, email: Any) -> None:
    async with http_client(app) as client:
        response = await client.post(f"{API}/auth/login", json={"email": email, "password": "whatever123"})
        assert response.status_code in {401, 422}, response.text
        assert_error_shape(response, response.status_code)


async def test_deactivated_user_is_refused_at_login_and_its_tokens_die_at_once(app: FastAPI) -> None:
    async with http_client(app) as client:
        admin = await register(client)
        member = await create_user(client, admin, "agent")
        session = await login(client, member["email"])
        assert (await _me(client, session.access_token)).status_code == 200

        patched = await client.patch(f"{API}/users/{member['id']}", headers=admin.headers,
                                     json={"is_active": False})
        assert patched.status_code == 200 and patched.json()["is_active"] is False

        _assert_401(await _me(client, session.access_token))
        _assert_401(await client.get(f"{API}/contacts", headers=session.headers))
        refreshed = await client.post(f"{API}/auth/refresh", json={"refresh_token": session.refresh_token})
        assert refreshed.status_code in {401, 403}, refreshed.text
        assert_error_shape(refreshed, refreshed.status_code)
        refused = await client.post(f"{API}/auth/login", json={"email": member["email"], "password": PASSWORD})
        assert_error_shape(refused, 403, "user_inactive")

        await client.patch(f"{API}/users/{member['id']}", headers=admin.headers, json={"is_active": True})
        back = await login(client, member["email"])
        assert back.user["is_active"] is True


# --- access tokens --------------------------------------------------------------------------------------------

async def test_access_token_claims(client: httpx.AsyncClient) -> None:
    account = await register(client)
    second = await login(client, account.email)
    claims = claims_of(account.access_token)
    assert header_of(account.access_token)["alg"] == "HS256"
    assert claims["type"] == "access"
    assert claims["iss"] and claims["aud"]
    assert claims["sub"] == account.user["id"]
    assert claims["org"] == account.organization_id
    assert claims["role"] == "org_admin"
    assert claims["jti"] and claims["sid"]
    uuid.UUID(claims["sid"])
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 120
    other = claims_of(second.access_token)
    assert other["jti"] != claims["jti"] and other["sid"] != claims["sid"]
    assert account.refresh_token not in account.access_token


@pytest.fixture(scope="module")
async def token_victim(app: FastAPI) -> dict[str, Any]:
    async with http_client(app) as client:
        account = await register(client)
        other = await register(client)
    return {"account": account, "other_org": other.organization_id}


def _signing_key(settings: Settings) -> str:
    assert settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


def _tampered(case: str, account: Account, other_org: str, key: str) -> str:
    token = account.access_token
    claims = claims_of(token)
    head, _, signature = token.split(".")
    now = int(time.time())
    if case == "alg_none":
        return forge({"alg": "none", "typ": "JWT"}, claims)
    if case == "alg_none_keeping_signature":
        return forge({"alg": "none", "typ": "JWT"}, claims, signature)
    if case == "signed_with_another_key":
        return jwt.encode(claims, secrets.token_urlsafe(48), algorithm="HS256")
    if case == "payload_edited_role":
        return forge(header_of(token), {**claims, "role": "super_admin"}, signature)
    if case == "payload_edited_org":
        return forge(header_of(token), {**claims, "org": other_org}, signature)
    if case == "header_hs512":
        return jwt.encode(claims, key, algorithm="HS512")
    if case == "header_says_hs512_body_hs256":
        return forge({"alg": "HS512", "typ": "JWT"}, claims, signature)
    if case.startswith("missing_"):
        return jwt.encode({k: v for k, v in claims.items() if k != case.removeprefix("missing_")}, key,
                          algorithm="HS256")
    if case == "wrong_audience":
        return jwt.encode({**claims, "aud": "fastapi-users:reset"}, key, algorithm="HS256")
    if case == "wrong_issuer":
        return jwt.encode({**claims, "iss": "someone-else"}, key, algorithm="HS256")
    if case == "expired":
        return jwt.encode({**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 300}, key, algorithm="HS256")
    if case == "not_yet_valid":
        return jwt.encode({**claims, "nbf": now + 600}, key, algorithm="HS256")
    if case == "type_refresh":
        return jwt.encode({**claims, "type": "refresh"}, key, algorithm="HS256")
    if case == "unknown_user":
        return jwt.encode({**claims, "sub": str(uuid.uuid4())}, key, algorithm="HS256")
    if case == "org_claim_of_another_org":
        return jwt.encode({**claims, "org": other_org}, key, algorithm="HS256")
    if case == "refresh_token_as_bearer":
        return account.refresh_token
    if case == "garbage":
        return "abc.def.ghi"
    raise AssertionError(case)


TAMPER_CASES = [
    "alg_none", "alg_none_keeping_signature", "signed_with_another_key", "payload_edited_role",
    "payload_edited_org", "header_hs512", "header_says_hs512_body_hs256", "missing_exp", "missing_jti",
    "missing_aud", "missing_iss", "missing_sid", "missing_sub", "missing_type", "wrong_audience", "wrong_issuer",
    "expired", "not_yet_valid", "type_refresh", "unknown_user", "org_claim_of_another_org",
    "refresh_token_as_bearer", "garbage",
]


async def test_a_genuine_token_re_signed_with_the_real_key_is_accepted(
        client: httpx.AsyncClient, token_victim: dict[str, Any], test_settings: Settings) -> None:
    """The control for the tampering cases: only the tampered part makes them fail."""
    account: Account = token_victim["account"]
    token = jwt.encode(claims_of(account.access_token), _signing_key(test_settings), algorithm="HS256")
    response = await _me(client, token)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == account.user["id"]


@pytest.mark.parametrize("case", TAMPER_CASES)
async def test_tampered_tokens_are_rejected(client: httpx.AsyncClient, token_victim: dict[str, Any],
                                            test_settings: Settings, case: str) -> None:
    token = _tampered(case, token_victim["account"], token_victim["other_org"], _signing_key(test_settings))
    _assert_401(await _me(client, token))
    _assert_401(await client.get(f"{API}/contacts", headers=bearer(token)))


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "bearer"])
async def test_malformed_authorization_headers(client: httpx.AsyncClient, header: str) -> None:
    _assert_401(await client.get(f"{API}/auth/me", headers={"Authorization": header}))


# --- refresh --------------------------------------------------------------------------------------------------

async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(f"{API}/auth/refresh", json={"refresh_token": token})


async def _family_rows(database_url: str, access_token: str) -> int:
    rows = await fetch(database_url, "SELECT count(*) AS n FROM refresh_tokens WHERE session_id = $1",
                       uuid.UUID(claims_of(access_token)["sid"]))
    return int(rows[0]["n"])


async def test_a_contract_client_refreshing_with_its_login_token_stays_signed_in(client: httpx.AsyncClient,
                                                                                  database_url: str) -> None:
    account = await register(client)
    accesses = []
    for _ in range(5):  # a client written to the contract reads only access_token and keeps its login token
        response = await _refresh(client, account.refresh_token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"access_token", "refresh_token", "token_type"} and body["token_type"] == "bearer"
        assert body["refresh_token"] != account.refresh_token
        assert claims_of(body["access_token"])["sid"] == claims_of(account.access_token)["sid"]
        accesses.append(body["access_token"])
    for access in [account.access_token, *accesses]:
        me = await _me(client, access)
        assert me.status_code == 200 and me.json()["user"]["id"] == account.user["id"]
    assert await _family_rows(database_url, account.access_token) == 2  # login token + one pending child

    assert (await client.post(f"{API}/auth/logout", headers=bearer(accesses[-1]))).status_code == 204
    _assert_401(await _refresh(client, account.refresh_token))
    _assert_401(await _me(client, accesses[0]), "token_revoked")


async def test_a_rotating_client_that_replays_an_old_token_gets_its_family_revoked(client: httpx.AsyncClient) -> None:
    account = await register(client)
    first = await _refresh(client, account.refresh_token)
    assert first.status_code == 200, first.text
    second = await _refresh(client, first.json()["refresh_token"])  # the client rotates: strict from here on
    assert second.status_code == 200, second.text
    current_access, current_refresh = second.json()["access_token"], second.json()["refresh_token"]
    assert (await _me(client, current_access)).status_code == 200

    _assert_401(await _refresh(client, account.refresh_token), "refresh_token_reused")
    # theft detection: the whole family is revoked, including the newest token and every access token
    _assert_401(await _refresh(client, current_refresh))
    for access in (account.access_token, first.json()["access_token"], current_access):
        _assert_401(await _me(client, access), "token_revoked")
    # other sessions of the same user are untouched
    assert (await login(client, account.email)).user["id"] == account.user["id"]


async def test_a_rotating_client_replaying_its_previous_rotated_token_is_caught_too(client: httpx.AsyncClient) -> None:
    account = await register(client)
    first = (await _refresh(client, account.refresh_token)).json()
    second = (await _refresh(client, first["refresh_token"])).json()
    assert (await _refresh(client, second["refresh_token"])).status_code == 200
    _assert_401(await _refresh(client, first["refresh_token"]), "refresh_token_reused")
    _assert_401(await _me(client, second["access_token"]), "token_revoked")


async def test_logout_ends_a_rotating_family(client: httpx.AsyncClient) -> None:
    account = await register(client)
    first = (await _refresh(client, account.refresh_token)).json()
    second = (await _refresh(client, first["refresh_token"])).json()
    assert (await client.post(f"{API}/auth/logout", headers=bearer(second["access_token"]))).status_code == 204
    for token in (account.refresh_token, first["refresh_token"], second["refresh_token"]):
        _assert_401(await _refresh(client, token))
    _assert_401(await _me(client, second["access_token"]), "token_revoked")


async def test_refresh_chain_keeps_working_while_each_token_is_used_once(client: httpx.AsyncClient) -> None:
    account = await register(client)
    refresh = account.refresh_token
    for _ in range(3):
        response = await client.post(f"{API}/auth/refresh", json={"refresh_token": refresh})
        assert response.status_code == 200, response.text
        refresh = response.json()["refresh_token"]
        assert (await _me(client, response.json()["access_token"])).status_code == 200


@pytest.mark.parametrize("token", ["random", "access_token", "empty", "long"])
async def test_refresh_rejects_unknown_tokens(client: httpx.AsyncClient, token: str) -> None:
    account = await register(client) if token == "access_token" else None
    value = {"random": secrets.token_urlsafe(32), "empty": "", "long": "r" * 513,
             "access_token": account.access_token if account else ""}[token]
    response = await client.post(f"{API}/auth/refresh", json={"refresh_token": value})
    if token in {"empty", "long"}:
        assert_error_shape(response, 422, "validation_error")
    else:
        _assert_401(response, "invalid_token")


# --- logout ---------------------------------------------------------------------------------------------------

async def test_logout_revokes_the_access_token_and_the_refresh_family(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post(f"{API}/auth/logout", headers=account.headers)
    assert response.status_code == 204 and response.content == b""
    _assert_401(await _me(client, account.access_token), "token_revoked")
    _assert_401(await client.post(f"{API}/auth/refresh", json={"refresh_token": account.refresh_token}))
    _assert_401(await client.post(f"{API}/auth/logout", headers=account.headers), "token_revoked")
    _assert_401(await client.post(f"{API}/auth/logout"), "not_authenticated")


async def test_logout_of_one_session_leaves_the_other_working(client: httpx.AsyncClient) -> None:
    account = await register(client)
    other = await login(client, account.email)
    assert (await client.post(f"{API}/auth/logout", headers=account.headers)).status_code == 204
    me = await _me(client, other.access_token)
    assert me.status_code == 200 and me.json()["user"]["id"] == account.user["id"]
    refreshed = await client.post(f"{API}/auth/refresh", json={"refresh_token": other.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    assert (await _me(client, refreshed.json()["access_token"])).status_code == 200


# --- me -------------------------------------------------------------------------------------------------------

async def test_me_returns_exactly_the_documented_user(client: httpx.AsyncClient) -> None:
    account = await register(client, name="Bia Lima")
    response = await _me(client, account.access_token)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"user"}
    assert set(body["user"]) == USER_FIELDS
    assert body["user"] == account.user
    assert body["user"]["name"] == "Bia Lima"
    assert "password" not in response.text and "token_version" not in response.text


# --- forgot / reset password ----------------------------------------------------------------------------------

async def test_forgot_password_answers_the_same_and_mails_only_real_accounts(
        client: httpx.AsyncClient, database_url: str, mailbox: Path, test_settings: Settings) -> None:
    account = await register(client)
    ghost = unique_email("ghost")
    known = await client.post(f"{API}/auth/forgot-password", json={"email": account.email.upper()})
    unknown = await client.post(f"{API}/auth/forgot-password", json={"email": ghost})
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() and set(known.json()) == {"message"}
    assert await emails_to(database_url, mailbox, ghost) == []
    messages = await emails_to(database_url, mailbox, account.email)
    assert len(messages) == 1
    body = messages[0]["body"]
    assert f"{test_settings.frontend_url.rstrip('/')}/reset-password#token=" in body
    token = body.split("#token=")[1].split()[0]
    assert len(token) >= 43  # >= 256 bits of randomness, base64url


async def test_reset_password_flow(app: FastAPI, database_url: str, mailbox: Path) -> None:
    async with http_client(app) as client:
        account = await register(client)
        other_session = await login(client, account.email)
        assert (await client.post(f"{API}/auth/forgot-password", json={"email": account.email})).status_code == 200
        token = await latest_token_for(database_url, mailbox, account.email)

        # a weak password is refused first and leaves the token usable
        for weak in ("qwerty123", "Zq9!xw"):
            refused = await client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": weak})
            assert_error_shape(refused, 422)
            assert weak not in refused.text

        done = await client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD})
        assert done.status_code == 200, done.text
        assert set(done.json()) == {"message"}  # no auto-login: no tokens in the answer

        again = await client.post(f"{API}/auth/reset-password", json={"token": token,
                                                                      "new_password": "yet another passphrase"})
        used_body = assert_error_shape(again, 400, "invalid_reset_token")
        random_token = await client.post(f"{API}/auth/reset-password", json={
            "token": secrets.token_urlsafe(32), "new_password": "yet another passphrase"})
        assert random_token.status_code == 400 and random_token.json() == used_body

        _assert_401(await client.post(f"{API}/auth/login", json={"email": account.email, "password": PASSWORD}),
                    "invalid_credentials")
        fresh = await login(client, account.email, NEW_PASSWORD)
        assert fresh.user["id"] == account.user["id"]
        # every pre-reset session is gone
        for old in (account, other_session):
            _assert_401(await _me(client, old.access_token))
            _assert_401(await client.post(f"{API}/auth/refresh", json={"refresh_token": old.refresh_token}))
        assert (await _me(client, fresh.access_token)).status_code == 200


async def test_a_newer_reset_request_invalidates_the_older_token(client: httpx.AsyncClient, database_url: str,
                                                                 mailbox: Path) -> None:
    account = await register(client)
    await client.post(f"{API}/auth/forgot-password", json={"email": account.email})
    older = await latest_token_for(database_url, mailbox, account.email)
    await client.post(f"{API}/auth/forgot-password", json={"email": account.email})
    newer = await latest_token_for(database_url, mailbox, account.email)
    assert older != newer
    stale = await client.post(f"{API}/auth/reset-password", json={"token": older, "new_password": NEW_PASSWORD})
    assert_error_shape(stale, 400, "invalid_reset_token")
    ok = await client.post(f"{API}/auth/reset-password", json={"token": newer, "new_password": NEW_PASSWORD})
    assert ok.status_code == 200, ok.text


async def test_forgot_password_over_the_hourly_limit_is_429_without_mail(app: FastAPI, database_url: str,
                                                                         mailbox: Path) -> None:
    async with http_client(app) as client:
        account = await register(client)
        answers = [await client.post(f"{API}/auth/forgot-password", json={"email": account.email})
                   for _ in range(4)]
        ghost = unique_email("ghost")
        ghosts = [await client.post(f"{API}/auth/forgot-password", json={"email": ghost}) for _ in range(4)]
    assert [r.status_code for r in answers] == [r.status_code for r in ghosts] == [200, 200, 200, 429]
    assert len({r.text for r in answers[:3]}) == 1
    for throttled in (answers[3], ghosts[3]):  # an unknown email is throttled alike: the 429 reveals nothing
        assert_error_shape(throttled, 429, "too_many_password_resets")
        assert 3500 < int(throttled.headers["Retry-After"]) <= 3600
    assert answers[3].json() == ghosts[3].json()
    assert len(await emails_to(database_url, mailbox, account.email)) == 3


async def test_forgot_password_is_throttled_per_client_address(app: FastAPI) -> None:
    async with http_client(app) as client:
        answers = [await client.post(f"{API}/auth/forgot-password", json={"email": unique_email("guess")})
                   for _ in range(21)]
    assert [r.status_code for r in answers] == [200] * 20 + [429]
    assert_error_shape(answers[-1], 429, "too_many_password_resets")
    assert int(answers[-1].headers["Retry-After"]) > 0


async def test_reset_password_attempts_are_throttled_per_client_address_and_cost_no_hash(app: FastAPI) -> None:
    hasher = app.state.container.hasher()
    counting = CountingArgon2(hasher._argon2)
    hasher._argon2 = counting
    try:
        async with http_client(app) as client:
            answers = [await client.post(f"{API}/auth/reset-password", json={
                "token": secrets.token_urlsafe(32), "new_password": NEW_PASSWORD}) for _ in range(11)]
    finally:
        hasher._argon2 = counting.inner
    assert [r.status_code for r in answers] == [400] * 10 + [429]
    assert_error_shape(answers[0], 400, "invalid_reset_token")
    body = assert_error_shape(answers[-1], 429, "too_many_password_resets")
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 15 * 60 and NEW_PASSWORD not in str(body)
    assert counting.hashes == 0  # no token was valid: nothing was hashed


# --- role changes apply at once -------------------------------------------------------------------------------

async def test_a_demoted_org_admin_loses_write_access_with_the_same_token(client: httpx.AsyncClient) -> None:
    owner = await register(client)
    deputy_user = await create_user(client, owner, "org_admin")
    deputy = await login(client, deputy_user["email"])
    created = await client.post(f"{API}/contacts", headers=deputy.headers, json={"whatsapp_id": "5511900000001"})
    assert created.status_code == 201, created.text

    demoted = await client.patch(f"{API}/users/{deputy_user['id']}", headers=owner.headers, json={"role": "viewer"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "viewer"

    # the token still says org_admin; authorization reads the role from the database
    assert claims_of(deputy.access_token)["role"] == "org_admin"
    refused = await client.post(f"{API}/contacts", headers=deputy.headers, json={"whatsapp_id": "5511900000002"})
    assert_error_shape(refused, 403, "permission_denied")
    assert_error_shape(await client.get(f"{API}/users", headers=deputy.headers), 403, "permission_denied")
    assert_error_shape(await client.delete(f"{API}/contacts/{created.json()['id']}", headers=deputy.headers), 403)
    listed = await client.get(f"{API}/contacts", headers=deputy.headers)
    assert listed.status_code == 200 and [c["whatsapp_id"] for c in listed.json()] == ["5511900000001"]
    me = await _me(client, deputy.access_token)
    assert me.status_code == 200 and me.json()["user"]["role"] == "viewer"
