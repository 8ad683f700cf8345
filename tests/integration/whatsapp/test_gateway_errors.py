"""Every failure of the Graph API reaches the caller as a typed, classified error."""

from __future__ import annotations

import aiohttp
import pytest

from adapters.whatsapp import AiohttpWhatsAppGateway
from application.ports.whatsapp import (
    GraphApiError,
    GraphAuthError,
    GraphRateLimited,
    GraphRejected,
    GraphTransientError,
    ListRow,
    ListSection,
)
from tests.fake_graph import FakeGraphServer
from tests.integration.whatsapp.conftest import PHONE, TOKEN

pytestmark = pytest.mark.integration
TO = "16505551234"


def _assert_token_hidden(error: GraphApiError) -> None:
    assert TOKEN not in str(error) and TOKEN not in repr(error.details)
    assert error.__cause__ is None


async def test_wrong_token_is_an_auth_error(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    with pytest.raises(GraphAuthError) as caught:
        await gateway.send_text(PHONE, "EAAG-wrong", TO, "hi")
    error = caught.value
    assert (error.graph_code, error.http_status, error.error_subcode) == (190, 401, 463)
    assert error.retryable is False and error.retry_after_seconds is None
    assert error.code == "whatsapp_credentials_invalid"
    assert fake_graph.sent_messages == [] and fake_graph.requests[0].token_valid is False


async def test_expired_token_rejects_every_call(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    fake_graph.set_token_expired(PHONE)
    with pytest.raises(GraphAuthError) as caught:
        await gateway.send_text(PHONE, TOKEN, TO, "hi")
    _assert_token_hidden(caught.value)
    with pytest.raises(GraphAuthError):
        await gateway.get_phone_number(PHONE, TOKEN)
    fake_graph.set_token_expired(PHONE, expired=False)
    assert (await gateway.send_text(PHONE, TOKEN, TO, "hi")).wamid


async def test_unknown_phone_number_id(gateway: AiohttpWhatsAppGateway) -> None:
    with pytest.raises(GraphRejected) as caught:
        await gateway.get_phone_number("999999999", TOKEN)
    assert (caught.value.graph_code, caught.value.error_subcode, caught.value.http_status) == (100, 33, 400)
    assert "Object with ID '999999999' does not exist" in (caught.value.title or "")


async def test_rate_limited_is_retryable(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    fake_graph.fail_next(
        2, code=130429, http_status=400, details="Cloud API message throughput has been reached."
    )
    for _ in range(2):
        with pytest.raises(GraphRateLimited) as caught:
            await gateway.send_text(PHONE, TOKEN, TO, "hi")
        error = caught.value
        assert (error.graph_code, error.http_status, error.title) == (130429, 400, "Rate limit hit")
        assert error.error_details == "Cloud API message throughput has been reached."
        assert error.retryable and error.retry_after_seconds == 1.0 and error.backoff_seconds(3) == 8.0
        assert error.may_have_been_sent is False
    assert (await gateway.send_text(PHONE, TOKEN, TO, "third time")).wamid
    assert [request.status for request in fake_graph.requests] == [400, 400, 200]


@pytest.mark.parametrize(("code", "http_status"), [(131056, 400), (4, 429), (80007, 400)])
async def test_other_rate_limits(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer, code: int, http_status: int
) -> None:
    fake_graph.fail_next(code=code, http_status=http_status)
    with pytest.raises(GraphRateLimited) as caught:
        await gateway.send_template(PHONE, TOKEN, TO, "hello_world", "en_US")
    assert (caught.value.graph_code, caught.value.http_status) == (code, http_status)


async def test_window_closed_is_rejected_not_retryable(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    fake_graph.fail_for("+1 650-555-1234", code=131047, details="More than 24 hours have passed.")
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_text(PHONE, TOKEN, TO, "hi")
    assert caught.value.graph_code == 131047 and caught.value.retryable is False
    assert caught.value.backoff_seconds(0) is None
    assert (
        await gateway.send_text(PHONE, TOKEN, "5511987654321", "others are fine")
    ).wa_id == "5511987654321"
    fake_graph.fail_for(TO, code=None)
    assert (await gateway.send_text(PHONE, TOKEN, TO, "cleared")).wa_id == TO


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (131000, GraphTransientError),
        (131057, GraphTransientError),
        (2, GraphTransientError),
        (131026, GraphRejected),
        (10, GraphAuthError),
    ],
)
async def test_codes_map_to_classes(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer, code: int, expected: type[GraphApiError]
) -> None:
    fake_graph.fail_next(code=code)
    with pytest.raises(expected):
        await gateway.send_text(PHONE, TOKEN, TO, "hi")


async def test_5xx_without_json_is_transient_and_maybe_sent(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    fake_graph.fail_next(code=1, http_status=502, json_body=False)
    with pytest.raises(GraphTransientError) as caught:
        await gateway.send_text(PHONE, TOKEN, TO, "hi")
    error = caught.value
    assert (error.graph_code, error.http_status, error.may_have_been_sent) == (None, 502, True)
    assert error.retryable and error.retry_after_seconds == 2.0


async def test_slow_server_times_out_as_transient(fake_graph: FakeGraphServer) -> None:
    fake_graph.set_delay(1.0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2)) as session:
        gateway = AiohttpWhatsAppGateway(session, base_url=fake_graph.base_url)
        with pytest.raises(GraphTransientError) as caught:
            await gateway.send_text(PHONE, TOKEN, TO, "hi", tracking="msg-77")
    error = caught.value
    assert error.graph_code is None and error.http_status is None
    assert error.may_have_been_sent is True  # the request left: reconcile by tracking
    assert "timed out" in str(error)
    _assert_token_hidden(error)


async def test_gateway_timeout_option_overrides_the_client(
    fake_graph: FakeGraphServer, graph_session: aiohttp.ClientSession
) -> None:
    fake_graph.set_delay(1.0)
    gateway = AiohttpWhatsAppGateway(graph_session, base_url=fake_graph.base_url, timeout=0.2)
    with pytest.raises(GraphTransientError):
        await gateway.get_phone_number(PHONE, TOKEN)


async def test_connection_refused_is_transient_and_not_sent(graph_session: aiohttp.ClientSession) -> None:
    gateway = AiohttpWhatsAppGateway(graph_session, base_url="http://127.0.0.1:9")
    with pytest.raises(GraphTransientError) as caught:
        await gateway.send_text(PHONE, TOKEN, TO, "hi")
    assert caught.value.may_have_been_sent is False and "ClientConnectorError" in str(caught.value)
    _assert_token_hidden(caught.value)


async def test_oversize_text_is_rejected_by_validation(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    assert (await gateway.send_text(PHONE, TOKEN, TO, "x" * 4096)).wamid
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_text(PHONE, TOKEN, TO, "x" * 4097)
    assert (caught.value.graph_code, caught.value.http_status) == (100, 400)
    assert "4096" in (caught.value.error_details or "")
    assert len(fake_graph.sent_messages) == 1


async def test_four_buttons_are_rejected(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    buttons = [(f"id-{index}", f"Option {index}") for index in range(4)]
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_buttons(PHONE, TOKEN, TO, "Pick one", buttons)
    assert caught.value.graph_code == 131009
    assert fake_graph.sent_messages == []


@pytest.mark.parametrize(
    ("buttons", "code"),
    [
        ([("a", "Same"), ("b", "Same")], 131009),
        ([("a", "x" * 21)], 100),
        ([("a" * 257, "ok")], 100),
        ([], 131009),
    ],
)
async def test_button_limits(
    gateway: AiohttpWhatsAppGateway, buttons: list[tuple[str, str]], code: int
) -> None:
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_buttons(PHONE, TOKEN, TO, "Pick one", buttons)
    assert caught.value.graph_code == code


async def test_list_limits(gateway: AiohttpWhatsAppGateway) -> None:
    eleven = (ListSection("All", tuple(ListRow(f"r{index}", f"Row {index}") for index in range(11))),)
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_list(PHONE, TOKEN, TO, "Choose", "Open", eleven)
    assert caught.value.graph_code == 131009
    long_title = (ListSection("All", (ListRow("r1", "x" * 25),)),)
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_list(PHONE, TOKEN, TO, "Choose", "Open", long_title)
    assert caught.value.graph_code == 100
    with pytest.raises(GraphRejected):
        await gateway.send_list(PHONE, TOKEN, TO, "Choose", "A button text too long", long_title[:0])


async def test_bad_template_name_and_media_link(gateway: AiohttpWhatsAppGateway) -> None:
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_template(PHONE, TOKEN, TO, "Order-Confirmation", "en_US")
    assert caught.value.graph_code == 100
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_media(PHONE, TOKEN, TO, "image", "ftp://example.com/a.png")
    assert caught.value.graph_code == 131009
