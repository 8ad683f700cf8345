"""Schemathesis fuzzing of every operation of our OpenAPI document (``/api/v1/openapi.json``).

The document is loaded from the running application, which is served over real HTTP and fuzzed as the org_admin
of an organization seeded with data (tests/fuzz/support.py); path parameters named after seeded resources hit
existing ids as well as random ones. For every generated request (valid and invalid ones) the checks are:

- schemathesis' default checks: no 5xx, the status code is documented, the content type and the body match the
  documented response, documented headers are present, invalid input is rejected with a 4xx and valid input is
  accepted, a request without credentials is rejected where the operation declares security, ...;
- ``error_shape``: every 4xx body is our error shape ``{detail, status_code, error_code}`` with ``status_code``
  equal to the HTTP status (and ``errors`` on 422).

FUZZ_EXAMPLES (default 15, the same cases on every run) sets the examples per operation; `make fuzz` runs this
module with 500 new ones each time.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.openapi.checks import RejectedPositiveData

from entrypoints.config import Settings
from entrypoints.http.app import create_app, wire
from tests.e2e.support import unique_ip
from tests.fake_graph.server import FakeGraphServer
from tests.fuzz.support import API, Seeded, seed, serve

pytestmark = pytest.mark.e2e

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# Without FUZZ_EXAMPLES (`make test`) the cases are the same on every run, a regression net that cannot turn red
# on its own; with it (`make fuzz`) every run draws new ones.
DERANDOMIZE = "FUZZ_EXAMPLES" not in os.environ

# Operations left out, each with the reason. Everything else in the document is fuzzed, destructive operations
# included, since the organization is a throwaway: DELETE only ever gets random ids (see flatmap_path_parameters),
# PATCH /users/{user_id} gets random ids or the seeded viewer's, never the fuzzing admin's (only its own session
# could demote or deactivate it); the Meta webhook POST without a valid X-Hub-Signature-256 is a 401, which is
# documented and checked like any other answer.
EXCLUDED: dict[tuple[str, str], str] = {
    # Revokes the session (refresh token and access token) the fuzzer authenticates with: every later request
    # would be a 401. Logout is covered by tests/e2e/test_auth.py.
    ("POST", f"{API}/auth/logout"): "revokes the fuzzing session",
    # An authenticated call opens a stream that never ends by itself (Server-Sent Events). Its errors, tickets
    # and framing are covered by tests/e2e/test_events.py over a real socket.
    ("GET", f"{API}/events"): "an endless event stream",
}

NUL_RULE = "must not contain the NUL character"  # entrypoints/http/schemas/common.py
UVICORN_INVALID_REQUEST = "Invalid HTTP request received."  # h11/httptools refused the request line or headers
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def _document() -> dict[str, Any]:
    """The OpenAPI document, needed at collection time to make one test per operation. It is built by the same
    code as `pytake openapi` (no database); the `fuzzed` fixture checks the running app serves exactly it."""
    from entrypoints.cli import openapi_document

    return openapi_document()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
for _method, _path in EXCLUDED:
    schema = schema.exclude(method=_method, path=_path)

KNOWN_IDS: dict[str, list[str]] = {}  # path parameter name -> ids of seeded resources (filled by `fuzzed`)
SESSION: dict[str, str] = {}  # "access_token" of the seeded org_admin (filled by `fuzzed`)
PENDING = "token-of-the-seeded-admin"  # the token of cases built at collection time, replaced when they are sent
# Login and forgot-password throttle failures per client address, in the database the whole session shares: the
# fuzzer's failed logins come from an address of their own (uvicorn trusts X-Forwarded-For from 127.0.0.1), so
# later tests that log in from 127.0.0.1 are never throttled.
CLIENT_ADDRESS = unique_ip()


@schema.auth.auth(refresh_interval=None, retry_on=[])
class OrgAdminToken:
    """The org_admin's bearer token on every case, through schemathesis' auth so that it knows: a negative case
    whose only violation is a missing Authorization header is sent without one, and `ignored_auth` probes the
    operation without and with a wrong token."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return SESSION.get("access_token", PENDING)

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any]) -> Any:
    """Besides the generated ids, the seeded ones. A valid UUID is only swapped for another valid UUID, so a
    negative case stays negative; DELETE keeps its random ids, or the seeded data would soon be gone."""
    known = {name: KNOWN_IDS[name] for name in path_parameters or {} if KNOWN_IDS.get(name)}
    if (context.operation is None or context.operation.method.upper() == "DELETE" or not known
            or not all(isinstance(path_parameters[n], str) and _UUID.match(path_parameters[n]) for n in known)):
        return st.just(path_parameters)
    existing = st.fixed_dictionaries({name: st.sampled_from(ids) for name, ids in known.items()})
    return st.one_of(st.just(path_parameters), existing.map(lambda ids: {**path_parameters, **ids}))


