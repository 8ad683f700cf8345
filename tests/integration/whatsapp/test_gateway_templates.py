"""The gateway lists a WABA's templates from the fake Graph API over real HTTP: the fields it asks for, the
cursor pages it follows, the token in the header, Meta's errors typed."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from adapters.whatsapp import AiohttpWhatsAppGateway
from adapters.whatsapp.templates import TEMPLATE_FIELDS
from application.ports.whatsapp import GraphAuthError, GraphRejected
from tests.fake_graph import FakeGraphServer
from tests.fake_graph.templates import template
from tests.integration.whatsapp.conftest import TOKEN

pytestmark = pytest.mark.integration
WABA = "102290129340398"


async def read_all(gateway: AiohttpWhatsAppGateway, token: str = TOKEN) -> list[str]:
    names, after = [], None
    while True:
        page = await gateway.templates_page(WABA, token, after)
        names.extend(f"{t.name}:{t.language}" for t in page.templates)
        if page.after is None:
            return names
        after = page.after


async def test_every_page_is_read_with_the_requested_fields(gateway: AiohttpWhatsAppGateway,
                                                            fake_graph: FakeGraphServer) -> None:
    fake_graph.add_waba(WABA, TOKEN)
    listed = [template(f"t{i:03}", body="Hi {{1}}") for i in range(230)] + [
        template("t000", language="pt_BR", status="REJECTED", rejected_reason="INVALID_FORMAT")]
    fake_graph.set_templates(WABA, listed)
    names = await read_all(gateway)
    assert names == [f"{t['name']}:{t['language']}" for t in listed]
    requests = fake_graph.requests
    assert len(requests) == 3 and all(r.status == 200 and r.token_valid for r in requests)
    assert all(r.path == f"/v25.0/{WABA}/message_templates" for r in requests)
    queries = [parse_qs(r.query) for r in requests]
    assert all(q["fields"] == [TEMPLATE_FIELDS] and q["limit"] == ["100"] for q in queries)
    assert "after" not in queries[0] and all("after" in q for q in queries[1:])
    assert all(r.headers["authorization"] == "<redacted>" and "access_token" not in r.query for r in requests)


async def test_a_template_is_read_into_its_fields(gateway: AiohttpWhatsAppGateway,
                                                  fake_graph: FakeGraphServer) -> None:
    fake_graph.add_waba(WABA, TOKEN)
    meta = template("order", header="Order {{1}}", body="Hi {{1}}", url_button="https://x.example/{{1}}",
                    status="REJECTED", rejected_reason="INVALID_FORMAT", quality="YELLOW", category="MARKETING")
    fake_graph.set_templates(WABA, [meta])
    page = await gateway.templates_page(WABA, TOKEN)
    [found] = page.templates
    assert (found.meta_template_id, found.name, found.language, found.status, found.category) == (
        meta["id"], "order", "en_US", "REJECTED", "MARKETING")
    assert (found.quality_score, found.rejected_reason, found.parameter_format) == (
        "YELLOW", "INVALID_FORMAT", "POSITIONAL")
    assert found.components == meta["components"] and page.after is None


async def test_an_empty_waba_is_one_empty_page(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    fake_graph.add_waba(WABA, TOKEN)
    assert await read_all(gateway) == []


async def test_a_token_that_cannot_read_the_waba_is_refused(gateway: AiohttpWhatsAppGateway,
                                                            fake_graph: FakeGraphServer) -> None:
    fake_graph.add_waba(WABA, "EAAG-another-token")
    with pytest.raises(GraphRejected) as missing:  # a valid token of another business: object missing (100)
        await gateway.templates_page(WABA, TOKEN)
    assert missing.value.graph_code == 100
    with pytest.raises(GraphAuthError) as expired:
        await gateway.templates_page(WABA, "EAAG-unknown")
    assert expired.value.graph_code == 190 and "EAAG-unknown" not in str(expired.value)


async def test_the_fake_refuses_template_list_requests_meta_would_refuse(
        fake_graph: FakeGraphServer, http_client: httpx.AsyncClient) -> None:
    fake_graph.add_waba(WABA, TOKEN)
    fake_graph.set_templates(WABA, [template("a"), template("b")])
    url = f"{fake_graph.base_url}/v25.0/{WABA}/message_templates"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    unknown_field = await http_client.get(url, headers=auth, params={"fields": "name,secret_sauce"})
    assert unknown_field.status_code == 400 and "secret_sauce" in unknown_field.json()["error"]["message"]
    for limit in ("0", "abc", "1001"):
        assert (await http_client.get(url, headers=auth, params={"limit": limit})).json()["error"]["code"] == 100
    assert (await http_client.get(url, headers=auth, params={"after": "bm90IGEgY3Vyc29y"})).status_code == 400
    in_query = await http_client.get(url, params={"access_token": TOKEN})
    assert in_query.status_code == 401 and in_query.json()["error"]["code"] == 190
    default = (await http_client.get(url, headers=auth, params={"limit": "1"})).json()
    assert set(default["data"][0]) == {"name", "parameter_format", "components", "language", "status", "category",
                                       "id"}  # Meta's default fields
    assert default["paging"]["next"].startswith(url) and "after=" in default["paging"]["next"]
    last = (await http_client.get(url, headers=auth, params={"limit": "1", "after": default["paging"]["cursors"][
        "after"]})).json()
    assert [t["name"] for t in last["data"]] == ["b"] and "next" not in last["paging"]
