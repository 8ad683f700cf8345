"""An attacked session against the real processes (uvicorn serving the API, ``python -m entrypoints.worker.main``)
leaves none of its planted canaries in their logs (issue #11 item 6).

The canaries: a phone number and an email in requests that fail at the database (a planted trigger raises, so
SQLAlchemy's error carries the statement and, unless hidden, its parameters), a ``Bearer`` value and a password
written into a flow's nodes (in a flow whose insert fails and in a published one), a user's password (sign-in
attempts, right and wrong), a vault secret a flow resolves into the URL of a call that fails, and a Meta-style
token (the WhatsApp number's access token, and a forged API credential). The whole captured output of both
processes is searched for every canary, in any letter case.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from entrypoints.config import Settings
from tests.conftest import APP_SECRET
from tests.e2e.fault_support import ApiProcess
from tests.e2e.flows_support import API, edge, node, publish, wait_sent
from tests.e2e.flows_support import Org as FlowOrg
from tests.e2e.support import plain_dsn
from tests.e2e.whatsapp_support import WorkerProcess, org_with_number, process_env
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import PASSWORD, login, unique_email

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _canaries() -> dict[str, str]:
    tag = uuid.uuid4().hex[:12]
    return {"phone": f"5511{random.randint(10**8, 10**9 - 1)}", "email": f"canary.{tag}@leak.example",
            "bearer": f"bearercanary{tag}", "password": f"Pw-canary-{tag}!", "secret": f"secretcanary{tag}",
            "token": f"EAA{tag}CanaryToken{tag}", "flow": f"leak-{tag}"}


async def _plant_failures(database_url: str, c: dict[str, str]) -> str:
    """Triggers that make the database refuse the canary contact and flow (a failure the API cannot foresee)."""
    name = f"canary_{c['flow'].removeprefix('leak-')}"
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await connection.execute(f"""
            CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF to_jsonb(NEW)->>'email' = '{c['email']}' OR to_jsonb(NEW)->>'name' = '{c['flow']}' THEN
                RAISE EXCEPTION 'planted failure';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER {name} BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION {name}();
            CREATE TRIGGER {name} BEFORE INSERT ON flows FOR EACH ROW EXECUTE FUNCTION {name}();""")
    finally:
        await connection.close()
    return name


async def _remove_failures(database_url: str, name: str) -> None:
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await connection.execute(f"DROP TRIGGER IF EXISTS {name} ON contacts; DROP TRIGGER IF EXISTS {name} ON flows;"
                                 f"DROP FUNCTION IF EXISTS {name}()")
    finally:
        await connection.close()


async def _number_with_token(client: httpx.AsyncClient, fake_graph: FakeGraphServer, token: str) -> FlowOrg:
    org = await org_with_number(client, fake_graph, token=token)
    return FlowOrg(admin=org.admin, phone_number_id=org.phone_number_id, number_id=org.number["id"])


async def _attack(client: httpx.AsyncClient, fake_graph: FakeGraphServer, c: dict[str, str]) -> None:
    org = await _number_with_token(client, fake_graph, c["token"])
    headers = org.admin.headers
    # a teammate with the canary password; sign-in attempts with it, wrong and right
    email = unique_email("canary")
    created = await client.post(f"{API}/users", headers=headers, json={
        "email": email, "name": "Teammate", "role": "agent", "password": c["password"]})
    assert created.status_code == 201, created.text
    wrong = await client.post(f"{API}/auth/login", json={"email": email, "password": c["password"] + "x"})
    assert wrong.status_code == 401
    await login(client, email, c["password"])
    # a forged credential
    forged = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {c['token']}"})
    assert forged.status_code == 401
    # requests that fail at the database: a contact, and a flow carrying a Bearer value and a password
    contact = await client.post(f"{API}/contacts", headers=headers, json={
        "whatsapp_id": c["phone"], "email": c["email"], "name": "Canary Contact"})
    assert contact.status_code == 500, contact.text
    assert c["phone"] not in contact.text and c["email"] not in contact.text
    leaky = [node("s", "start"), node("h", "http_request", method="POST", url="https://api.example.com/x",
                                      headers={"Authorization": f"Bearer {c['bearer']}"},
                                      body={"password": c["password"]})]
    flow = await client.post(f"{API}/flows", headers=headers, json={"name": c["flow"], "nodes": leaky})
    assert flow.status_code == 500, flow.text
    # a published flow that resolves the canary secret into a failing URL, sending the Bearer header
    secret = await client.post(f"{API}/secrets/", headers=headers, json={"key": "HOST", "value": c["secret"]})
    assert secret.status_code == 201, secret.text
    nodes = [node("s", "start"),
             node("h", "http_request", method="POST", url="https://{{secret:HOST}}.invalid/x?password=" + c["password"],
                  headers={"Authorization": f"Bearer {c['bearer']}", "X-Key": "{{secret:HOST}}"},
                  body={"password": c["password"], "token": c["token"]}, timeout_seconds=3),
             node("h2", "http_request", method="POST", url="http://127.0.0.1:1/{{secret:HOST}}",
                  headers={"Authorization": "Bearer {{secret:HOST}}"}, timeout_seconds=3),
             node("end", "end", text="done: {{http_error}}")]
    edges = [edge("s", "h"), edge("h", "h2", "error"), edge("h", "h2", "success"), edge("h2", "end", "error"),
             edge("h2", "end", "success")]
    await publish(client, org, nodes, edges, {"type": "default"})
    wa_id = f"5521{random.randint(10**8, 10**9 - 1)}"
    payload = builders.inbound_text(org.phone_number_id, wa_id, f"hello, my password is {c['password']}")
    body = builders.webhook_body(payload)
    delivered = await client.post(f"{API}/whatsapp/webhook", content=body, headers={
        "X-Hub-Signature-256": builders.sign(APP_SECRET, body), "content-type": "application/json"})
    assert delivered.status_code == 200, delivered.text
    [shown] = await wait_sent(fake_graph, org, wa_id, 1, timeout=30)
    assert shown.startswith("done: ") and c["secret"] not in shown


async def test_an_attacked_session_leaves_no_canary_in_either_process_log(
        tmp_path: Path, test_settings: Settings, database_url: str, fake_graph: FakeGraphServer) -> None:
    canaries = _canaries()
    env = process_env(test_settings, database_url, FLOW_HTTP_ALLOWED_PRIVATE_HOSTS="127.0.0.1")
    trigger = await _plant_failures(database_url, canaries)
    api = ApiProcess(env, tmp_path / "api.log").start()
    worker = WorkerProcess(test_settings, database_url, tmp_path / "worker.log",
                           FLOW_HTTP_ALLOWED_PRIVATE_HOSTS="127.0.0.1").start()
    try:
        await api.wait_ready()
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
            await _attack(client, fake_graph, canaries)
        await asyncio.sleep(0.5)  # the last log lines
    finally:
        api.stop()
        worker.stop()
        await _remove_failures(database_url, trigger)
    logs = {"api": (tmp_path / "api.log").read_text(errors="replace"),
            "worker": (tmp_path / "worker.log").read_text(errors="replace")}
    assert "unhandled_error" in logs["api"] and "planted failure" in logs["api"]  # the failures were logged ...
    assert "flow.http_failed" in logs["worker"]  # ... and so were the failed calls
    leaks: dict[str, Any] = {}
    for process, text in logs.items():
        for name, canary in canaries.items():
            if name != "flow" and canary.lower() in text.lower():
                at = text.lower().index(canary.lower())
                leaks[f"{process}:{name}"] = text[max(0, at - 200):at + 80]
    assert not leaks, leaks
    assert PASSWORD not in logs["api"]
