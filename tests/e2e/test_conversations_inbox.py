"""The agents' inbox over HTTP with the real worker: a flow hands a contact off through a real inbound webhook
(-> waiting), an agent takes it, replies, closes it (the bot answers again); an agent's reply takes a waiting
conversation; unread counts, read, the thread's keyset pages; the roles matrix; tenancy on every endpoint."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.flows_support import API, Org, edge, node, org_with_number, publish, say, wait_sent
from tests.e2e.support import create_user, login_as, parse_time
from tests.e2e.whatsapp_support import random_wa_id, wait_until
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import Account, assert_error_shape

pytestmark = pytest.mark.e2e

INBOX = f"{API}/conversations"
ITEM_FIELDS = {"id", "contact", "number", "last_message", "unread_count", "state", "assignee", "window_expires_at",
               "last_message_at", "last_inbound_at", "last_read_at", "handoff_at", "created_at", "updated_at"}


async def handoff_flow(client: httpx.AsyncClient, org: Org) -> None:
    await publish(client, org, [node("start", "start"), node("agent", "handoff", text="An agent will help you.")],
                  [edge("start", "agent")], {"type": "default"})


async def conversations(client: httpx.AsyncClient, who: Account, **params: Any) -> tuple[list[dict[str, Any]], int]:
    response = await client.get(INBOX, headers=who.headers, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()), int(response.headers["X-Total-Count"])


async def conversation_of(client: httpx.AsyncClient, who: Account, wa_id: str, **expect: Any) -> dict[str, Any]:
    """The contact's conversation once it shows what ``expect`` says (the worker applies webhooks a moment
    after the 200)."""
    async def probe() -> dict[str, Any] | None:
        found, _ = await conversations(client, who, query=wa_id)
        if found and all(found[0].get(k) == v for k, v in expect.items()):
            return found[0]
        return None
    return await wait_until(probe, timeout=15, what=f"conversation of {wa_id} with {expect}")


async def act(client: httpx.AsyncClient, who: Account, conversation_id: str, action: str,
              body: dict[str, Any] | None = None) -> httpx.Response:
    return await client.post(f"{INBOX}/{conversation_id}/{action}", headers=who.headers, json=body)


async def staff(client: httpx.AsyncClient, org: Org, role: str) -> Account:
    made = await create_user(client, org.admin, role)
    return await login_as(client, made["email"])


async def test_an_agents_day(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    await handoff_flow(client, org)
    agent = await staff(client, org, "agent")
    wa = random_wa_id()
    await say(client, org, wa, "I need a human")
    assert await wait_sent(fake_graph, org, wa, 1) == ["An agent will help you."]

    waiting = await conversation_of(client, agent, wa, state="waiting")
    assert set(waiting) == ITEM_FIELDS
    assert waiting["contact"]["whatsapp_id"] == wa and waiting["contact"]["name"] == "Test User"
    assert waiting["number"]["id"] == org.number_id and waiting["number"]["phone_number"]
    assert waiting["unread_count"] == 1 and waiting["assignee"] is None
    assert parse_time(waiting["window_expires_at"]) == parse_time(waiting["last_inbound_at"]) + timedelta(hours=24)
    preview = waiting["last_message"]
    assert preview is not None and preview["occurred_at"]
    assert (preview["direction"], preview["text"]) in {("outbound", "An agent will help you."),
                                                        ("inbound", "I need a human")}
    found, total = await conversations(client, agent, state="waiting", assigned_to="unassigned")
    assert total == 1 and found[0]["id"] == waiting["id"]

    taken = await act(client, agent, waiting["id"], "assign", {"user_id": agent.user["id"]})
    assert taken.status_code == 200, taken.text
    assert taken.json()["state"] == "assigned"
    assert taken.json()["assignee"] == {"id": agent.user["id"], "name": agent.user["name"]}
    mine, _ = await conversations(client, agent, assigned_to="me")
    assert [c["id"] for c in mine] == [waiting["id"]]

    read = await act(client, agent, waiting["id"], "read")
    assert read.status_code == 200 and read.json()["unread_count"] == 0 and read.json()["last_read_at"]
    reply = await client.post(f"{API}/whatsapp/send", headers=agent.headers, json={"to": wa, "message": "Hi, Ana here"})
    assert reply.status_code == 202, reply.text
    assert (await wait_sent(fake_graph, org, wa, 2))[1] == "Hi, Ana here"
    await say(client, org, wa, "thanks!", timestamp=int(time.time()) + 1)  # Meta's clock has whole seconds
    answered = await conversation_of(client, agent, wa, unread_count=1)
    assert answered["state"] == "assigned"  # the bot stays silent while an agent has it
    thread = await client.get(f"{INBOX}/{waiting['id']}/messages", headers=agent.headers)
    assert thread.status_code == 200
    texts = [m["content"].get("text") for m in thread.json()]
    assert texts == ["thanks!", "Hi, Ana here", "An agent will help you.", "I need a human"]  # newest first
    times = [parse_time(m["occurred_at"]) for m in thread.json()]
    assert times == sorted(times, reverse=True)

    closed = await act(client, agent, waiting["id"], "close")
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["assignee"], closed.json()["handoff_at"]) == ("closed", None, None)
    await say(client, org, wa, "one more thing")
    assert (await wait_sent(fake_graph, org, wa, 3))[2] == "An agent will help you."  # the bot answered again
    await conversation_of(client, agent, wa, state="waiting")  # ... and handed off again


async def test_an_agents_reply_takes_a_waiting_conversation_and_release_closes(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    await handoff_flow(client, org)
    agent = await staff(client, org, "agent")
    wa = random_wa_id()
    await say(client, org, wa, "hello")
    waiting = await conversation_of(client, agent, wa, state="waiting")
    reply = await client.post(f"{API}/whatsapp/send", headers=agent.headers, json={"to": wa, "message": "On it"})
    assert reply.status_code == 202, reply.text
    one = await client.get(f"{INBOX}/{waiting['id']}", headers=agent.headers)
    assert one.status_code == 200
    assert one.json()["state"] == "assigned" and one.json()["assignee"]["id"] == agent.user["id"]
    assert parse_time(one.json()["last_message_at"]) > parse_time(waiting["last_message_at"])

    released = await client.post(f"{API}/contacts/{waiting['contact']['id']}/release", headers=agent.headers)
    assert released.status_code == 200 and released.json() == {"released": 1}
    after = await client.get(f"{INBOX}/{waiting['id']}", headers=agent.headers)
    assert (after.json()["state"], after.json()["assignee"]) == ("closed", None)


async def test_roles_matrix(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    await handoff_flow(client, org)
    agent, agent2, viewer = (await staff(client, org, "agent"), await staff(client, org, "agent"),
                             await staff(client, org, "viewer"))
    wa = random_wa_id()
    await say(client, org, wa, "help")
    cid = (await conversation_of(client, viewer, wa, state="waiting"))["id"]

    for path in ("", f"/{cid}", f"/{cid}/messages"):  # viewers read
        assert (await client.get(f"{INBOX}{path}", headers=viewer.headers)).status_code == 200
    for action, body in (("assign", {"user_id": viewer.user["id"]}), ("read", None), ("close", None)):
        assert_error_shape(await act(client, viewer, cid, action, body), 403, "permission_denied")

    assert_error_shape(await act(client, agent, cid, "assign", {"user_id": agent2.user["id"]}), 403,
                       "not_your_conversation")
    assert (await act(client, agent, cid, "assign", {"user_id": agent.user["id"]})).status_code == 200
    assert_error_shape(await act(client, agent2, cid, "assign", {"user_id": agent2.user["id"]}), 409,
                       "conversation_already_assigned")
    assert_error_shape(await act(client, agent2, cid, "assign", {"user_id": None}), 403, "not_your_conversation")
    let_go = await act(client, agent, cid, "assign", {"user_id": None})
    assert (let_go.status_code, let_go.json()["state"], let_go.json()["assignee"]) == (200, "waiting", None)

    given = await act(client, org.admin, cid, "assign", {"user_id": agent2.user["id"]})
    assert given.status_code == 200 and given.json()["assignee"]["id"] == agent2.user["id"]
    other = await org_with_number(client, fake_graph)
    for stranger in (other.admin.user["id"], viewer.user["id"], str(uuid.uuid4())):
        body = assert_error_shape(await act(client, org.admin, cid, "assign", {"user_id": stranger}), 422,
                                  "invalid_assignee")
        assert stranger not in str(body)
    assert_error_shape(await act(client, org.admin, cid, "assign", {"user_id": "nope"}), 422, "validation_error")
    assert_error_shape(await act(client, org.admin, cid, "assign", {}), 422, "validation_error")
    for params in ({"assigned_to": "someone"}, {"state": "open"}, {"limit": 0}):
        assert (await client.get(INBOX, headers=agent.headers, params=params)).status_code == 422
    bad_cursor = await client.get(f"{INBOX}/{cid}/messages", headers=agent.headers, params={"before": "zz"})
    assert_error_shape(bad_cursor, 422, "invalid_value")
    assert (await client.get(INBOX)).status_code == 401


async def test_tenancy_every_endpoint(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    theirs, mine = await org_with_number(client, fake_graph), await org_with_number(client, fake_graph)
    await handoff_flow(client, theirs)
    wa = random_wa_id()
    await say(client, theirs, wa, "private")
    cid = (await conversation_of(client, theirs.admin, wa, state="waiting"))["id"]

    for path in (f"/{cid}", f"/{cid}/messages"):
        assert_error_shape(await client.get(f"{INBOX}{path}", headers=mine.admin.headers), 404,
                           "conversation_not_found")
    for action, body in (("assign", {"user_id": mine.admin.user["id"]}), ("read", None), ("close", None)):
        assert_error_shape(await act(client, mine.admin, cid, action, body), 404, "conversation_not_found")
    for params in ({}, {"query": wa}, {"state": "waiting"}, {"number_id": theirs.number_id}):
        found, total = await conversations(client, mine.admin, **params)
        assert (found, total) == ([], 0)
    still = await client.get(f"{INBOX}/{cid}", headers=theirs.admin.headers)
    assert (still.json()["state"], still.json()["assignee"], still.json()["unread_count"]) == ("waiting", None, 1)
    assert_error_shape(await client.get(f"{INBOX}/{uuid.uuid4()}", headers=mine.admin.headers), 404,
                       "conversation_not_found")


async def test_thread_keyset_pages_over_http(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                            worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    wa = random_wa_id()
    for i in range(5):
        await say(client, org, wa, f"message {i}", timestamp=1_760_000_000 + i)
    conversation = await conversation_of(client, org.admin, wa, unread_count=5)
    assert conversation["state"] == "bot" and conversation["last_message"]["summary"] == "message 4"
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await client.get(f"{INBOX}/{conversation['id']}/messages", headers=org.admin.headers, params=params)
        assert page.status_code == 200, page.text
        seen += [m["content"]["text"] for m in page.json()]
        cursor = page.headers.get("X-Next-Cursor")
        if cursor is None:
            break
        params["before"] = cursor
    assert seen == [f"message {i}" for i in reversed(range(5))]
