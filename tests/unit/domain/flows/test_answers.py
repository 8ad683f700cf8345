from __future__ import annotations

import pytest

from domain.flows.answers import Answer, check_answer
from domain.flows.nodes import Option, QuestionSpec


def spec(validation: str, **kwargs: object) -> QuestionSpec:
    return QuestionSpec(text="?", variable="v", validation=validation, **kwargs)  # type: ignore[arg-type]


INVALID = Answer(valid=False)


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        (spec("text"), "  hello ", Answer(valid=True, value="hello")),
        (spec("text"), "   ", INVALID),
        (spec("text"), None, INVALID),
        (spec("number"), "42", Answer(valid=True, value=42)),
        (spec("number"), " -3.25 ", Answer(valid=True, value=-3.25)),
        (spec("number"), "1,5", Answer(valid=True, value=1.5)),
        (spec("number"), "12abc", INVALID),
        (spec("number"), "nan", INVALID),
        (spec("email"), " ana@example.com ", Answer(valid=True, value="ana@example.com")),
        (spec("email"), "ana@example", INVALID),
        (spec("email"), "a b@example.com", INVALID),
        (spec("phone"), "+55 (11) 99999-0000", Answer(valid=True, value="5511999990000")),
        (spec("phone"), "1234567", INVALID),
        (spec("phone"), "1234567890123456", INVALID),
        (spec("phone"), "12345678x", INVALID),
        (spec("regex", pattern=r"[A-Z]{3}-\d{4}"), "ABC-1234", Answer(valid=True, value="ABC-1234")),
        (spec("regex", pattern=r"[A-Z]{3}-\d{4}"), "ABC-1234 extra", INVALID),
        (spec("regex", pattern="("), "x", INVALID),
        (
            spec("options", options=(Option(value="p", label="Pizza"), Option(value="s", label="Sushi"))),
            "PIZZA",
            Answer(valid=True, value="p"),
        ),
        (spec("options", options=(Option(value="p", label="Pizza"),)), "P", Answer(valid=True, value="p")),
        (spec("options", options=(Option(value="p", label="Pizza"),)), "Burger", INVALID),
    ],
)
def test_check_answer(question: QuestionSpec, text: str | None, expected: Answer) -> None:
    assert check_answer(question, text, None) == expected


def test_reply_id_answers_when_there_is_no_text() -> None:
    question = spec("options", options=(Option(value="p", label="Pizza"),))

    assert check_answer(question, None, "p") == Answer(valid=True, value="p")
