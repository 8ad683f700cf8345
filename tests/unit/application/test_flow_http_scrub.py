"""An HTTP node's error text loses every resolved secret value, in every form an error may quote it."""

from __future__ import annotations

import pytest

from application.jobs import FlowHttp
from application.ports.flows import HttpCallError
from application.use_cases.flows.scrub import REDACTED, scrub
from tests.fakes_flows import ScriptedHttpCaller
from tests.unit.application.test_flows import StubSecrets, World, edge, node


@pytest.mark.parametrize(("value", "text"), [
    ("Api-Host", "could not resolve host 'api-host.example.com'"),  # host names are lowercased
    ("a b/c", "GET https://x/a%20b%2Fc failed"),
    ("a b/c", "GET https://x/a%20b/c failed"),
    ("a b", "q=a+b"),
    ("tab\there", "host 'tab\\there' is odd"),  # repr
    ('say "hi"', 'body {"k": "say \\"hi\\""}'),  # JSON
    ("bücher", "host 'xn--bcher-kva.example' refused"),  # IDNA
    ("0:0:0:0:0:0:0:1", "address ::1 is not public"),  # canonical IPv6
    ("[::1]", "address 0000:0000:0000:0000:0000:0000:0000:0001 is not public"),
    ("Clo\nud", "could not resolve host 'cloud.example'"),  # urlsplit drops the newline
])
def test_every_form_of_a_value_is_removed(value: str, text: str) -> None:
    cleaned = scrub(text, [value])
    assert REDACTED in cleaned
    for form in (value, value.lower(), "a%20b", "a+b", "tab", "hi", "bcher", "::1", "0001", "cloud"):
        if form in text:
            assert form not in cleaned, (form, cleaned)


def test_nothing_to_remove() -> None:
    assert scrub("request failed: ConnectError", ["secret-1"]) == "request failed: ConnectError"
    assert scrub("text", []) == "text"


async def test_a_caller_error_quoting_a_resolved_secret_is_scrubbed_before_it_is_stored() -> None:
    w = World()
    nodes = [node("s", "start"), node("h", "http_request", method="GET", url="http://{{secret:IP}}/x"),
             node("err", "message", text="Error {{http_error}}")]
    await w.flow(nodes, [edge("s", "h"), edge("h", "err", "error")], {"type": "default"})
    await w.inbound("hi")
    [job] = w.uow.store.jobs.pending(FlowHttp.entrypoint)
    caller = ScriptedHttpCaller(HttpCallError("blocked", "address 10.1.2.3 is not public"))
    run = w.http_call(caller, StubSecrets({"IP": "10.1.2.3"}))
    await run.execute(FlowHttp.decode(job.payload))
    assert caller.calls[0]["url"] == "http://10.1.2.3/x"
    assert w.sent_texts() == [{"text": f"Error address {REDACTED} is not public"}]
    assert "10.1.2.3" not in str(w.uow.store.executions)
