"""Flow use cases on the in-memory fakes: CRUD and publishing, the runtime, triggers, worker jobs, simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.authorization import Actor
from application.jobs import FlowHttp, FlowTimer
from application.messaging.outbound import OUTBOX_TOPIC
from application.messaging.routing import InboundOutcome
from application.ports.flows import HttpCallError, HttpResponseData
from application.use_cases.flows.create_flow import CreateFlowCommand
from application.use_cases.flows.inbound import triggered_flow
from application.use_cases.flows.simulate import SimulateCommand, SimulatedMessage
from application.use_cases.flows.update_flow import UpdateFlowCommand
from application.use_cases.vault.secret_lookup import SecretLookup
from domain.channel import Message
from domain.conversations import ConversationState
from domain.errors import InvalidValue, PermissionDenied
from domain.flows import ExecutionStatus, FlowInvalid
from domain.flows.records import FlowInUse, FlowNotActive, FlowNotFound, FlowTrigger
from domain.identity import Role
from domain.messaging import InboundMessage, InboundMessageType, MessageDirection
from domain.vault import SecretUnavailable
from tests.bootstrap import bootstrap_test_app
from tests.fake_uow import FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.fakes_flows import ScriptedHttpCaller, seed_channel

ORG = uuid4()


def actor(role: Role = Role.ORG_ADMIN, org: UUID = ORG) -> Actor:
    return Actor(user_id=uuid4(), organization_id=org, role=role, session_id=uuid4(), jti="j",
                 token_expires_at=T0 + timedelta(hours=1))


def node(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": data}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    return {"id": f"{source}-{target}-{handle}", "source": source, "target": target, "sourceHandle": handle}


ASK = [node("start", "start"), node("ask", "question", text="Age?", variable="age", validation="number",
                                    retry_message="A number please", timeout_seconds=60),
       node("wait", "delay", seconds=30), node("bye", "message", text="Bye {{contact.name}}, {{age}}")]
ASK_EDGES = [edge("start", "ask"), edge("ask", "wait"), edge("wait", "bye")]


def inbound_event(text: str | None, reply_id: str | None, wa_id: str, at: Any) -> InboundMessage:
    return InboundMessage(phone_number_id="100", display_phone_number="15550001111", wamid=f"wamid.{uuid4()}",
                          from_wa_id=wa_id, from_user_id=None, profile_name=None, timestamp=at,
                          type=InboundMessageType.TEXT, text=text, reply_id=reply_id)


class World:
    def __init__(self) -> None:
        self.uow, self.clock = FakeUnitOfWorkFactory(), FakeClock()
        self.number, self.contact = seed_channel(self.uow, ORG, T0)
        self.app = bootstrap_test_app(uow=self.uow, clock=self.clock, flow_execution_ttl_hours=1)
        self.runtime = self.app.flow_runtime
        self.router = self.app.inbound_router

    def http_call(self, caller: Any, secrets: Any) -> Any:
        """The container's RunFlowHttpCall on this world's runtime, with this HTTP caller and secret lookup."""
        return bootstrap_test_app(uow=self.uow, clock=self.clock, flow_runtime=self.runtime,
                                  flow_http_caller=caller, flow_secret_lookup=secrets).run_flow_http_call

    async def flow(self, nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
                   trigger: dict[str, Any] | None = None, status: str = "active") -> UUID:
        view = await self.app.create_flow.execute(actor(), CreateFlowCommand(
            name="F", nodes=nodes, edges=edges, trigger=trigger))
        await self.app.update_flow.execute(actor(), UpdateFlowCommand(
            flow_id=view.flow.id, status=status))
        return view.flow.id

    async def inbound(self, text: str | None, reply_id: str | None = None) -> InboundOutcome:
        """What the webhook processor does with a new inbound message of the contact: route it."""
        message = Message(id=uuid4(), organization_id=ORG, number_id=self.number.id, contact_id=self.contact.id,
                          direction=MessageDirection.INBOUND, type="text", content={"text": text}, status="received",
                          occurred_at=self.clock.now(), created_at=self.clock.now(), updated_at=self.clock.now())
        event = inbound_event(text, reply_id, self.contact.whatsapp_id, self.clock.now())
        async with self.uow(ORG) as uow:
            conversations = await uow.conversations.record_inbound_many(
                [(self.number.id, self.contact.id, self.clock.now(), 1)], self.clock.now())
            batch = await self.router.prepare(uow, conversations)
            outcome = await self.router.route(uow, batch, self.number, self.contact, message, event,
                                              self.clock.now())
            await uow.commit()
        return outcome

    def sent_texts(self) -> list[Any]:
        """What the flows queued for the contact, in the order the sender sends it."""
        return [m.content for m in self.uow.store.messages.values()]

    def conversation(self) -> Any:
        [found] = [c for c in self.uow.store.conversations.values()
                   if (c.number_id, c.contact_id) == (self.number.id, self.contact.id)]
        return found

    def execution(self) -> Any:
        [execution] = self.uow.store.executions.values()
        return execution


# --------------------------------------------------------------------------- CRUD and publishing


async def test_create_is_a_draft_and_only_admins_write() -> None:
    w = World()
    view = await w.app.create_flow.execute(actor(), CreateFlowCommand(
        name="  Welcome ", nodes=[node("x", "nonsense")], trigger={"type": "keyword", "keywords": ["Hi", "hi", "x"]}))
    assert view.flow.name == "Welcome" and view.flow.status.value == "draft" and view.flow.published_version is None
    assert view.flow.trigger == FlowTrigger.parse({"type": "keyword", "keywords": ["Hi", "x"]})
    for role in (Role.VIEWER, Role.AGENT):
        with pytest.raises(PermissionDenied):
            await w.app.create_flow.execute(actor(role), CreateFlowCommand(name="x"))
        with pytest.raises(PermissionDenied):
            await w.app.delete_flow.execute(actor(role), view.flow.id)
    with pytest.raises(InvalidValue):
        await w.app.create_flow.execute(actor(), CreateFlowCommand(name="x", trigger={"type": "?"}))
    assert (await w.app.get_flow.execute(actor(Role.VIEWER), view.flow.id)).flow.name == "Welcome"
    with pytest.raises(FlowNotFound):
        await w.app.get_flow.execute(actor(org=uuid4()), view.flow.id)


async def test_publishing_validates_and_versions_only_on_change() -> None:
    w = World()
    update = w.app.update_flow
    view = await w.app.create_flow.execute(actor(), CreateFlowCommand(
        name="F", nodes=[node("s", "start"), node("q", "question", text="?"), node("g", "goto_flow",
                                                                                   flow_id=str(uuid4()))],
        edges=[edge("s", "q"), edge("q", "g")]))
    with pytest.raises(FlowInvalid) as invalid:
        await update.execute(actor(), UpdateFlowCommand(flow_id=view.flow.id, status="active"))
    assert {(p.node_id, p.problem) for p in invalid.value.problems} == {
        ("q", "'variable' is required"), ("g", "goto_flow target flow does not exist")}
    assert w.uow.store.flows[view.flow.id].status.value == "draft"  # nothing kept
    fixed = await update.execute(actor(), UpdateFlowCommand(flow_id=view.flow.id, status="active",
                                                            nodes=ASK, edges=ASK_EDGES))
    assert fixed.flow.published_version == 1
    same = await update.execute(actor(), UpdateFlowCommand(flow_id=view.flow.id, name="Renamed"))
    assert same.flow.published_version == 1
    edited = await update.execute(actor(), UpdateFlowCommand(flow_id=view.flow.id, nodes=ASK[:2], edges=ASK_EDGES[:1]))
    assert edited.flow.published_version == 2 and set(w.uow.store.versions) == {(view.flow.id, 1), (view.flow.id, 2)}
    draft = await update.execute(actor(), UpdateFlowCommand(flow_id=view.flow.id, status="draft", nodes=[]))
    assert draft.flow.published_version == 2 and draft.flow.status.value == "draft"  # drafts are not validated
    listed, total = await w.app.list_flows.execute(actor(Role.VIEWER), limit=10, offset=0)
    assert total == 1 and listed[0].stats is None


async def test_delete_refused_while_running_unless_archived() -> None:
    w = World()
    flow_id = await w.flow(ASK, ASK_EDGES, {"type": "default"})
    await w.inbound("hi")
    with pytest.raises(FlowInUse):
        await w.app.delete_flow.execute(actor(), flow_id)
    await w.app.update_flow.execute(actor(), UpdateFlowCommand(flow_id=flow_id, status="archived"))
    await w.app.delete_flow.execute(actor(), flow_id)
    assert w.uow.store.flows == {} and w.uow.store.executions == {}
    with pytest.raises(FlowNotFound):
        await w.app.delete_flow.execute(actor(), flow_id)


# --------------------------------------------------------------------------- runtime, triggers, jobs


async def test_default_trigger_question_retry_timer_and_stats() -> None:
    w = World()
    flow_id = await w.flow(ASK, ASK_EDGES, {"type": "default"})
    await w.inbound("hello")
    assert w.sent_texts() == [{"text": "Age?"}]
    timers = w.uow.store.jobs.pending(FlowTimer.entrypoint)
    assert [j.delay for j in timers] == [timedelta(seconds=60)]  # the question's timeout
    await w.inbound("abc")
    assert w.sent_texts()[-1] == {"text": "A number please"}
    w.clock.advance(seconds=5)
    await w.inbound("41")
    execution = w.execution()
    assert execution.status is ExecutionStatus.WAITING and execution.variables == {"age": 41}
    delay = w.uow.store.jobs.pending(FlowTimer.entrypoint)[-1]
    assert delay.delay == timedelta(seconds=30) and delay.payload["timer_id"] == execution.state.pending_timer_id
    events = w.app.deliver_flow_event
    assert not await events.timer(ORG, execution.id, timers[0].payload["timer_id"])  # stale: ignored
    w.clock.advance(seconds=30)
    assert await events.timer(ORG, execution.id, delay.payload["timer_id"])
    assert w.sent_texts()[-1] == {"text": "Bye Ana, 41"}
    assert w.execution().status is ExecutionStatus.COMPLETED
    stats = (await w.app.get_flow.execute(actor(), flow_id)).stats
    assert stats is not None and (stats.total, stats.success_rate, stats.avg_duration_ms) == (1, 1.0, 35_000.0)
    executions, total = await w.app.list_flow_executions.execute(actor(), flow_id, limit=5, offset=0)
    assert total == 1 and executions[0].path == ("start", "ask", "wait", "bye")


async def test_messages_of_one_event_are_queued_in_order_for_the_sender() -> None:
    w = World()
    nodes = [node("s", "start"), node("a", "message", text="one"), node("b", "message", text="two"),
             node("c", "buttons", text="three", buttons=[{"id": "x", "title": "X"}]),
             node("t", "template", name="promo", language="pt_BR", parameters=["{{contact.name}}"])]
    await w.flow(nodes, [edge("s", "a"), edge("a", "b"), edge("b", "t"), edge("t", "c")], {"type": "default"})
    assert await w.inbound("hi") is InboundOutcome.FLOW
    assert set(w.uow.store.jobs.wakes) == {(OUTBOX_TOPIC, f"{ORG}:{w.number.id}")}  # the sender is woken
    assert w.sent_texts() == [
        {"text": "one"}, {"text": "two"},
        {"template": {"name": "promo", "language": "pt_BR", "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}},
        {"text": "three", "buttons": [{"id": "x", "title": "X"}]}]
    assert {m.source for m in w.uow.store.messages.values()} == {"flow"}


async def test_keyword_beats_default_and_archived_flows_never_start() -> None:
    w = World()
    default = await w.flow([node("s", "start"), node("m", "message", text="default")], [edge("s", "m")],
                           {"type": "default"})
    await w.flow([node("s", "start"), node("m", "message", text="menu!")], [edge("s", "m")],
                 {"type": "keyword", "keywords": ["menu"]})
    await w.inbound("  MENU please")
    await w.inbound("something")
    assert w.sent_texts() == [{"text": "menu!"}, {"text": "default"}]
    await w.app.update_flow.execute(actor(), UpdateFlowCommand(flow_id=default, status="archived"))
    await w.inbound("something")
    assert len(w.sent_texts()) == 2
    assert triggered_flow([], "x") is None


async def test_handoff_silences_until_release() -> None:
    w = World()
    await w.flow([node("s", "start"), node("h", "handoff", text="A human will answer", reason="vip")],
                 [edge("s", "h")], {"type": "default"})
    await w.inbound("hi")
    assert w.execution().status is ExecutionStatus.HANDED_OFF
    handed = w.conversation()
    assert (handed.handoff_at, handed.state, handed.assignee_id) == (T0, ConversationState.WAITING, None)
    assert await w.inbound("hello?") is InboundOutcome.HUMAN
    assert w.sent_texts() == [{"text": "A human will answer"}]
    with pytest.raises(PermissionDenied):
        await w.app.release_conversation.execute(actor(Role.VIEWER), w.contact.id)
    assert await w.app.release_conversation.execute(actor(Role.AGENT), w.contact.id) == 1
    assert w.conversation().state is ConversationState.CLOSED
    await w.inbound("hi")  # closed -> bot: the default flow starts again, and hands off again
    assert w.conversation().state is ConversationState.WAITING
    assert len(w.sent_texts()) == 2 and len(w.uow.store.executions) == 2


async def test_start_refuses_inactive_flows_and_busy_contacts() -> None:
    w = World()
    draft = await w.flow(ASK, ASK_EDGES, status="draft")
    async with w.uow(ORG) as uow:
        with pytest.raises(FlowNotActive):
            await w.runtime.start(uow, flow_id=draft, number=w.number, contact=w.contact, variables={},
                                  trigger="automation", now=T0)
    active = await w.flow(ASK, ASK_EDGES)
    async with w.uow(ORG) as uow:
        first = await w.runtime.start(uow, flow_id=active, number=w.number, contact=w.contact,
                                      variables={"x": 1}, trigger="automation", automation_id=draft, now=T0)
        busy = await w.runtime.start(uow, flow_id=active, number=w.number, contact=w.contact, variables={},
                                     trigger="automation", now=T0)
        await uow.commit()
    assert first is not None and busy is None
    assert w.execution().automation_id == draft and w.execution().variables == {"x": 1}


async def test_goto_flow_chains_into_the_target_and_fails_on_a_missing_one() -> None:
    w = World()
    target = await w.flow([node("s", "start"), node("m", "message", text="in target {{from}}")], [edge("s", "m")])
    source = await w.flow([node("s", "start"), node("v", "set_variable", variable="from", value="A"),
                           node("g", "goto_flow", flow_id=str(target))],
                          [edge("s", "v"), edge("v", "g")], {"type": "default"})
    await w.inbound("hi")
    statuses = {e.flow_id: (e.status.value, e.trigger) for e in w.uow.store.executions.values()}
    assert statuses == {source: ("completed", "default"), target: ("completed", "goto_flow")}
    assert w.sent_texts() == [{"text": "in target A"}]
    await w.app.update_flow.execute(actor(), UpdateFlowCommand(flow_id=target, status="archived"))
    await w.inbound("again")
    failed = [e for e in w.uow.store.executions.values() if e.status is ExecutionStatus.FAILED]
    assert [e.fail_reason for e in failed] == ["goto_flow_target_unavailable"]


class StubSecrets(SecretLookup):
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    async def values(self, organization_id: UUID, keys: set[str]) -> dict[str, str]:
        missing = keys - set(self._values)
        if missing:
            raise SecretUnavailable(f"secret {sorted(missing)[0]!r} was not found in the vault")
        return {k: self._values[k] for k in keys}


HTTP_NODES = [node("s", "start"),
              node("h", "http_request", method="POST", url="https://api.example.com/o/{{contact.whatsapp_id}}",
                   headers={"Authorization": "Bearer {{secret:API_KEY}}"}, body={"name": "{{contact.name}}"},
                   save={"plan": "$.data.plan"}),
              node("ok", "message", text="Plan {{plan}}"), node("err", "message", text="Error {{http_error}}")]
HTTP_EDGES = [edge("s", "h"), edge("h", "ok", "success"), edge("h", "err", "error")]


@pytest.mark.parametrize(("answer", "expected"), [
    (HttpResponseData(status_code=200, body={"data": {"plan": "gold"}}), "Plan gold"),
    (HttpResponseData(status_code=500, body="boom"), "Error HTTP 500"),
    (HttpCallError("blocked", "host 'x' resolves to a non-public address"),
     "Error host 'x' resolves to a non-public address"),
])
async def test_http_job_resolves_secrets_calls_and_branches(answer: Any, expected: str) -> None:
    w = World()
    await w.flow(HTTP_NODES, HTTP_EDGES, {"type": "default"})
    await w.inbound("hi")
    [job] = w.uow.store.jobs.pending(FlowHttp.entrypoint)
    assert job.payload["call"]["headers"] == [[["Authorization"], ["Bearer ", {"secret": "API_KEY"}]]]  # never resolved
    assert job.payload["call"]["url"] == ["https://api.example.com/o/5511999990000"]
    assert job.payload["call"]["body"] == {"object": [[["name"], {"string": ["Ana"]}]]}
    caller = ScriptedHttpCaller(answer)
    run = w.http_call(caller, StubSecrets({"API_KEY": "k-1"}))
    assert await run.execute(FlowHttp.decode(job.payload))
    assert caller.calls[0]["headers"] == {"Authorization": "Bearer k-1"}
    assert w.sent_texts() == [{"text": expected}]
    assert not await run.execute(FlowHttp.decode(job.payload))  # a retried job: no-op
    assert "k-1" not in str(w.uow.store.executions)


async def test_http_job_with_a_missing_secret_takes_the_error_branch_without_calling() -> None:
    w = World()
    await w.flow(HTTP_NODES, HTTP_EDGES, {"type": "default"})
    await w.inbound("hi")
    [job] = w.uow.store.jobs.pending(FlowHttp.entrypoint)
    caller = ScriptedHttpCaller()
    run = w.http_call(caller, StubSecrets({}))
    await run.execute(FlowHttp.decode(job.payload))
    assert caller.calls == [] and w.sent_texts() == [{"text": "Error secret 'API_KEY' was not found in the vault"}]


async def test_http_job_resolves_secrets_everywhere_the_author_wrote_them() -> None:
    w = World()
    nodes = [node("s", "start"), node("h", "http_request", method="PUT", url="https://x/{{secret:A}}",
                                      headers={"{{secret:A}}": "{{secret:B}}"},
                                      body=[1, 2.5, True, None, "{{secret:C}}", {"{{secret:A}}": ["{{secret:B}}"]}])]
    await w.flow(nodes, [edge("s", "h")], {"type": "default"})
    await w.inbound("hi")
    [job] = w.uow.store.jobs.pending(FlowHttp.entrypoint)
    caller = ScriptedHttpCaller(HttpResponseData(status_code=204, body=""))
    run = w.http_call(caller, StubSecrets({"A": "a", "B": "b", "C": "c"}))
    await run.execute(FlowHttp.decode(job.payload))
    assert caller.calls == [{"method": "PUT", "url": "https://x/a", "headers": {"a": "b"},
                             "body": [1, 2.5, True, None, "c", {"a": ["b"]}], "timeout_seconds": 10.0}]


async def test_http_job_of_an_unknown_format_is_not_sent() -> None:
    w = World()
    await w.flow(HTTP_NODES, HTTP_EDGES, {"type": "default"})
    await w.inbound("hi")
    [job] = w.uow.store.jobs.pending(FlowHttp.entrypoint)
    queued = FlowHttp.decode(job.payload)
    old = FlowHttp(organization_id=queued.organization_id, execution_id=queued.execution_id, call={  # older shape
        **queued.call, "url": "https://api.example.com/{{secret:API_KEY}}", "headers": {}})
    caller = ScriptedHttpCaller()
    run = w.http_call(caller, StubSecrets({"API_KEY": "k-1"}))
    await run.execute(old)
    assert caller.calls == []
    assert w.sent_texts() == [{"text": "Error the queued HTTP request could not be read; it was not sent"}]


async def test_expiry_sweep() -> None:
    w = World()
    await w.flow(ASK, ASK_EDGES, {"type": "default"})
    await w.inbound("hi")
    sweep = bootstrap_test_app(uow=w.uow, clock=w.clock,
                               arguments={"expire_flow_executions": {"batch_size": 1}}).expire_flow_executions
    assert await sweep.execute() == 0
    w.clock.advance(hours=2)
    assert await sweep.execute() == 1
    assert w.execution().status is ExecutionStatus.EXPIRED and w.execution().finished_at == w.clock.now()
    await w.inbound("42")  # expired: a new execution starts on the default trigger
    assert len(w.uow.store.executions) == 2


async def test_simulator_transcript() -> None:
    w = World()
    view = await w.app.create_flow.execute(actor(), CreateFlowCommand(
        name="S", nodes=ASK, edges=ASK_EDGES))
    result = await w.app.simulate_flow.execute(actor(Role.VIEWER), SimulateCommand(
        flow_id=view.flow.id, messages=[SimulatedMessage(text="x"), SimulatedMessage(text="7")]))
    assert result.transcript == [
        {"from": "bot", "kind": "text", "text": "Age?"}, {"from": "contact", "kind": "text", "text": "x"},
        {"from": "bot", "kind": "text", "text": "A number please"}, {"from": "contact", "kind": "text", "text": "7"},
        {"from": "bot", "kind": "text", "text": "Bye Test Contact, 7"}]
    assert result.state.status is ExecutionStatus.COMPLETED and w.uow.store.messages == {}


async def test_secret_lookup_prefers_production_then_staging_then_development_and_no_service() -> None:
    from domain.vault import Secret, SecretEnvironment, SecretKey, SecretService

    vault = FakeUnitOfWorkFactory()
    lookup = SecretLookup(uow=vault, resolve=None)  # type: ignore[arg-type]  # only the choice is tested

    def secret(env: SecretEnvironment, service: str | None = None, key: str = "API_KEY") -> Secret:
        made = Secret.create(id=uuid4(), organization_id=ORG, key=SecretKey(key), now=T0, environment=env,
                             service=SecretService(service) if service else None)
        vault.store.secrets[made.id] = made
        return made

    secret(SecretEnvironment.PRODUCTION, key="OTHER")
    development = secret(SecretEnvironment.DEVELOPMENT)
    assert await lookup._secret_id(ORG, "API_KEY") == development.id
    staging = secret(SecretEnvironment.STAGING)
    assert await lookup._secret_id(ORG, "API_KEY") == staging.id
    secret(SecretEnvironment.PRODUCTION, service="billing")
    plain = secret(SecretEnvironment.PRODUCTION)
    assert await lookup._secret_id(ORG, "API_KEY") == plain.id
    assert await lookup._secret_id(ORG, "MISSING") is None
    assert await lookup._secret_id(uuid4(), "API_KEY") is None
