"""Checking a contact's answer to a question node against its ``validation``.

- ``text``: any non-blank answer (trimmed).
- ``number``: "42", "-3.5", "1,5" (decimal comma); stored as a number (int when whole).
- ``email``: a plausible address, stored trimmed.
- ``phone``: 8 to 15 digits once ``+``, spaces, dashes, dots and parentheses are removed; stored as digits.
- ``regex``: the whole trimmed answer must match ``pattern``.
- ``options``: case-insensitive match on an option's value or label; the option's value is stored.
When the message has no text but carries a ``reply_id`` (a tapped button), that id is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.flows.nodes import QuestionSpec
from domain.flows.values import plain_number, to_number

MAX_ANSWER = 4096
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")
_PHONE_NOISE = re.compile(r"[\s\-+().]")
_PHONE = re.compile(r"[0-9]{8,15}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    valid: bool
    value: object = None


_INVALID = Answer(valid=False)


def check_answer(spec: QuestionSpec, text: str | None, reply_id: str | None) -> Answer:
    raw = (text or "").strip() or (reply_id or "").strip()
    if not raw:
        return _INVALID
    raw = raw[:MAX_ANSWER]
    match spec.validation:
        case "number":
            number = to_number(raw)
            return _INVALID if number is None else Answer(valid=True, value=plain_number(number))
        case "email":
            return Answer(valid=True, value=raw) if _EMAIL.fullmatch(raw) else _INVALID
        case "phone":
            digits = _PHONE_NOISE.sub("", raw)
            return Answer(valid=True, value=digits) if _PHONE.fullmatch(digits) else _INVALID
        case "regex":
            return Answer(valid=True, value=raw) if _fullmatch(spec.pattern or "", raw) else _INVALID
        case "options":
            folded = raw.casefold()
            for option in spec.options:
                if folded in (option.value.strip().casefold(), option.label.strip().casefold()):
                    return Answer(valid=True, value=option.value)
            return _INVALID
        case _:
            return Answer(valid=True, value=raw)


def _fullmatch(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text) is not None
    except (re.error, RecursionError, OverflowError):
        return False
