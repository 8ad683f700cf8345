"""Contact import and export over HTTP with the real worker: upload -> worker -> progress with counts and row errors,
the upload limits (413, 422), roles, the CSV export, tag and query audiences of automations, tenancy."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.support import API, insert_superadmin, login_as, parse_time
from tests.e2e.whatsapp_support import org_with_number, random_wa_id, wait_until
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import Account, add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e

IMPORTS = f"{API}/contacts/imports"
EXPORT = f"{API}/contacts/export"
MAPPING = {"Telefone": "whatsapp_id", "Nome": "name", "E-mail": "email", "Etiquetas": "tags",
           "Cidade": "attributes.city", "Observação": None}
TEMPLATE = {"name": "promo", "language": "pt_BR", "components": []}


async def upload(client: httpx.AsyncClient, account: Account, content: bytes | str, *,
                 filename: str = "contatos.csv", **data: str) -> httpx.Response:
    body = content.encode() if isinstance(content, str) else content
    return await client.post(IMPORTS, headers=account.headers, files={"file": (filename, body, "text/csv")},
                             data=data)


async def finished(client: httpx.AsyncClient, account: Account, import_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"{IMPORTS}/{import_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["status"] in ("completed", "failed") else None

    return await wait_until(probe, timeout=60, interval=0.1, what=f"import {import_id} to finish")


async def imported(client: httpx.AsyncClient, account: Account, content: bytes | str, **data: str) -> dict[str, Any]:
    response = await upload(client, account, content, **data)
    assert response.status_code == 202, response.text
    return await finished(client, account, response.json()["import_id"])


async def export(client: httpx.AsyncClient, account: Account, **params: str) -> list[dict[str, str]]:
    response = await client.get(EXPORT, headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text, newline="")))


def numbers() -> list[str]:
    base = random_wa_id()[:9]
    return [f"{base}{n:04d}" for n in range(6)]


def spreadsheet(wa: list[str]) -> bytes:
    """A file as a Brazilian spreadsheet saves it: BOM, ';', quoted fields, a mapping needed, bad rows."""
    lines = ["Telefone;Nome;E-mail;Etiquetas;Cidade;Observação",
             f'+{wa[0][:2]} {wa[0][2:4]} {wa[0][4:]};"Silva; Ana";ANA@example.com;vip|lead;Recife;x',
             f"{wa[1]};Bia Souza;bia@example.com;VIP;Natal;",
             f"{wa[2]};Carla Silva;nope;;;",  # invalid email: a row error
             "12345;Too short;;;;",  # invalid number: a row error
             f"{wa[1]};Bia again;;;;",  # a duplicate of line 3: the first wins
             f"{wa[3]};{'x' * 256};;;;",  # name too long
             f"{wa[4]};Duda Silva;;newsletter;São Paulo;"]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


async def test_upload_worker_progress_counts_and_row_errors(client: httpx.AsyncClient, worker: None) -> None:
    account = await register(client)
    wa = numbers()
    response = await upload(client, account, spreadsheet(wa), mapping=json.dumps(MAPPING))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["location"].endswith(f"/contacts/imports/{body['import_id']}")

    done = await finished(client, account, body["import_id"])
    assert done["status"] == "completed", done
    assert {k: done[k] for k in ("rows_total", "rows_processed", "created", "updated", "unchanged", "duplicates",
                                 "failed")} == {"rows_total": 7, "rows_processed": 7, "created": 3, "updated": 0,
                                                "unchanged": 0, "duplicates": 1, "failed": 3}
    assert [(e["line"], e["column"], e["error_code"]) for e in done["errors"]] == [
        (4, "E-mail", "invalid_email"), (5, "Telefone", "invalid_whatsapp_id"), (7, "Nome", "name_too_long")]
    assert all(e["reason"] for e in done["errors"])
    assert (done["mode"], done["delimiter"], done["filename"], done["organization_id"]) == (
        "create_only", ";", "contatos.csv", account.organization_id)
    assert done["mapping"] == {k: v for k, v in MAPPING.items() if v}
    assert parse_time(done["started_at"]) <= parse_time(done["finished_at"])

    listed = await client.get(f"{API}/contacts", headers=account.headers, params={"query": wa[0]})
    [ana] = listed.json()
    assert (ana["name"], ana["email"], ana["tags"], ana["attributes"]) == (
        "Silva; Ana", "ana@example.com", ["vip", "lead"], {"city": "Recife"})
    everyone = await client.get(f"{API}/contacts", headers=account.headers, params={"limit": 1})
    assert everyone.headers["x-total-count"] == "3"

    again = await imported(client, account, spreadsheet(wa), mapping=json.dumps(MAPPING), mode="upsert")
    assert (again["created"], again["updated"], again["unchanged"], again["duplicates"], again["failed"]) == (
        0, 0, 3, 1, 3)
    listed = await client.get(f"{IMPORTS}", headers=account.headers)
    assert listed.headers["x-total-count"] == "2" and [i["id"] for i in listed.json()] == [
        again["id"], body["import_id"]]


async def test_upsert_updates_changed_contacts(client: httpx.AsyncClient, worker: None) -> None:
    account = await register(client)
    wa = numbers()
    await client.post(f"{API}/contacts", headers=account.headers,
                      json={"whatsapp_id": wa[0], "name": "Old", "attributes": {"plan": "gold"}})
    done = await imported(client, account, f"whatsapp_id,name,attributes.city\n{wa[0]},New,Natal\n{wa[1]},,\n",
                          mode="upsert")
    assert (done["created"], done["updated"], done["unchanged"]) == (1, 1, 0)
    [contact] = (await client.get(f"{API}/contacts", headers=account.headers, params={"query": wa[0]})).json()
    assert (contact["name"], contact["attributes"]) == ("New", {"plan": "gold", "city": "Natal"})


async def test_a_file_over_20_mib_is_413_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    account = await register(client)
    big = b"whatsapp_id\n" + b"5511987654321\n" * (20 * 1024 * 1024 // 14 + 1)
    assert len(big) > 20 * 1024 * 1024
    response = await upload(client, account, big)
    assert_error_shape(response, 413, "import_file_too_large")
    assert "20 MiB" in response.json()["detail"]
    declared = await client.post(IMPORTS, headers={**account.headers, "content-type": "multipart/form-data; b=x",
                                                   "content-length": str(30 * 1024 * 1024)}, content=b"")
    assert_error_shape(declared, 413, "import_file_too_large")  # refused before reading the body
    listed = await client.get(IMPORTS, headers=account.headers)
    assert listed.json() == [] and listed.headers["x-total-count"] == "0"


async def test_more_than_500000_rows_is_422_at_upload(client: httpx.AsyncClient) -> None:
    account = await register(client)
    response = await upload(client, account, b"whatsapp_id\n" + b"5511987654321\n" * 500_001)
    assert_error_shape(response, 422, "too_many_rows")
    assert "500,000" in response.json()["detail"]


@pytest.mark.parametrize(("send", "code"), [
    ({"data": {"mode": "upsert"}}, "invalid_upload"),  # no file part
    ({"json": {"file": "whatsapp_id\n5511987654321\n"}}, "invalid_upload"),  # not multipart
    ({"file": "whatsapp_id\n5511987654321\n", "data": {"extra": "1"}}, "invalid_upload"),
    ({"file": "whatsapp_id\n5511987654321\n", "data": {"mode": "replace"}}, "invalid_value"),
    ({"file": "whatsapp_id\n5511987654321\n", "data": {"delimiter": "|"}}, "invalid_csv"),
    ({"file": "whatsapp_id\n5511987654321\n", "data": {"mapping": "not json"}}, "invalid_mapping"),
    ({"file": "phone\n5511987654321\n"}, "invalid_mapping"),
    ({"file": "phone\n5511987654321\n", "data": {"mapping": '{"tel": "whatsapp_id"}'}}, "invalid_mapping"),
    ({"file": b"whatsapp_id,name\n5511987654321,Jo\xe3o\n"}, "invalid_csv"),
    ({"file": "whatsapp_id\n"}, "invalid_csv"),
])
async def test_bad_uploads_are_422_in_the_error_shape(client: httpx.AsyncClient, send: dict[str, Any],
                                                      code: str) -> None:
    account = await register(client)
    kwargs: dict[str, Any] = {k: v for k, v in send.items() if k != "file"}
    if "file" in send:
        body = send["file"].encode() if isinstance(send["file"], str) else send["file"]
        kwargs["files"] = {"file": ("c.csv", body, "text/csv")}
    response = await client.post(IMPORTS, headers=account.headers, **kwargs)
    body = assert_error_shape(response, 422, code)
    assert body["errors"] and body["errors"][0]["type"] == code


async def test_viewers_export_but_may_not_import(client: httpx.AsyncClient, worker: None) -> None:
    admin = await register(client)
    viewer = await add_member(client, admin, "viewer")
    agent = await add_member(client, admin, "agent")
    assert_error_shape(await upload(client, viewer, "whatsapp_id\n5511987654321\n"), 403, "permission_denied")
    done = await imported(client, agent, f"whatsapp_id\n{random_wa_id()}\n")
    assert done["created"] == 1
    seen = await client.get(f"{IMPORTS}/{done['id']}", headers=viewer.headers)
    assert seen.status_code == 200
    assert len(await export(client, viewer)) == 1
    assert (await client.get(EXPORT)).status_code == 401


async def test_export_streams_what_was_imported_and_imports_back_unchanged(client: httpx.AsyncClient,
                                                                          worker: None) -> None:
    account = await register(client)
    wa = numbers()
    await imported(client, account, spreadsheet(wa), mapping=json.dumps(MAPPING))
    await client.post(f"{API}/contacts", headers=account.headers, json={
        "whatsapp_id": wa[5], "name": "=cmd|' /C calc'!A0", "tags": ["Vip"], "attributes": {"n": 1, "deep": [1]}})
    rows = await export(client, account)
    assert list(rows[0]) == ["whatsapp_id", "name", "email", "tags", "attributes"]
    by_number = {r["whatsapp_id"]: r for r in rows}
    assert set(by_number) == {wa[0], wa[1], wa[4], wa[5]}
    assert by_number[wa[0]] == {"whatsapp_id": wa[0], "name": "Silva; Ana", "email": "ana@example.com",
                                "tags": "vip|lead", "attributes": '{"city":"Recife"}'}
    assert by_number[wa[5]]["name"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert json.loads(by_number[wa[5]]["attributes"]) == {"n": 1, "deep": [1]}
    vip = [r["whatsapp_id"] for r in await export(client, account, tag="VIP")]
    assert vip[0] == wa[5] and sorted(vip[1:]) == sorted([wa[0], wa[1]])  # newest first (one batch: one time)
    assert sorted(r["whatsapp_id"] for r in await export(client, account, query="silva")) == sorted([wa[0], wa[4]])

    text = (await client.get(EXPORT, headers=account.headers)).content
    again = await imported(client, account, text, mode="upsert")
    assert (again["rows_total"], again["created"], again["updated"], again["unchanged"], again["failed"]) == (
        4, 0, 0, 4, 0)


async def test_another_organization_never_sees_an_import_or_export(client: httpx.AsyncClient,
                                                                   worker: None) -> None:
    owner, stranger = await register(client), await register(client)
    done = await imported(client, owner, f"whatsapp_id,tags\n{random_wa_id()},vip\n")
    for method, path in (("GET", f"{IMPORTS}/{done['id']}"), ("POST", f"{IMPORTS}/{done['id']}/retry")):
        assert_error_shape(await client.request(method, path, headers=stranger.headers), 404,
                           "contact_import_not_found")
    assert (await client.get(IMPORTS, headers=stranger.headers)).json() == []
    assert await export(client, stranger) == [] and await export(client, stranger, tag="vip") == []
    assert len(await export(client, owner, tag="vip")) == 1
    assert_error_shape(await client.post(f"{IMPORTS}/{done['id']}/retry", headers=owner.headers), 409,
                       "import_not_failed")
    assert_error_shape(await client.get(f"{IMPORTS}/{uuid.uuid4()}", headers=owner.headers), 404)


async def test_a_super_admin_imports_and_exports_in_the_organization_it_names(
        client: httpx.AsyncClient, database_url: str, worker: None) -> None:
    owner = await register(client)
    root = await login_as(client, await insert_superadmin(database_url))
    acting = {**root.headers, "X-Organization-ID": owner.organization_id}
    number = random_wa_id()
    response = await client.post(IMPORTS, headers=acting, files={"file": ("c.csv", f"whatsapp_id\n{number}\n".encode(),
                                                                         "text/csv")})
    assert response.status_code == 202, response.text
    done = await finished(client, owner, response.json()["import_id"])  # the owner sees it: it is theirs
    assert (done["created"], done["organization_id"]) == (1, owner.organization_id)
    exported = await client.get(EXPORT, headers=acting)
    assert exported.status_code == 200 and number in exported.text
    assert number not in (await client.get(EXPORT, headers=root.headers)).text  # its own organization


async def test_the_literal_paths_are_not_contact_ids(client: httpx.AsyncClient) -> None:
    account = await register(client)
    for method, path, allow in (("PUT", EXPORT, "GET"), ("DELETE", EXPORT, "GET"), ("PUT", IMPORTS, "GET, POST"),
                                ("DELETE", IMPORTS, "GET, POST")):
        response = await client.request(method, path, headers=account.headers)
        assert_error_shape(response, 405, "method_not_allowed")
        assert response.headers["allow"] == allow
    assert_error_shape(await client.get(f"{API}/contacts/not-a-uuid", headers=account.headers), 422)


async def test_an_automation_from_a_tag_or_query_audience(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                                          worker: None) -> None:
    from tests.e2e.flows_support import edge, node, publish

    org = await org_with_number(client, fake_graph)
    wa = numbers()
    await imported(client, org.admin, spreadsheet(wa), mapping=json.dumps(MAPPING))
    [bia] = (await client.get(f"{API}/contacts", headers=org.headers, params={"query": wa[1]})).json()
    await client.put(f"{API}/contacts/{bia['id']}", headers=org.headers, json={"opted_out": True})
    flow = await publish(client, org, [node("start", "start"), node("hi", "message", text="Oi")],  # type: ignore[arg-type]
                         [edge("start", "hi")], None, name=f"Campaign {uuid.uuid4().hex[:6]}")

    async def create(contacts: Any) -> httpx.Response:
        return await client.post(f"{API}/flow-automations", headers=org.headers, json={
            "flow_id": flow["id"], "contacts": contacts, "config": {"template": TEMPLATE}})

    by_tag = await create({"tag": "VIP"})
    assert by_tag.status_code == 201, by_tag.text
    automation = by_tag.json()
    assert automation["total_contacts"] == 2 and automation["config"]["audience"] == {"tag": "VIP"}
    stats = (await client.get(f"{API}/flow-automations/{automation['id']}/stats", headers=org.headers)).json()
    assert (stats["total"], stats["pending"], stats["skipped"]) == (2, 1, 1)  # Bia opted out
    recipients = (await client.get(f"{API}/flow-automations/{automation['id']}/recipients",
                                   headers=org.headers)).json()
    assert sorted(r["whatsapp_id"] for r in recipients) == sorted([wa[0], wa[1]])

    by_query = await create({"query": "silva", "tag": "newsletter"})
    assert by_query.status_code == 201 and by_query.json()["total_contacts"] == 1
    assert_error_shape(await create({"tag": "nobody"}), 422, "invalid_value")
    assert_error_shape(await create({}), 422, "validation_error")
    listed = await create([{"whatsapp_id": wa[0]}])  # the list form is unchanged
    assert listed.status_code == 201 and listed.json()["total_contacts"] == 1
