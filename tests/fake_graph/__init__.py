"""A local fake of the WhatsApp Cloud API (Graph API) served over real HTTP, plus webhook builders."""

from tests.fake_graph.builders import (
    batch,
    deliver_webhook,
    inbound_button_reply,
    inbound_list_reply,
    inbound_message,
    inbound_quick_reply,
    inbound_text,
    sign,
    status_update,
    statuses_for,
    value_error,
    webhook_body,
)
from tests.fake_graph.faults import GraphFault
from tests.fake_graph.server import FakeGraphServer, ServedApp
from tests.fake_graph.state import AcceptedSend, FakeGraph, FakeNumber, RecordedRequest, new_wamid

__all__ = [
    "FakeGraph",
    "FakeGraphServer",
    "FakeNumber",
    "GraphFault",
    "RecordedRequest",
    "AcceptedSend",
    "ServedApp",
    "batch",
    "deliver_webhook",
    "inbound_button_reply",
    "inbound_list_reply",
    "inbound_message",
    "inbound_quick_reply",
    "inbound_text",
    "new_wamid",
    "sign",
    "status_update",
    "statuses_for",
    "value_error",
    "webhook_body",
]
