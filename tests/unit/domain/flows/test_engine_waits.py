from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.flows import (
    CallHttp,
    ExecutionStatus,
    Fail,
    Finish,
    FlowGraph,
    HttpCallFinished,
    ScheduleTimer,
    SendText,
    TimerFired,
    WaitingFor,
)
from domain.flows.templates import JsonArray, JsonObject, SecretRef, Template

from .builders import NOW, edge, graph, linear, node, reply, start, step


def test_delay_schedules_a_timer_and_continues_when_it_fires() -> None:
    flow = linear(node("d", "delay", seconds=90), node("m", "message", text="later"))

    waiting, commands = start(flow)
    done, after = step(flow, waiting, TimerFired(timer_id="d:2"), NOW + timedelta(seconds=90))

    assert commands == (ScheduleTimer(timer_id="d:2", fire_at=NOW + timedelta(seconds=90)),)
    assert (waiting.waiting_for, waiting.pending_timer_id) == (WaitingFor.TIMER, "d:2")
    assert after == (SendText(text="later"), Finish())
    assert done.status is ExecutionStatus.COMPLETED and done.pending_timer_id is None


def test_reply_during_delay_is_ignored_and_stale_timer_too() -> None:
    flow = linear(node("d", "delay", seconds=90), node("m", "message", text="later"))
    waiting, _ = start(flow)

    assert step(flow, waiting, reply("are you there?")) == (waiting, ())
    assert step(flow, waiting, TimerFired(timer_id="d:1")) == (waiting, ())


def http_flow(with_error_edge: bool = True, **data: Any) -> FlowGraph:
    request = {
        "method": "post",
        "url": "https://api.example.com/orders/{{order_id}}?q={{query}}",
        "headers": {"Authorization": "Bearer {{secret:SHOP_TOKEN}}", "X-Name": "{{contact.name}}"},
        "body": {"phone": "{{contact.whatsapp_id}}", "items": ["{{order_id}}"]},
        "save": {"status": "data.status", "first_sku": "data.items[0].sku", "absent": "nope.nothing"},
        **data,
    }
    nodes = [
        node("start", "start"),
        node("h", "http_request", **request),
        node("ok", "end", text="Order {{status}} ({{first_sku}}) http={{http_status}}"),
        node("err", "end", text="Failed: {{http_status}} {{http_error}}"),
    ]
    edges = [edge("start", "h"), edge("h", "ok", "success")]
    if with_error_edge:
        edges.append(edge("h", "err", "error"))
    return graph(nodes, edges)


VARIABLES = {"order_id": "A 1", "query": "x&y"}


def test_http_request_emits_call_with_interpolated_values_and_secrets_apart() -> None:
    state, commands = start(http_flow(timeout_seconds=5), VARIABLES)

    assert commands == (
        CallHttp(
            call_id="h:2",
            method="POST",
            url=Template(("https://api.example.com/orders/A%201?q=x%26y",)),
            headers=(
                (Template(("Authorization",)), Template(("Bearer ", SecretRef("SHOP_TOKEN")))),
                (Template(("X-Name",)), Template(("Ana",))),
            ),
            body=JsonObject(
                (
                    (Template(("phone",)), Template(("5511999990000",))),
                    (Template(("items",)), JsonArray((Template(("A 1",)),))),
                )
            ),
            timeout_seconds=5,
        ),
    )
    assert commands[0].secret_keys == {"SHOP_TOKEN"}
    assert (state.waiting_for, state.pending_call_id) == (WaitingFor.HTTP, "h:2")


def test_http_string_body_that_looks_like_json_gets_escaped_values() -> None:
    flow = http_flow(body='{"note": "{{note}}"}', headers={"X": "a{{note}}"})

    call = start(flow, {"note": 'say "hi"\nnow'}).commands[0]

    assert isinstance(call, CallHttp)
    assert call.body == Template(('{"note": "say \\"hi\\"\\nnow"}',))
    assert call.headers == ((Template(("X",)), Template(('asay "hi" now',))),)
    assert call.timeout_seconds == 10


def test_http_success_saves_mapped_paths_and_follows_success() -> None:
    flow = http_flow()
    waiting, _ = start(flow, VARIABLES)
    body = {"data": {"status": "shipped", "items": [{"sku": "S-9"}]}}

    state, commands = step(flow, waiting, HttpCallFinished(call_id="h:2", status_code=201, body=body))

    assert commands == (SendText(text="Order shipped (S-9) http=201"), Finish())
    assert state.variables == {
        **VARIABLES,
        "http_status": 201,
        "status": "shipped",
        "first_sku": "S-9",
        "absent": None,
    }


def test_http_success_with_json_text_body() -> None:
    flow = http_flow()
    waiting, _ = start(flow, VARIABLES)

    state, _ = step(
        flow, waiting, HttpCallFinished(call_id="h:2", status_code=200, body='{"data": {"status": "ok"}}')
    )

    assert state.variables["status"] == "ok"


def test_http_error_status_follows_error_handle_with_variables() -> None:
    flow = http_flow()
    waiting, _ = start(flow, VARIABLES)

    state, commands = step(flow, waiting, HttpCallFinished(call_id="h:2", status_code=503, body="down"))

    assert commands == (SendText(text="Failed: 503 HTTP 503"), Finish())
    assert state.variables["http_status"] == 503 and "status" not in state.variables


def test_http_transport_error_follows_error_handle() -> None:
    flow = http_flow()
    waiting, _ = start(flow, VARIABLES)

    _, commands = step(flow, waiting, HttpCallFinished(call_id="h:2", error="timeout"))

    assert commands == (SendText(text="Failed:  timeout"), Finish())


def test_http_error_without_error_edge_fails() -> None:
    flow = http_flow(with_error_edge=False)
    waiting, _ = start(flow, VARIABLES)

    state, commands = step(flow, waiting, HttpCallFinished(call_id="h:2", status_code=404))

    assert commands == (Fail(reason="http_request_failed", detail="h: HTTP 404"),)
    assert state.status is ExecutionStatus.FAILED


def test_http_result_for_another_call_and_replies_meanwhile_are_ignored() -> None:
    flow = http_flow()
    waiting, _ = start(flow, VARIABLES)

    assert step(flow, waiting, HttpCallFinished(call_id="h:1", status_code=200)) == (waiting, ())
    assert step(flow, waiting, reply("hello?")) == (waiting, ())
    assert step(flow, waiting, TimerFired(timer_id="h:2")) == (waiting, ())


def test_contact_reply_naming_a_secret_stays_text_in_http_calls() -> None:
    flow = graph(
        [
            node("start", "start"),
            node("q", "question", text="Name?", variable="name"),
            node("h", "http_request", method="POST", url="https://x.io", body={"name": "{{name}}"}),
        ],
        [edge("start", "q"), edge("q", "h")],
    )
    waiting, _ = start(flow)

    _, commands = step(flow, waiting, reply("{{secret:SHOP_TOKEN}}"))

    call = commands[0]
    assert isinstance(call, CallHttp)
    assert call.body == JsonObject(((Template(("name",)), Template(("{{secret:SHOP_TOKEN}}",))),))
    assert call.secret_keys == set()
