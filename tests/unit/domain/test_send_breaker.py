"""The number's circuit breaker: open until a time or until the token changes; a longer pause wins."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from tests.fakes import T0
from tests.fakes_channel import number

pytestmark = pytest.mark.unit


def test_a_timed_pause_ends_by_itself_and_a_token_pause_does_not() -> None:
    paused = number(uuid4())
    assert not paused.sending_paused(T0)
    paused.pause_sending(131048, "Spam rate limit hit", T0, T0 + timedelta(hours=1))
    assert paused.sending_paused(T0 + timedelta(minutes=59)) and not paused.sending_paused(T0 + timedelta(hours=1))
    paused.pause_sending(190, "Access token has expired", T0, None)
    assert paused.sending_paused(T0 + timedelta(days=365))
    assert (paused.send_pause_code, paused.send_paused_until) == (190, None)


def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    paused = number(uuid4())
    paused.pause_sending(368, "Temporarily blocked", T0, T0 + timedelta(hours=24))
    paused.pause_sending(131048, "Spam rate limit hit", T0, T0 + timedelta(hours=1))
    assert (paused.send_pause_code, paused.send_paused_until) == (368, T0 + timedelta(hours=24))
    token = number(uuid4())
    token.pause_sending(190, "Access token has expired", T0, None)
    token.pause_sending(131048, "Spam rate limit hit", T0, T0 + timedelta(hours=1))
    assert (token.send_pause_code, token.send_paused_until) == (190, None)
    expired = number(uuid4())
    expired.pause_sending(131048, "Spam", T0, T0 + timedelta(seconds=5))
    expired.pause_sending(131048, "Spam", T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    assert expired.send_paused_until == T0 + timedelta(seconds=20)
