"""A contact (or any other data a flow substitutes) can never make an http_request node resolve a vault secret.

The attack of issue #11: a flow joins two answers in a template, ``"{{first}}{{last}}"``, and the contact answers
``x{`` and ``{secret:API_KEY}}``; the joined text is ``x{{secret:API_KEY}}``. Only what the flow's author wrote
may name a secret. Hypothesis splits a secret reference into pieces at any points, hands each piece to the flow
as a contact answer, a contact attribute, the contact's name or a literal of the author's, and places the joined
template in the URL, a header value, a JSON body key or value, or a text body. The flow runs on the engine, the
job goes through the real worker use case, secrets come from the real vault use cases with real AES-GCM: the
vault is never asked for the secret (its usage stays at zero) and its value is never sent.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.jobs import FlowHttp
from application.ports.flows import HttpResponseData
from application.use_cases.vault.secret_lookup import SecretLookup
from tests.fakes_flows import ScriptedHttpCaller
from tests.unit.application.test_flows import ORG, World, edge, node
from tests.unit.vault.kit import Vault
from tests.unit.vault.kit import actor as vault_actor

SECRET_VALUE = "CANARY-secret-value-4f1d"
REFERENCES = ["{{secret:API_KEY}}", "{{ secret:API_KEY }}", "{{secret: API_KEY}}", "{{  secret:API_KEY}}"]
PLACES = ["url_path", "url_query", "header", "body_value", "body_key", "text_body", "json_text_body"]
SOURCES = ["answer", "attribute", "name", "literal"]


@st.composite
def split_reference(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """Where the template goes, and the reference cut into 2..6 pieces, each with where the flow gets it from;
    at least one piece is data."""
    place = draw(st.sampled_from(PLACES))
    reference = draw(st.sampled_from(REFERENCES))
    cuts = sorted(draw(st.sets(st.integers(1, len(reference) - 1), min_size=1, max_size=5)))
    pieces = [reference[a:b] for a, b in zip([0, *cuts], [*cuts, len(reference)], strict=True)]
    sources = draw(st.lists(st.sampled_from(SOURCES), min_size=len(pieces), max_size=len(pieces)))
    if all(s == "literal" for s in sources):
        sources[draw(st.integers(0, len(sources) - 1))] = "attribute"
    # a blank answer is asked again (a "text" question wants some text): blank pieces come from attributes
    sources = ["attribute" if s == "answer" and not p.strip() else s for s, p in zip(sources, pieces, strict=True)]
    if place.startswith("url"):  # an author's URL has no spaces (publishing refuses it): such pieces are data
        sources = ["attribute" if s == "literal" and " " in p else s for s, p in zip(sources, pieces, strict=True)]
    if sources.count("name") > 1:  # the contact has one name
        sources = [s if s != "name" or i == sources.index("name") else "attribute" for i, s in enumerate(sources)]
    return place, list(zip(sources, pieces, strict=True))


def _flow(pieces: list[tuple[str, str]], place: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                           list[str], dict[str, str], str | None]:
    nodes, answers, attributes, name, template = [node("s", "start")], [], {}, None, ""
    for i, (source, piece) in enumerate(pieces):
        if source == "answer":
            nodes.append(node(f"q{i}", "question", text=f"Piece {i}?", variable=f"p{i}"))
            answers.append(piece)
            template += f"{{{{p{i}}}}}"
        elif source == "attribute":
            attributes[f"a{i}"] = piece
            template += f"{{{{contact.attributes.a{i}}}}}"
        elif source == "name":
            name = piece
            template += "{{contact.name}}"
        else:
            template += piece
    url, headers, body = "https://api.example.com/x", {"X-Fixed": "1"}, None
    match place:
        case "url_path":
            url = f"https://api.example.com/{template}"
        case "url_query":
            url = f"https://api.example.com/x?q={template}"
        case "header":
            headers = {"X-Joined": template}
        case "body_value":
            body = {"joined": template}
        case "body_key":
            body = {template: "v"}
        case "text_body":
            body = f"joined={template}"
        case "json_text_body":
            body = f'{{"joined": "{template}"}}'
    nodes += [node("h", "http_request", method="POST", url=url, headers=headers, body=body),
              node("ok", "end", text="ok"), node("err", "end", text="err {{http_error}}")]
    chain = [n["id"] for n in nodes if n["type"] in {"start", "question", "http_request"}]
    edges = [edge(a, b) for a, b in zip(chain, chain[1:], strict=False)]
    edges += [edge("h", "ok", "success"), edge("h", "err", "error")]
    return nodes, edges, answers, attributes, name


async def _run(pieces: list[tuple[str, str]], place: str) -> tuple[list[dict[str, Any]], int]:
    nodes, edges, answers, attributes, name = _flow(pieces, place)
    vault = Vault()
    secret = await vault.secret(vault_actor(ORG), key="API_KEY", value=SECRET_VALUE, environment="production")
    w = World()
    w.uow.store.contacts[w.contact.id] = replace(w.contact, attributes=attributes, name=name)
    await w.flow(nodes, edges, {"type": "default"})
    await w.inbound("hi")
    for answer in answers:
        await w.inbound(answer)
    [job] = w.uow.store.jobs.pending(FlowHttp.entrypoint)
    caller = ScriptedHttpCaller(HttpResponseData(status_code=200, body={}))
    run = w.http_call(caller, SecretLookup(uow=vault.uow, resolve=vault.resolve))
    await run.execute(FlowHttp.decode(job.payload))
    usage = vault.uow.store.usage.get(secret.id, {}).get("total", 0)
    return caller.calls, usage


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=split_reference())
async def test_a_secret_reference_assembled_from_data_is_never_resolved(case: tuple[str, list[tuple[str, str]]]
                                                                        ) -> None:
    place, pieces = case
    calls, usage = await _run(pieces, place)
    assert usage == 0, "the vault was asked for the secret"
    assert len(calls) == 1, "the request was not sent"
    assert SECRET_VALUE not in repr(calls)


async def test_the_attack_of_the_finding_sends_the_joined_text_literally() -> None:
    calls, usage = await _run([("answer", "x{"), ("answer", "{secret:API_KEY}}")], "header")
    assert usage == 0 and calls[0]["headers"]["X-Joined"] == "x{{secret:API_KEY}}"
    calls, usage = await _run([("answer", "x{"), ("answer", "{secret:API_KEY}}")], "body_value")
    assert usage == 0 and calls[0]["body"] == {"joined": "x{{secret:API_KEY}}"}
    calls, _ = await _run([("answer", "x{"), ("answer", "{secret:API_KEY}}")], "url_query")
    assert calls[0]["url"] == "https://api.example.com/x?q=x%7B%7Bsecret%3AAPI_KEY%7D%7D"  # values stay encoded


async def test_a_reference_the_author_wrote_is_still_resolved_next_to_data() -> None:
    nodes = [node("s", "start"), node("q", "question", text="?", variable="v"),
             node("h", "http_request", method="POST", url="https://api.example.com/{{v}}",
                  headers={"Authorization": "Bearer {{secret:API_KEY}}{{v}}"}, body={"{{v}}": "{{secret:API_KEY}}"}),
             node("ok", "end", text="ok")]
    vault = Vault()
    secret = await vault.secret(vault_actor(ORG), key="API_KEY", value=SECRET_VALUE, environment="production")
    w = World()
    await w.flow(nodes, [edge("s", "q"), edge("q", "h"), edge("h", "ok", "success")], {"type": "default"})
    await w.inbound("hi")
    await w.inbound("a b/{{secret:API_KEY}}")
    [job] = w.uow.store.jobs.pending(FlowHttp.entrypoint)
    assert SECRET_VALUE not in repr(job.payload)  # the job stores the reference, never the value
    caller = ScriptedHttpCaller(HttpResponseData(status_code=200, body={}))
    run = w.http_call(caller, SecretLookup(uow=vault.uow, resolve=vault.resolve))
    await run.execute(FlowHttp.decode(job.payload))
    [call] = caller.calls
    assert call["url"] == "https://api.example.com/a%20b%2F%7B%7Bsecret%3AAPI_KEY%7D%7D"
    assert call["headers"] == {"Authorization": f"Bearer {SECRET_VALUE}a b/{{{{secret:API_KEY}}}}"}
    assert call["body"] == {"a b/{{secret:API_KEY}}": SECRET_VALUE}
    assert vault.uow.store.usage[secret.id]["total"] == 1
