"""/users: org admins list, create (with a password or by invitation) and change the users of their organization."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.e2e.support import API, USER_FIELDS, create_user, emails_to, http_client, parse_time, token_in
from tests.helpers import PASSWORD, Account, add_member, assert_error_shape, login, register, unique_email


@pytest.fixture(scope="module")
async def team(app: FastAPI) -> AsyncIterator[dict[str, Account]]:
    """One organization with an org_admin, an agent and a viewer, shared by the read-only and refusal tests."""
    async with http_client(app) as client:
        admin = await register(client, organization_name="Users Team")
        yield {"admin": admin, "agent": await add_member(client, admin, "agent"),
               "viewer": await add_member(client, admin, "viewer")}


async def _users(client: httpx.AsyncClient, account: Account, **params: Any) -> httpx.Response:
    response = await client.get(f"{API}/users", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    return response


async def test_list_users_is_scoped_paginated_and_counted(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    agent = await create_user(client, admin, "agent")
    viewer = await create_user(client, admin, "viewer")
    await register(client)  # another organization's user must not show up

    response = await _users(client, admin)
    users = response.json()
    assert response.headers["X-Total-Count"] == "3"
    assert [u["id"] for u in users] == [viewer["id"], agent["id"], admin.user["id"]]  # newest first
    for user in users:
        assert set(user) == USER_FIELDS
        assert user["organization_id"] == admin.organization_id
    assert "password" not in response.text and "$argon2" not in response.text

    page = await _users(client, admin, limit=1, offset=1)
    assert [u["id"] for u in page.json()] == [agent["id"]] and page.headers["X-Total-Count"] == "3"
    beyond = await _users(client, admin, offset=10)
    assert beyond.json() == [] and beyond.headers["X-Total-Count"] == "3"
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
        assert_error_shape(await client.get(f"{API}/users", headers=admin.headers, params=bad), 422,
                           "validation_error")


async def test_create_user_with_a_password(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    email = unique_email("Agent").upper()
    response = await client.post(f"{API}/users", headers=admin.headers, json={
        "email": email, "name": "  Carla Dias ", "role": "agent", "password": PASSWORD})
    assert response.status_code == 201, response.text
    user = response.json()
    assert set(user) == USER_FIELDS
    assert user["email"] == email.lower() and user["name"] == "Carla Dias" and user["role"] == "agent"
    assert user["organization_id"] == admin.organization_id and user["is_active"] is True
    assert "password" not in response.text

    session = await login(client, email.lower())
    assert session.user == user
    listed = await _users(client, admin)
    assert user in listed.json()


async def test_role_defaults_to_agent(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    response = await client.post(f"{API}/users", headers=admin.headers, json={
        "email": unique_email("default"), "name": "Default Role", "password": PASSWORD})
    assert response.status_code == 201 and response.json()["role"] == "agent"


async def test_create_user_without_a_password_mails_an_invitation(client: httpx.AsyncClient, database_url: str,
                                                                  mailbox: Path) -> None:
    admin = await register(client)
    email = unique_email("invitee")
    response = await client.post(f"{API}/users", headers=admin.headers, json={
        "email": email, "name": "Invited Person", "role": "viewer"})
    assert response.status_code == 201, response.text
    assert response.json()["role"] == "viewer" and response.json()["is_active"] is True

    messages = await emails_to(database_url, mailbox, email)
    assert len(messages) == 1 and "invite" in messages[0]["subject"].lower()
    token = token_in(messages[0])
    chosen = "my very own passphrase"
    accepted = await client.post(f"{API}/auth/reset-password", json={"token": token, "new_password": chosen})
    assert accepted.status_code == 200, accepted.text
    session = await login(client, email, chosen)
    assert session.user["id"] == response.json()["id"] and session.user["role"] == "viewer"


async def test_patch_name_role_and_active_flag(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    member = await create_user(client, admin, "agent")

    renamed = await client.patch(f"{API}/users/{member['id']}", headers=admin.headers, json={"name": " New Name "})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "New Name" and renamed.json()["role"] == "agent"
    assert parse_time(renamed.json()["updated_at"]) > parse_time(member["updated_at"])

    demoted = await client.patch(f"{API}/users/{member['id']}", headers=admin.headers, json={"role": "viewer"})
    assert demoted.status_code == 200 and demoted.json()["role"] == "viewer"
    assert demoted.json()["name"] == "New Name"  # fields left out are unchanged

    deactivated = await client.patch(f"{API}/users/{member['id']}", headers=admin.headers,
                                     json={"is_active": False})
    assert deactivated.status_code == 200 and deactivated.json()["is_active"] is False
    stored = {u["id"]: u for u in (await _users(client, admin)).json()}[member["id"]]
    assert (stored["name"], stored["role"], stored["is_active"]) == ("New Name", "viewer", False)

    promoted = await client.patch(f"{API}/users/{member['id']}", headers=admin.headers,
                                  json={"role": "org_admin", "is_active": True})
    assert promoted.status_code == 200
    assert (promoted.json()["role"], promoted.json()["is_active"]) == ("org_admin", True)
    session = await login(client, member["email"])
    assert session.user["role"] == "org_admin"
    assert (await client.get(f"{API}/users", headers=session.headers)).status_code == 200


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "   "}, {"name": "n" * 256}, {"role": "owner"},
                                  {"is_active": "maybe"}, {"password_hash": "x"}, {"tenant_id": str(uuid.uuid4())}])
async def test_patch_validation(client: httpx.AsyncClient, team: dict[str, Account], body: dict[str, Any]) -> None:
    admin = team["admin"]
    target = team["agent"]
    response = await client.patch(f"{API}/users/{target.user['id']}", headers=admin.headers, json=body)
    assert response.status_code in {400, 422}, response.text
    assert_error_shape(response, response.status_code)
    stored = {u["id"]: u for u in (await _users(client, admin)).json()}[target.user["id"]]
    assert stored == target.user


async def test_patch_ignores_the_read_only_fields_a_get_returned(client: httpx.AsyncClient,
                                                                  team: dict[str, Account]) -> None:
    admin = team["admin"]
    target = await create_user(client, admin, "agent")
    response = await client.patch(f"{API}/users/{target['id']}", headers=admin.headers, json={
        "email": "x@example.com", "organization_id": str(uuid.uuid4()), "id": str(uuid.uuid4())})
    assert response.status_code == 200, response.text
    stored = {u["id"]: u for u in (await _users(client, admin)).json()}[target["id"]]
    assert {k: v for k, v in stored.items() if k != "updated_at"} == {
        k: v for k, v in target.items() if k != "updated_at"}


@pytest.mark.parametrize("role", ["agent", "viewer"])
@pytest.mark.parametrize("action", ["list", "create", "patch"])
async def test_agents_and_viewers_cannot_manage_users(client: httpx.AsyncClient, team: dict[str, Account],
                                                      role: str, action: str) -> None:
    caller = team[role]
    admin = team["admin"]
    victim = team["viewer" if role == "agent" else "agent"]
    email = unique_email("sneaky")
    if action == "list":
        response = await client.get(f"{API}/users", headers=caller.headers)
    elif action == "create":
        response = await client.post(f"{API}/users", headers=caller.headers, json={
            "email": email, "name": "Sneaky", "role": "org_admin", "password": PASSWORD})
    else:
        response = await client.patch(f"{API}/users/{victim.user['id']}", headers=caller.headers,
                                      json={"role": "org_admin", "name": "Hijacked"})
    assert_error_shape(response, 403, "permission_denied")
    users = {u["id"]: u for u in (await _users(client, admin)).json()}
    assert email not in {u["email"] for u in users.values()}
    assert users[victim.user["id"]] == victim.user


async def test_an_org_admin_cannot_grant_super_admin(client: httpx.AsyncClient, team: dict[str, Account]) -> None:
    admin = team["admin"]
    email = unique_email("wannabe")
    created = await client.post(f"{API}/users", headers=admin.headers, json={
        "email": email, "name": "Wannabe", "role": "super_admin", "password": PASSWORD})
    assert_error_shape(created, 403, "permission_denied")
    patched = await client.patch(f"{API}/users/{team['agent'].user['id']}", headers=admin.headers,
                                 json={"role": "super_admin"})
    assert_error_shape(patched, 403, "permission_denied")
    users = {u["id"]: u for u in (await _users(client, admin)).json()}
    assert email not in {u["email"] for u in users.values()}
    assert users[team["agent"].user["id"]]["role"] == "agent"


async def test_an_admin_cannot_demote_or_deactivate_itself(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    me = f"{API}/users/{admin.user['id']}"
    for body in ({"role": "viewer"}, {"role": "agent"}, {"is_active": False}, {"role": "viewer", "name": "X"}):
        assert_error_shape(await client.patch(me, headers=admin.headers, json=body), 400, "cannot_modify_self")
    renamed = await client.patch(me, headers=admin.headers, json={"name": "Still Admin", "role": "org_admin",
                                                                 "is_active": True})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["role"], renamed.json()["is_active"]) == \
        ("Still Admin", "org_admin", True)
    assert (await client.get(f"{API}/users", headers=admin.headers)).status_code == 200


async def test_unknown_and_foreign_user_ids_are_404(client: httpx.AsyncClient, team: dict[str, Account]) -> None:
    admin = team["admin"]
    stranger = await register(client, organization_name="Elsewhere")
    for user_id in (str(uuid.uuid4()), stranger.user["id"]):
        response = await client.patch(f"{API}/users/{user_id}", headers=admin.headers,
                                      json={"name": "Taken Over", "is_active": False})
        assert_error_shape(response, 404, "user_not_found")
    assert_error_shape(await client.patch(f"{API}/users/not-a-uuid", headers=admin.headers, json={"name": "x"}),
                       422, "validation_error")
    untouched = (await _users(client, stranger)).json()
    assert untouched == [stranger.user]
    assert (await client.get(f"{API}/auth/me", headers=stranger.headers)).status_code == 200


async def test_duplicate_emails_are_409_across_organizations(client: httpx.AsyncClient,
                                                            team: dict[str, Account]) -> None:
    admin = team["admin"]
    outsider = await register(client)
    before = (await _users(client, admin)).headers["X-Total-Count"]
    for email in (team["agent"].email.upper(), f" {outsider.email} "):
        response = await client.post(f"{API}/users", headers=admin.headers, json={
            "email": email, "name": "Dup", "role": "viewer", "password": PASSWORD})
        assert_error_shape(response, 409, "email_already_registered")
    assert (await _users(client, admin)).headers["X-Total-Count"] == before
    assert (await _users(client, outsider)).json() == [outsider.user]


@pytest.mark.parametrize("body", [
    {"name": "Weak", "role": "agent", "password": "qwerty123"},
    {"name": "Short", "role": "agent", "password": "Zq9!xw"},
    {"name": "Role", "role": "owner", "password": PASSWORD},
    {"name": "", "role": "agent", "password": PASSWORD},
    {"name": "Extra", "role": "agent", "password": PASSWORD, "organization_id": str(uuid.uuid4())},
    {"name": "BadEmail", "role": "agent", "password": PASSWORD, "email": "not-an-email"},
])
async def test_create_user_validation_stores_nothing(client: httpx.AsyncClient, team: dict[str, Account],
                                                     body: dict[str, Any]) -> None:
    admin = team["admin"]
    before = (await _users(client, admin)).headers["X-Total-Count"]
    payload = {"email": unique_email("invalid"), **body}
    response = await client.post(f"{API}/users", headers=admin.headers, json=payload)
    assert_error_shape(response, 422)
    if payload.get("password"):
        assert payload["password"] not in response.text
    assert (await _users(client, admin)).headers["X-Total-Count"] == before
