"""Flows talking to a contact through the fake Graph server, with the real worker."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.flows_support import (
    API,
    deliver,
    edge,
    executions,
    node,
    org_with_number,
    publish,
    say,
    settle,
    tap,
    wait_execution,
    wait_sent,
)
from tests.e2e.support import parse_time
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer

pytestmark = pytest.mark.e2e

BUTTONS = [("sales", "Sales"), ("support", "Support")]


def survey(after_delay: str = "Thanks for waiting, {{contact.name}}!") -> tuple[list, list]:
    nodes = [
        node("start", "start"),
        node("ask", "question", text="How old are you?", variable="age", validation="number",
             retry_message="Please send a number.", max_retries=2),
        node("adult", "condition", rules=[{"variable": "age", "operator": "gt", "value": 17}]),
        node("welcome", "message", text="Welcome, {{contact.name}}! You are {{age}}."),
        node("pick", "buttons", text="How can we help?", variable="topic",
             buttons=[{"id": i, "title": t} for i, t in BUTTONS]),
        node("wait", "delay", seconds=1),
        node("after", "message", text=after_delay),
        node("agent", "handoff", text="An agent will help you."),
        node("minor", "end", text="Sorry, adults only."),
    ]
    edges = [edge("start", "ask"), edge("ask", "adult"), edge("adult", "welcome", "true"),
             edge("adult", "minor", "false"), edge("welcome", "pick"), edge("pick", "wait", "sales"),
             edge("pick", "agent", "support"), edge("wait", "after")]
    return nodes, edges


async def test_default_flow_question_retry_branch_buttons_delay_and_pinned_version(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    nodes, edges = survey()
    flow = await publish(client, org, nodes, edges, {"type": "default"})
    assert flow["status"] == "active" and flow["published_version"] == 1
    wa = "5511988880001"

    await say(client, org, wa, "hi")
    assert await wait_sent(fake_graph, org, wa, 1) == ["How old are you?"]

    wamid = builders.new_wamid()
    await say(client, org, wa, "abc", wamid=wamid, timestamp=1_700_000_000)
    await say(client, org, wa, "abc", wamid=wamid, timestamp=1_700_000_000)  # the same delivery again
    await say(client, org, wa, "abc", wamid=wamid, timestamp=1_700_000_001)  # another body, same message
    assert await wait_sent(fake_graph, org, wa, 2) == ["How old are you?", "Please send a number."]

    await say(client, org, wa, "30")
    assert (await wait_sent(fake_graph, org, wa, 4))[2:] == [
        "Welcome, Test User! You are 30.", ("How can we help?", BUTTONS)]
    assert await settle(fake_graph, org, wa, 0.5) == [
        "How old are you?", "Please send a number.", "Welcome, Test User! You are 30.", ("How can we help?", BUTTONS)]

    changed_nodes, changed_edges = survey(after_delay="Version two!")
    edited = await client.put(f"{API}/flows/{flow['id']}", headers=org.admin.headers,
                              json={"nodes": changed_nodes, "edges": changed_edges})
    assert edited.status_code == 200 and edited.json()["published_version"] == 2, edited.text

    tapped = time.monotonic()
    await tap(client, org, wa, "sales", "Sales")
    messages = await wait_sent(fake_graph, org, wa, 5)
    assert time.monotonic() - tapped >= 1.0
    assert messages[4] == "Thanks for waiting, Test User!"  # the execution kept its version 1

    [execution] = await wait_execution(client, org, flow["id"], "completed")
    assert execution["version"] == 1 and execution["trigger"] == "default"
    assert execution["path"] == ["start", "ask", "adult", "welcome", "pick", "wait", "after"]
    assert execution["variables"] == {"age": 30, "topic": "sales"}
    assert await settle(fake_graph, org, wa, 0.3) == messages[:5]


async def test_handoff_silences_the_bot_until_release(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                                      worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    nodes, edges = survey()
    flow = await publish(client, org, nodes, edges, {"type": "default"})
    wa = "5511988880002"
    await say(client, org, wa, "hi")
    await wait_sent(fake_graph, org, wa, 1)
    await say(client, org, wa, "40")
    await wait_sent(fake_graph, org, wa, 3)
    await tap(client, org, wa, "support", "Support")
    assert (await wait_sent(fake_graph, org, wa, 4))[3] == "An agent will help you."
    [execution] = await wait_execution(client, org, flow["id"], "handed_off")

    await say(client, org, wa, "hello? anyone?")
    assert len(await settle(fake_graph, org, wa, 1.0)) == 4  # the bot stays silent
    assert len(await executions(client, org, flow["id"])) == 1

    contact = (await client.get(f"{API}/contacts", headers=org.admin.headers, params={"query": wa})).json()[0]
    released = await client.post(f"{API}/contacts/{contact['id']}/release", headers=org.admin.headers)
    assert released.status_code == 200 and released.json() == {"released": 1}, released.text
    await say(client, org, wa, "hi again")
    assert (await wait_sent(fake_graph, org, wa, 5))[4] == "How old are you?"


async def test_stats_match_the_executions(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                          worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    nodes = [node("start", "start"),
             node("ask", "question", text="Your email?", variable="email", validation="email", max_retries=0),
             node("done", "end", text="Saved {{email}}.")]
    flow = await publish(client, org, nodes, [edge("start", "ask"), edge("ask", "done")],
                         {"type": "keyword", "keywords": ["signup"]})
    await say(client, org, "5511988880003", "Signup please")
    await wait_sent(fake_graph, org, "5511988880003", 1)
    await say(client, org, "5511988880003", "ana@example.com")
    assert (await wait_sent(fake_graph, org, "5511988880003", 2))[1] == "Saved ana@example.com."
    await say(client, org, "5511988880004", "SIGNUP")
    await wait_sent(fake_graph, org, "5511988880004", 1)
    await say(client, org, "5511988880004", "not an email")  # no retries, no invalid branch: fails
    await say(client, org, "5511988880005", "hello")  # no keyword, no default flow: nothing starts
    found = await wait_execution(client, org, flow["id"], "failed")
    assert sorted(e["status"] for e in found) == ["completed", "failed"]
    completed = next(e for e in found if e["status"] == "completed")
    duration_ms = (parse_time(completed["finished_at"]) - parse_time(completed["started_at"])).total_seconds() * 1000
    stats = (await client.get(f"{API}/flows/{flow['id']}", headers=org.admin.headers)).json()["stats"]
    assert stats["total_executions"] == 2 and stats["success_rate"] == 0.5
    assert stats["avg_duration_ms"] == pytest.approx(duration_ms, abs=1)
    drop = {d["node_id"]: d for d in stats["drop_off"]}
    assert drop["ask"] == {"node_id": "ask", "reached": 2, "waiting": 0, "dropped": 1}
    assert drop["done"]["reached"] == 1
    assert await settle(fake_graph, org, "5511988880005", 0.2) == []


async def test_inbound_duplicate_delivery_does_not_start_twice(client: httpx.AsyncClient,
                                                               fake_graph: FakeGraphServer, worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    flow = await publish(client, org, [node("start", "start"), node("hello", "message", text="Hello!")],
                         [edge("start", "hello")], {"type": "default"})
    payload = builders.inbound_text(org.phone_number_id, "5511988880006", "hi")
    await deliver(client, payload)
    await deliver(client, payload)
    assert await wait_sent(fake_graph, org, "5511988880006", 1) == ["Hello!"]
    assert await settle(fake_graph, org, "5511988880006", 0.8) == ["Hello!"]
    assert [e["status"] for e in await executions(client, org, flow["id"])] == ["completed"]
