"""X-Hub-Signature-256: HMAC-SHA256 of the raw body keyed by the app secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.whatsapp.webhook_parser import verify_signature
from tests.fake_graph.builders import sign
from tests.fixtures.whatsapp_samples import W1_INBOUND_TEXT_RAW

SECRET = "0123456789abcdef0123456789abcdef"


def _meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_sample_body_signed_like_meta_verifies() -> None:
    body = W1_INBOUND_TEXT_RAW.encode()
    header = _meta_signature(SECRET, body)
    assert sign(SECRET, body) == header
    assert verify_signature(SECRET, body, header) is True
    assert verify_signature(SECRET, body, header.upper().replace("SHA256=", "sha256=")) is True


def test_reserialized_json_no_longer_verifies() -> None:
    import json

    body = W1_INBOUND_TEXT_RAW.encode()
    reserialized = json.dumps(json.loads(body)).encode()
    assert verify_signature(SECRET, reserialized, _meta_signature(SECRET, body)) is False


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha1=abc", "deadbeef", "sha256=zz", "sha256=" + "0" * 64, "sha256=ünïcode", " "],
)
def test_missing_or_malformed_headers_fail(header: str | None) -> None:
    assert verify_signature(SECRET, b"{}", header) is False


def test_an_empty_app_secret_never_verifies() -> None:
    assert verify_signature("", b"{}", _meta_signature("", b"{}")) is False


@given(st.binary(max_size=4096), st.text(min_size=1, max_size=64))
def test_roundtrip_over_random_bodies(body: bytes, secret: str) -> None:
    assert verify_signature(secret, body, _meta_signature(secret, body)) is True


@given(st.binary(max_size=512), st.binary(min_size=1, max_size=8))
def test_any_change_to_the_body_fails(body: bytes, suffix: bytes) -> None:
    assert verify_signature(SECRET, body + suffix, _meta_signature(SECRET, body)) is False


@given(st.binary(max_size=512), st.text(min_size=1, max_size=32))
def test_another_secret_fails(body: bytes, other: str) -> None:
    if other != SECRET:
        assert verify_signature(other, body, _meta_signature(SECRET, body)) is False


@given(st.text(max_size=100))
def test_arbitrary_headers_never_raise(header: str) -> None:
    assert verify_signature(SECRET, b"{}", header) is False
