"""Reading a node's ``data`` into its typed spec, collecting every problem (WhatsApp limits included)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from domain.flows.commands import ListRow, ListSection, ReplyButton
from domain.flows.graph import FlowNode
from domain.flows.nodes import (
    CONDITION_OPERATORS,
    HTTP_METHODS,
    NODE_TYPES,
    QUESTION_VALIDATIONS,
    Assignment,
    ButtonsSpec,
    ConditionSpec,
    DelaySpec,
    EndSpec,
    GotoFlowSpec,
    HandoffSpec,
    HttpRequestSpec,
    ListSpec,
    MessageSpec,
    NodeSpec,
    Option,
    QuestionSpec,
    Rule,
    SetVariableSpec,
    StartSpec,
    TemplateSpec,
)
from domain.flows.reader import DataReader, Item

TEXT_MAX = 4096
CAPTION_MAX = 1024
BUTTONS_BODY_MAX = 1024
BUTTON_TITLE_MAX, BUTTON_ID_MAX, BUTTONS_MAX = 20, 256, 3
LIST_BUTTON_MAX, LIST_SECTIONS_MAX, LIST_ROWS_MAX = 20, 10, 10
SECTION_TITLE_MAX, ROW_TITLE_MAX, ROW_ID_MAX, ROW_DESCRIPTION_MAX = 24, 24, 200, 72
TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
DELAY_MAX_SECONDS = 30 * 24 * 3600
QUESTION_TIMEOUT_MAX_SECONDS = 30 * 24 * 3600
HTTP_TIMEOUT_DEFAULT, HTTP_TIMEOUT_MAX = 10, 30
MAX_RETRIES_DEFAULT, MAX_RETRIES_MAX = 2, 10


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedNode:
    spec: NodeSpec | None  # None only for an unknown node type
    problems: tuple[str, ...] = ()


def parse_node(node: FlowNode) -> ParsedNode:
    """Never raises. ``problems`` empty means the engine may run the node."""
    parser = _PARSERS.get(node.type)
    if parser is None:
        shown = node.type if node.type else "(none)"
        return ParsedNode(spec=None, problems=(f"unknown node type '{shown}'",))
    reader = DataReader(node.data)
    spec = parser(reader)
    return ParsedNode(spec=spec, problems=tuple(reader.problems))


MEDIA_TYPES = ("image", "video", "document", "audio")


def _message(r: DataReader) -> MessageSpec:
    media_url = r.url("media_url", required=False)
    media_id = r.text("media_id", required=False, max_len=64)
    if media_id is not None and not media_id.isdigit():
        r.problem(f"{r.name('media_id')} must be the numeric media id an upload returned")
    if media_url is not None and media_id is not None:
        r.problem("give either 'media_url' or 'media_id', not both")
    media = media_url is not None or media_id is not None
    media_type = r.text("media_type", required=False) or "image"
    if media_type not in MEDIA_TYPES:
        r.problem(f"{r.name('media_type')} must be one of {', '.join(MEDIA_TYPES)}")
    text = r.text("text", required=not media, max_len=CAPTION_MAX if media else TEXT_MAX)
    if media and media_type == "audio" and text:
        r.problem("an audio message takes no 'text' (send the text in its own message node)")
    filename = r.text("filename", required=False, max_len=240)
    if filename is not None and media_type != "document":
        r.problem("'filename' applies to documents only")
    return MessageSpec(text=text or "", media_url=media_url, media_type=media_type, media_id=media_id,
                       filename=filename)


def _template(r: DataReader) -> TemplateSpec:
    name = r.text("name") or ""
    if name and not TEMPLATE_NAME.fullmatch(name):
        r.problem("'name' must be 1 to 512 lower-case letters, digits or _")
    language = r.text("language", max_len=15) or ""
    parameters = tuple(r.text_item(item) or "" for item in r.items("parameters"))
    return TemplateSpec(name=name, language=language, parameters=parameters)


def _question(r: DataReader) -> QuestionSpec:
    text = r.text("text", max_len=TEXT_MAX) or ""
    variable = r.variable("variable") or ""
    validation, pattern, options = _question_validation(r)
    return QuestionSpec(
        text=text,
        variable=variable,
        validation=validation,
        pattern=pattern,
        options=options,
        retry_message=r.text("retry_message", required=False, max_len=TEXT_MAX),
        max_retries=r.integer("max_retries", default=MAX_RETRIES_DEFAULT, low=0, high=MAX_RETRIES_MAX) or 0,
        timeout_seconds=r.integer("timeout_seconds", default=None, low=1, high=QUESTION_TIMEOUT_MAX_SECONDS),
    )


def _question_validation(r: DataReader) -> tuple[str, str | None, tuple[Option, ...]]:
    """``validation`` is a string (pattern/options beside it) or an object {type, pattern?, options?}."""
    source = r
    raw = r.raw("validation")
    if isinstance(raw, Mapping):
        source = r.child("validation")
        raw = source.raw("type")
    kind = "text" if raw is None or raw == "" else raw
    if not isinstance(kind, str) or kind not in QUESTION_VALIDATIONS:
        r.problem(f"'validation' must be one of: {', '.join(sorted(QUESTION_VALIDATIONS))}")
        return "text", None, ()
    pattern: str | None = None
    if kind == "regex":
        pattern = source.text("pattern", max_len=500)
        if pattern is not None and not _compiles(pattern):
            source.problem(f"{source.name('pattern')} is not a valid regular expression")
    options: list[Option] = []
    if kind == "options":
        for item in source.items("options", minimum=1):
            option = _option(source, item)
            if option is not None:
                options.append(option)
    return kind, pattern, tuple(options)


def _option(r: DataReader, item: Item) -> Option | None:
    if isinstance(item.value, Mapping):
        child = r.child(item)
        value = child.text("value") or ""
        return Option(value=value, label=child.text("label", required=False) or value)
    text = r.text_item(item)
    return Option(value=text, label=text) if text else None


def _buttons(r: DataReader) -> ButtonsSpec:
    text = r.text("text", max_len=BUTTONS_BODY_MAX) or ""
    buttons: list[ReplyButton] = []
    for entry in r.items("buttons", minimum=1, maximum=BUTTONS_MAX):
        item = r.child(entry)
        buttons.append(
            ReplyButton(
                id=item.text("id", max_len=BUTTON_ID_MAX) or "",
                title=item.text("title", max_len=BUTTON_TITLE_MAX) or "",
            )
        )
    r.unique("button ids", [b.id for b in buttons])
    r.unique("button titles", [b.title.strip().casefold() for b in buttons])
    return ButtonsSpec(text=text, buttons=tuple(buttons), variable=r.variable("variable", required=False))


def _list(r: DataReader) -> ListSpec:
    text = r.text("text", max_len=TEXT_MAX) or ""
    button = r.text("button", max_len=LIST_BUTTON_MAX) or ""
    section_keys = r.items("sections", minimum=1, maximum=LIST_SECTIONS_MAX)
    sections: list[ListSection] = []
    for entry in section_keys:
        item = r.child(entry)
        title = item.text("title", required=len(section_keys) > 1, max_len=SECTION_TITLE_MAX)
        rows = []
        for row_entry in item.items("rows", minimum=1):
            row = item.child(row_entry)
            rows.append(
                ListRow(
                    id=row.text("id", max_len=ROW_ID_MAX) or "",
                    title=row.text("title", max_len=ROW_TITLE_MAX) or "",
                    description=row.text("description", required=False, max_len=ROW_DESCRIPTION_MAX),
                )
            )
        sections.append(ListSection(title=title, rows=tuple(rows)))
    all_rows = [row for section in sections for row in section.rows]
    if len(all_rows) > LIST_ROWS_MAX:
        r.problem(f"a list must have at most {LIST_ROWS_MAX} rows in total")
    r.unique("row ids", [row.id for row in all_rows])
    r.unique("row titles", [row.title.strip().casefold() for row in all_rows])
    variable = r.variable("variable", required=False)
    return ListSpec(text=text, button=button, sections=tuple(sections), variable=variable)


def _condition(r: DataReader) -> ConditionSpec:
    rules: list[Rule] = []
    for entry in r.items("rules", minimum=1):
        item = r.child(entry)
        variable = item.text("variable") or ""
        operator = item.raw("operator")
        if not isinstance(operator, str) or operator not in CONDITION_OPERATORS:
            item.problem(f"{item.name('operator')} must be one of: {', '.join(sorted(CONDITION_OPERATORS))}")
            operator = "exists"
        value = item.raw("value")
        if operator != "exists" and not isinstance(value, str | int | float):
            item.problem(f"{item.name('value')} is required (a string or a number)")
        if operator == "regex" and isinstance(value, str) and not _compiles(value):
            item.problem(f"{item.name('value')} is not a valid regular expression")
        rules.append(Rule(variable=variable, operator=operator, value=value))
    match = r.raw("match")
    if match not in (None, "all", "any"):
        r.problem("'match' must be 'all' or 'any'")
    return ConditionSpec(rules=tuple(rules), match="any" if match == "any" else "all")


def _set_variable(r: DataReader) -> SetVariableSpec:
    if r.raw("assignments") is None:
        single = Assignment(variable=r.variable("variable") or "", value=_value(r))
        return SetVariableSpec(assignments=(single,))
    assignments = []
    for entry in r.items("assignments", minimum=1):
        item = r.child(entry)
        assignments.append(Assignment(variable=item.variable("variable") or "", value=_value(item)))
    return SetVariableSpec(assignments=tuple(assignments))


def _value(r: DataReader) -> object:
    value = r.raw("value")
    if not isinstance(value, str | int | float | bool) and value is not None:
        r.problem(f"{r.name('value')} must be a string, a number, a boolean or null")
        return None
    return value


def _delay(r: DataReader) -> DelaySpec:
    seconds = r.integer("seconds", default=None, low=1, high=DELAY_MAX_SECONDS, required=True)
    return DelaySpec(seconds=seconds or 1)


def _http_request(r: DataReader) -> HttpRequestSpec:
    method = r.raw("method")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        r.problem(f"'method' must be one of: {', '.join(sorted(HTTP_METHODS))}")
        method = "GET"
    body = r.raw("body")
    if body is not None and not isinstance(body, str | Mapping | list | tuple):
        r.problem("'body' must be a string or a JSON object")
        body = None
    save: list[tuple[str, str]] = []
    for variable, path in r.string_map("save").items():
        if r.check_variable_name(f"save.{variable}", variable):
            save.append((variable, path))
    return HttpRequestSpec(
        method=method.upper(),
        url=r.url("url") or "",
        headers=r.string_map("headers"),
        body=body,
        timeout_seconds=r.integer(
            "timeout_seconds", default=HTTP_TIMEOUT_DEFAULT, low=1, high=HTTP_TIMEOUT_MAX
        )
        or HTTP_TIMEOUT_DEFAULT,
        save=tuple(save),
    )


def _handoff(r: DataReader) -> HandoffSpec:
    return HandoffSpec(
        text=r.text("text", required=False, max_len=TEXT_MAX),
        reason=r.text("reason", required=False, max_len=255) or "handoff",
    )


def _goto_flow(r: DataReader) -> GotoFlowSpec:
    return GotoFlowSpec(flow_id=r.text("flow_id") or "")


def _end(r: DataReader) -> EndSpec:
    return EndSpec(text=r.text("text", required=False, max_len=TEXT_MAX))


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


_PARSERS: Mapping[str, Callable[[DataReader], NodeSpec]] = {
    "start": lambda _r: StartSpec(),
    "message": _message,
    "template": _template,
    "question": _question,
    "buttons": _buttons,
    "list": _list,
    "condition": _condition,
    "set_variable": _set_variable,
    "delay": _delay,
    "http_request": _http_request,
    "handoff": _handoff,
    "goto_flow": _goto_flow,
    "end": _end,
}
assert set(_PARSERS) == NODE_TYPES
