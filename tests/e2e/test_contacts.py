"""/contacts: create, validation, list/search/pagination, get, partial update and delete."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.e2e.support import API, CONTACT_FIELDS, http_client, parse_time
from tests.helpers import Account, add_member, assert_error_shape, register

CONTACTS = f"{API}/contacts"


@pytest.fixture(scope="module")
async def admin(app: FastAPI) -> AsyncIterator[Account]:
    """One organization for the tests that only add their own, distinct contacts."""
    async with http_client(app) as client:
        yield await register(client, organization_name="Contacts Co")


_counter = iter(range(10_000_000, 99_999_999))


def fresh_number() -> str:
    """A whatsapp_id no other test of this module uses."""
    return f"5521{next(_counter)}{uuid.uuid4().int % 10}"


async def _create(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    fields.setdefault("whatsapp_id", fresh_number())
    response = await client.post(CONTACTS, headers=account.headers, json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _get(client: httpx.AsyncClient, account: Account, contact_id: str) -> httpx.Response:
    return await client.get(f"{CONTACTS}/{contact_id}", headers=account.headers)


async def _count(client: httpx.AsyncClient, account: Account) -> int:
    response = await client.get(CONTACTS, headers=account.headers, params={"limit": 1})
    assert response.status_code == 200
    return int(response.headers["X-Total-Count"])


# --- create ---------------------------------------------------------------------------------------------------

async def test_create_normalizes_the_whatsapp_id_and_returns_the_contact(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await client.post(CONTACTS, headers=account.headers, json={
        "whatsapp_id": "+55 11 98765-4321", "name": "  Maria Silva ", "email": "Maria.Silva@Example.COM"})
    assert response.status_code == 201, response.text
    contact = response.json()
    assert set(contact) == CONTACT_FIELDS
    assert contact["whatsapp_id"] == "5511987654321"
    assert contact["name"] == "Maria Silva"
    assert contact["email"] == "maria.silva@example.com"
    assert (contact["tags"], contact["attributes"], contact["opted_out"]) == ([], {}, False)
    assert contact["organization_id"] == account.organization_id
    assert contact["created_at"] == contact["updated_at"]
    uuid.UUID(contact["id"])

    stored = await _get(client, account, contact["id"])
    assert stored.status_code == 200 and stored.json() == contact

    for same in ("5511987654321", "+5511987654321", "55-11-98765-4321", " 55 11 9876 54321 "):
        duplicate = await client.post(CONTACTS, headers=account.headers, json={"whatsapp_id": same, "name": "B"})
        assert_error_shape(duplicate, 409, "contact_already_exists")
    listed = await client.get(CONTACTS, headers=account.headers)
    assert listed.headers["X-Total-Count"] == "1" and listed.json() == [contact]


async def test_only_whatsapp_id_is_required(client: httpx.AsyncClient, admin: Account) -> None:
    contact = await _create(client, admin, whatsapp_id="12345678")
    assert (contact["whatsapp_id"], contact["name"], contact["email"]) == ("12345678", None, None)
    longest = await _create(client, admin, whatsapp_id="123456789012345")
    assert longest["whatsapp_id"] == "123456789012345"


async def test_the_same_number_may_exist_in_two_organizations(client: httpx.AsyncClient, admin: Account) -> None:
    number = fresh_number()
    mine = await _create(client, admin, whatsapp_id=number)
    other = await register(client)
    theirs = await _create(client, other, whatsapp_id=number)
    assert mine["id"] != theirs["id"] and theirs["organization_id"] == other.organization_id


INVALID_WHATSAPP_IDS = [
    "abc", "1234567", "1234567890123456", "+55 (11) 98765-4321", "55.11.98765.4321", "++5511987654321",
    "5511987654321x", "+", "55 11 98765-4321 ramal 2", "+-", "0x5511987654",
]


@pytest.mark.parametrize("whatsapp_id", INVALID_WHATSAPP_IDS)
async def test_invalid_whatsapp_ids_are_422(client: httpx.AsyncClient, admin: Account, whatsapp_id: str) -> None:
    before = await _count(client, admin)
    response = await client.post(CONTACTS, headers=admin.headers, json={"whatsapp_id": whatsapp_id})
    assert_error_shape(response, 422, "invalid_whatsapp_id")
    assert await _count(client, admin) == before


@pytest.mark.parametrize("whatsapp_id", ["", "1" * 33, 5511987654321, None, ["5511987654321"]])
async def test_schema_invalid_whatsapp_ids_are_422_with_errors(client: httpx.AsyncClient, admin: Account,
                                                               whatsapp_id: Any) -> None:
    response = await client.post(CONTACTS, headers=admin.headers, json={"whatsapp_id": whatsapp_id})
    body = assert_error_shape(response, 422, "validation_error")
    assert body["errors"] and all(set(e) == {"loc", "msg", "type"} for e in body["errors"])
    assert ["body", "whatsapp_id"] == body["errors"][0]["loc"][:2]


@pytest.mark.parametrize(("fields", "loc", "code"), [
    ({"whatsapp_id": "abc"}, ["body", "whatsapp_id"], "invalid_whatsapp_id"),
    ({"whatsapp_id": "5511900000000", "email": "nope"}, ["body", "email"], "invalid_email"),
    ({"whatsapp_id": "5511900000000", "tags": ["bad,tag!"]}, ["body", "tags"], "invalid_tag"),
])
async def test_domain_validation_errors_carry_an_errors_list(client: httpx.AsyncClient, admin: Account,
                                                             fields: dict[str, Any], loc: list[str],
                                                             code: str) -> None:
    """SPEC "General": every 422 keeps the error shape and adds errors: [{loc, msg, type}], also when the
    value passes the schema and the domain refuses it."""
    response = await client.post(CONTACTS, headers=admin.headers, json=fields)
    body = assert_error_shape(response, 422, code)
    assert [set(e) for e in body["errors"]] == [{"loc", "msg", "type"}]
    assert body["errors"][0]["loc"] == loc and body["errors"][0]["type"] == code


@pytest.mark.parametrize("whatsapp_id", ["٥٥١١٩٨٧٦٥٤٣٢١", "５５１１９８７６５４３２１"])
async def test_non_ascii_digits_are_422(client: httpx.AsyncClient, admin: Account, whatsapp_id: str) -> None:
    response = await client.post(CONTACTS, headers=admin.headers, json={"whatsapp_id": whatsapp_id})
    assert_error_shape(response, 422, "invalid_whatsapp_id")


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a@@example.com", "a b@example.com", "@example.com",
                                   "a@example..com", "x" * 250 + "@example.com"])
async def test_invalid_emails_are_422(client: httpx.AsyncClient, admin: Account, email: str) -> None:
    before = await _count(client, admin)
    response = await client.post(CONTACTS, headers=admin.headers, json={"whatsapp_id": fresh_number(),
                                                                       "email": email})
    assert_error_shape(response, 422)
    assert await _count(client, admin) == before


async def test_name_length(client: httpx.AsyncClient, admin: Account) -> None:
    contact = await _create(client, admin, name="N" * 255)
    assert contact["name"] == "N" * 255
    before = await _count(client, admin)
    response = await client.post(CONTACTS, headers=admin.headers, json={"whatsapp_id": fresh_number(),
                                                                       "name": "N" * 256})
    body = assert_error_shape(response, 422, "validation_error")
    assert body["errors"][0]["loc"] == ["body", "name"]
    assert await _count(client, admin) == before


async def test_blank_name_and_email_are_stored_as_null(client: httpx.AsyncClient, admin: Account) -> None:
    contact = await _create(client, admin, name="   ", email="")
    assert contact["name"] is None and contact["email"] is None


async def test_tags_attributes_and_opt_out_round_trip(client: httpx.AsyncClient, admin: Account) -> None:
    attributes = {"plan": "gold", "visits": 3, "vip": True, "address": {"city": "Recife", "zip": None},
                  "scores": [1, 2.5]}
    contact = await _create(client, admin, tags=["lead", " Lead ", "cliente:2024", "b2b"], attributes=attributes,
                            opted_out=True)
    assert contact["tags"] == ["lead", "cliente:2024", "b2b"]  # trimmed, duplicates dropped, order kept
    assert contact["attributes"] == attributes and contact["opted_out"] is True
    assert (await _get(client, admin, contact["id"])).json() == contact


@pytest.mark.parametrize("fields", [{"tags": ["bad,tag!"]}, {"tags": [""]}, {"tags": ["t" * 51]},
                                    {"tags": [f"t{i}" for i in range(51)]}, {"tags": "lead"},
                                    {"attributes": [1, 2]}, {"attributes": {f"k{i}": i for i in range(101)}},
                                    {"attributes": {"blob": "x" * 17_000}}, {"opted_out": "sometimes"},
                                    {"organization_id": str(uuid.uuid4())}, {"id": str(uuid.uuid4())}])
async def test_invalid_contact_fields_are_422_and_store_nothing(client: httpx.AsyncClient, admin: Account,
                                                                fields: dict[str, Any]) -> None:
    before = await _count(client, admin)
    response = await client.post(CONTACTS, headers=admin.headers, json={"whatsapp_id": fresh_number(), **fields})
    assert_error_shape(response, 422)
    assert await _count(client, admin) == before


# --- list, pagination, search ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def directory(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """An organization with 55 contacts, created one after the other (so created_at orders them)."""
    async with http_client(app) as client:
        account = await register(client, organization_name="Directory")
        created = []
        for i in range(55):
            created.append(await _create(client, account, whatsapp_id=f"55119{i:08d}", name=f"Person {i:02d}"))
        yield {"account": account, "created": created}


async def test_list_defaults_to_50_newest_first(client: httpx.AsyncClient, directory: dict[str, Any]) -> None:
    response = await client.get(CONTACTS, headers=directory["account"].headers)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "55"
    newest_first = [c["id"] for c in reversed(directory["created"])]
    assert [c["id"] for c in response.json()] == newest_first[:50]
    assert all(set(c) == CONTACT_FIELDS for c in response.json())


@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (10, 5), (200, 0), (20, 50), (5, 55), (50, 1000)])
async def test_list_pagination(client: httpx.AsyncClient, directory: dict[str, Any], limit: int,
                               offset: int) -> None:
    response = await client.get(CONTACTS, headers=directory["account"].headers,
                                params={"limit": limit, "offset": offset})
    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == "55"
    newest_first = [c["id"] for c in reversed(directory["created"])]
    assert [c["id"] for c in response.json()] == newest_first[offset:offset + limit]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"limit": -5}, {"offset": -1},
                                    {"limit": "ten"}, {"offset": "1.5"}, {"query": "q" * 256}])
async def test_list_parameter_bounds(client: httpx.AsyncClient, directory: dict[str, Any],
                                     params: dict[str, Any]) -> None:
    response = await client.get(CONTACTS, headers=directory["account"].headers, params=params)
    body = assert_error_shape(response, 422, "validation_error")
    assert body["errors"][0]["loc"][0] == "query" and body["errors"][0]["loc"][1] in params


@pytest.fixture(scope="module")
async def searchable(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    async with http_client(app) as client:
        account = await register(client, organization_name="Search")
        people = {
            "maria": await _create(client, account, whatsapp_id="5511987650001", name="Maria Souza",
                                   email="MSouza@Example.com"),
            "joao": await _create(client, account, whatsapp_id="5521912340002", name="João Pereira",
                                  email="joao@empresa.com.br"),
            "percent": await _create(client, account, whatsapp_id="5531900000003", name="100% Real"),
            "hundred": await _create(client, account, whatsapp_id="5531900000004", name="1000 Real"),
            "underscore": await _create(client, account, whatsapp_id="5541900000005", name="a_b",
                                        email="under_score@x.io"),
            "axb": await _create(client, account, whatsapp_id="5541900000006", name="axb"),
            "backslash": await _create(client, account, whatsapp_id="5541900000007", name="back\\slash"),
            "noname": await _create(client, account, whatsapp_id="5551900000008"),
        }
        yield {"account": account, "people": people}


@pytest.mark.parametrize(("query", "expected"), [
    ("maria", ["maria"]),
    ("MARIA", ["maria"]),
    ("souza", ["maria"]),
    ("msouza@example", ["maria"]),
    ("EXAMPLE.COM", ["maria"]),
    ("EMPRESA", ["joao"]),
    ("joão", ["joao"]),
    ("JOÃO", ["joao"]),
    ("98765", ["maria"]),
    ("5541900", ["backslash", "axb", "underscore"]),
    ("%", ["percent"]),
    ("100%", ["percent"]),
    ("_", ["underscore"]),
    ("a_b", ["underscore"]),
    ("\\", ["backslash"]),
    ("k\\s", ["backslash"]),
    ("real", ["hundred", "percent"]),
    ("nobody-matches-this", []),
    ("   ", ["noname", "backslash", "axb", "underscore", "hundred", "percent", "joao", "maria"]),
])
async def test_search(client: httpx.AsyncClient, searchable: dict[str, Any], query: str,
                      expected: list[str]) -> None:
    people = searchable["people"]
    response = await client.get(CONTACTS, headers=searchable["account"].headers, params={"query": query})
    assert response.status_code == 200, response.text
    assert [c["id"] for c in response.json()] == [people[k]["id"] for k in expected]
    assert response.headers["X-Total-Count"] == str(len(expected))


async def test_search_total_counts_all_matches_not_the_page(client: httpx.AsyncClient,
                                                           directory: dict[str, Any]) -> None:
    response = await client.get(CONTACTS, headers=directory["account"].headers,
                                params={"query": "person 1", "limit": 3})
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "10"  # Person 10..19
    assert [c["name"] for c in response.json()] == ["Person 19", "Person 18", "Person 17"]


# --- get / put / delete ---------------------------------------------------------------------------------------

async def test_get_unknown_or_malformed_id(client: httpx.AsyncClient, admin: Account) -> None:
    assert_error_shape(await _get(client, admin, str(uuid.uuid4())), 404, "contact_not_found")
    assert_error_shape(await _get(client, admin, "not-a-uuid"), 422, "validation_error")


async def test_put_is_a_partial_update(client: httpx.AsyncClient, admin: Account) -> None:
    contact = await _create(client, admin, name="Ana", email="ana@example.com", tags=["lead"],
                            attributes={"plan": "free"})
    url = f"{CONTACTS}/{contact['id']}"

    renamed = await client.put(url, headers=admin.headers, json={"name": "Ana Maria"})
    assert renamed.status_code == 200, renamed.text
    after = renamed.json()
    assert after["name"] == "Ana Maria"
    unchanged = {k: after[k] for k in ("id", "whatsapp_id", "email", "tags", "attributes", "opted_out",
                                       "organization_id", "created_at")}
    assert unchanged == {k: contact[k] for k in unchanged}
    assert parse_time(after["updated_at"]) > parse_time(contact["updated_at"])

    changed = await client.put(url, headers=admin.headers, json={
        "tags": ["vip", "VIP", "b2b"], "attributes": {"plan": "gold", "seats": 12}, "opted_out": True,
        "whatsapp_id": "+55 81 99999-0000"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["tags"], body["attributes"], body["opted_out"], body["whatsapp_id"]) == \
        (["vip", "b2b"], {"plan": "gold", "seats": 12}, True, "5581999990000")
    assert body["name"] == "Ana Maria" and body["email"] == "ana@example.com"

    cleared = await client.put(url, headers=admin.headers, json={"email": None, "name": None, "tags": [],
                                                                 "attributes": {}, "opted_out": False})
    assert cleared.status_code == 200
    final = cleared.json()
    assert (final["name"], final["email"], final["tags"], final["attributes"], final["opted_out"]) == \
        (None, None, [], {}, False)
    assert final["whatsapp_id"] == "5581999990000"

    # null for a non-nullable field leaves it unchanged; an empty body changes nothing
    kept = await client.put(url, headers=admin.headers, json={"whatsapp_id": None, "tags": None})
    assert kept.status_code == 200 and kept.json()["whatsapp_id"] == "5581999990000"
    empty = await client.put(url, headers=admin.headers, json={})
    assert empty.status_code == 200
    stored = (await _get(client, admin, contact["id"])).json()
    assert {k: v for k, v in stored.items() if k != "updated_at"} == \
        {k: v for k, v in final.items() if k != "updated_at"}


async def test_put_validation_and_conflicts(client: httpx.AsyncClient, admin: Account) -> None:
    first = await _create(client, admin, name="First")
    second = await _create(client, admin, name="Second")
    url = f"{CONTACTS}/{second['id']}"
    assert_error_shape(await client.put(url, headers=admin.headers, json={"whatsapp_id": first["whatsapp_id"]}),
                       409, "contact_already_exists")
    assert_error_shape(await client.put(url, headers=admin.headers, json={"whatsapp_id": "12ab"}), 422,
                       "invalid_whatsapp_id")
    assert_error_shape(await client.put(url, headers=admin.headers, json={"email": "nope"}), 422)
    assert_error_shape(await client.put(url, headers=admin.headers, json={"name": "n" * 256}), 422)
    assert_error_shape(await client.put(url, headers=admin.headers, json={"owner_id": str(uuid.uuid4())}),
                       422, "validation_error")
    ignored = await client.put(url, headers=admin.headers, json={"organization_id": str(uuid.uuid4())})
    assert ignored.status_code == 200 and ignored.json()["organization_id"] == admin.organization_id  # read-only
    assert_error_shape(await client.put(f"{CONTACTS}/{uuid.uuid4()}", headers=admin.headers, json={"name": "x"}),
                       404, "contact_not_found")
    stored = (await _get(client, admin, second["id"])).json()
    assert {k: v for k, v in stored.items() if k != "updated_at"} == {k: v for k, v in second.items()
                                                                      if k != "updated_at"}


async def test_delete(client: httpx.AsyncClient, admin: Account) -> None:
    contact = await _create(client, admin, name="Short Lived")
    keep = await _create(client, admin, name="Keeper")
    url = f"{CONTACTS}/{contact['id']}"
    before = await _count(client, admin)
    deleted = await client.delete(url, headers=admin.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error_shape(await client.get(url, headers=admin.headers), 404, "contact_not_found")
    assert_error_shape(await client.put(url, headers=admin.headers, json={"name": "zombie"}), 404)
    assert_error_shape(await client.delete(url, headers=admin.headers), 404, "contact_not_found")
    assert await _count(client, admin) == before - 1
    assert (await _get(client, admin, keep["id"])).status_code == 200
    # the number is free again
    again = await _create(client, admin, whatsapp_id=contact["whatsapp_id"])
    assert again["id"] != contact["id"]


async def test_agents_write_contacts_viewers_only_read(client: httpx.AsyncClient, admin: Account) -> None:
    agent = await add_member(client, admin, "agent")
    viewer = await add_member(client, admin, "viewer")
    made = await _create(client, agent, name="By Agent")
    assert made["organization_id"] == admin.organization_id
    assert (await _get(client, viewer, made["id"])).json() == made
    assert_error_shape(await client.post(CONTACTS, headers=viewer.headers, json={"whatsapp_id": fresh_number()}),
                       403, "permission_denied")
    assert_error_shape(await client.put(f"{CONTACTS}/{made['id']}", headers=viewer.headers, json={"name": "V"}),
                       403, "permission_denied")
    assert_error_shape(await client.delete(f"{CONTACTS}/{made['id']}", headers=viewer.headers), 403,
                       "permission_denied")
    assert (await _get(client, admin, made["id"])).json() == made
