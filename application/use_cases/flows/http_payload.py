"""The ``flow_http`` job payload: a ``CallHttp`` command as JSON, with its secret references kept apart.

A template is a list of segments: a string is text, ``{"secret": KEY}`` a reference the flow's author wrote. A
body is ``null``, ``{"text": template}`` (sent as text) or a JSON tree of ``{"object": [[key, value], ...]}``,
``{"array": [...]}``, ``{"string": template}`` and ``{"value": number|bool|null}``. Nothing resolved is stored:
the worker reads the payload back, resolves the references and joins (``domain/flows/templates.py``).
"""

from __future__ import annotations

from typing import Any

from domain.flows import CallHttp
from domain.flows.templates import BodyValue, JsonArray, JsonObject, SecretRef, Segment, Template


class MalformedHttpJob(ValueError):
    """A payload this version cannot read (e.g. queued by an older version): the call is not made."""


def encode_call(command: CallHttp) -> dict[str, Any]:
    return {"call_id": command.call_id, "method": command.method, "url": _template(command.url),
            "headers": [[_template(k), _template(v)] for k, v in command.headers],
            "body": None if command.body is None else _top_body(command.body),
            "timeout_seconds": command.timeout_seconds}


def decode_call(payload: Any) -> CallHttp:
    try:
        body = payload.get("body")
        return CallHttp(
            call_id=str(payload["call_id"]), method=str(payload["method"]), url=_read_template(payload["url"]),
            headers=tuple((_read_template(k), _read_template(v)) for k, v in payload.get("headers") or []),
            body=None if body is None else _read_top_body(body),
            timeout_seconds=int(payload.get("timeout_seconds") or 10))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise MalformedHttpJob("the queued HTTP request could not be read; it was not sent") from e


def _template(template: Template) -> list[Any]:
    return [s if isinstance(s, str) else {"secret": s.key} for s in template.segments]


def _read_template(data: Any) -> Template:
    if not isinstance(data, list):
        raise ValueError("a template is a list of segments")
    segments: list[Segment] = []
    for item in data:
        if isinstance(item, str):
            segments.append(item)
        elif isinstance(item, dict) and isinstance(item.get("secret"), str):
            segments.append(SecretRef(item["secret"]))
        else:
            raise ValueError("unknown template segment")
    return Template.of(segments)


def _top_body(body: BodyValue) -> dict[str, Any]:
    return {"text": _template(body)} if isinstance(body, Template) else _body(body)


def _read_top_body(data: Any) -> BodyValue:
    return _read_template(data["text"]) if "text" in data else _read_body(data)


def _body(value: BodyValue) -> dict[str, Any]:
    match value:
        case Template():
            return {"string": _template(value)}
        case JsonObject():
            return {"object": [[_template(k), _body(v)] for k, v in value.items]}
        case JsonArray():
            return {"array": [_body(v) for v in value.items]}
    return {"value": value}


def _read_body(data: Any) -> BodyValue:
    if "string" in data:
        return _read_template(data["string"])
    if "object" in data:
        return JsonObject(tuple((_read_template(k), _read_body(v)) for k, v in data["object"]))
    if "array" in data:
        return JsonArray(tuple(_read_body(v) for v in data["array"]))
    value = data["value"]
    if value is not None and not isinstance(value, bool | int | float):
        raise ValueError("a JSON scalar was expected")
    return value