@pytest.fixture(scope="module")
def fuzzed(test_settings: Settings, database_url: str, fake_graph: FakeGraphServer,
           app: FastAPI) -> Iterator[tuple[str, Seeded]]:
    """The application on a real HTTP port (its base URL), and the seeded organization."""
    application = create_app(test_settings, database_url=database_url)
    try:
        with serve(application) as base_url:
            served = httpx.get(f"{base_url}{API}/openapi.json")
            assert served.status_code == 200 and served.json() == DOCUMENT, "the fuzzed document is not the served one"
            seeded = seed(base_url, fake_graph)
            KNOWN_IDS.update(seeded.ids)
            SESSION["access_token"] = seeded.access_token
            yield base_url, seeded
    finally:
        KNOWN_IDS.clear()
        SESSION.clear()
        # dependency-injector wiring is process-wide: give the routes back to the session application
        wire(app.state.container)


@schema.hook
def filter_failure(context: schemathesis.HookContext, failure: Any, case: schemathesis.Case,
                   response: schemathesis.Response) -> bool:
    """Keep every failure but those of two kinds. First, a schema-valid body or query refused by a business rule.

    `positive_data_acceptance` expects any request the schema allows to get no 400/422. Our use cases also
    apply rules no JSON schema can state (a common password, an email address email-validator refuses, a text
    message with an empty body, an unknown reset token); such answers carry the rule's own error_code. So does
    the NUL character, refused in any request text because PostgreSQL text cannot hold it (a JSON schema pattern
    on every string would say it, at the price of an unreadable document). Other request validation errors
    (`validation_error`) and rejections of headers or path parameters stay failures: there the document and the
    validator disagree, which is a bug in the document.

    Also dropped: anything about uvicorn's own plain-text 400 to a request that is not valid HTTP/1.1 (a negative
    case can send, say, an empty Content-Length header). The application never sees such a request, so neither
    its document nor its error shape can apply."""
    if response.status_code == 400 and response.text == UVICORN_INVALID_REQUEST:
        return False
    if not isinstance(failure, RejectedPositiveData):
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    if not isinstance(body, dict) or body.get("error_code") is None:
        return True
    errors = [error for error in body.get("errors") or [] if isinstance(error, dict)]
    if body["error_code"] == "validation_error":  # only the request models' NUL rule (RequestModel) is semantic
        return not errors or any(NUL_RULE not in str(error.get("msg")) for error in errors)
    places = {str((error.get("loc") or ["body"])[0]) for error in errors}
    return bool(places & {"header", "path"})


def error_shape(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                case: schemathesis.Case) -> bool | None:
    """Every 4xx answer is {detail, status_code, error_code} (+ errors on 422), status_code = the HTTP status."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.text[:200]!r}") from exc
    assert isinstance(body, dict), f"{response.status_code} body is not an object: {body!r}"
    assert isinstance(body.get("detail"), str) and body["detail"], f"no detail: {body!r}"
    assert isinstance(body.get("error_code"), str) and body["error_code"], f"no error_code: {body!r}"
    assert body.get("status_code") == response.status_code, f"status_code != {response.status_code}: {body!r}"
    if response.status_code == 422:
        assert isinstance(body.get("errors"), list), f"422 without errors: {body!r}"
    return True


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, derandomize=DERANDOMIZE, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_honours_its_documentation(case: schemathesis.Case, fuzzed: tuple[str, Seeded]) -> None:
    base_url, _ = fuzzed
    if case.headers and case.headers.get("Authorization") == f"Bearer {PENDING}":
        # the schema's explicit examples are built at collection time, before there is a token
        case.headers["Authorization"] = f"Bearer {SESSION['access_token']}"
    headers = {"X-Request-ID": f"fuzz-{uuid.uuid4().hex[:12]}", "X-Forwarded-For": CLIENT_ADDRESS}
    case.call_and_validate(base_url=base_url, headers=headers, additional_checks=[error_shape])
