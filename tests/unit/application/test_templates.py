"""Message templates on fakes: the parameter rule, the sync (all pages, DELETED, idempotent), the request to sync
(roles, WABA, one queued per WABA), the checks before a send or an automation is queued, the refusal at dispatch,
the list, and the template webhooks applied through the inbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.jobs import SyncTemplates as SyncTemplatesJob
from application.ports.templates import RemoteTemplate, TemplateCatalog, TemplatePage
from application.ports.whatsapp import GraphAuthError, GraphRejected
from application.use_cases.whatsapp.message_content import SendMessageCommand
from domain.channel import WhatsAppNumberNotFound
from domain.errors import InvalidValue, PermissionDenied
from domain.identity import Role
from domain.templates import (
    MessageTemplate,
    NumberHasNoWaba,
    TemplateNotApproved,
    TemplateParametersMismatch,
    TemplatesNotSynced,
    TemplateUnknown,
    parameter_needs,
)
from tests.bootstrap import bootstrap_test_app
from tests.fake_graph import builders
from tests.fake_graph.templates import (
    category_update_webhook,
    quality_update_webhook,
    status_update_webhook,
    template,
)
from tests.fake_uow import FakeStore as Store
from tests.fake_uow import FakeUnitOfWorkFactory as Factory
from tests.fakes import T0, FakeClock
from tests.fakes_channel import FakeSecretResolver, actor, number

pytestmark = pytest.mark.unit

ORG, OTHER = uuid4(), uuid4()
WABA = "102290129340398"
TOKEN = "EAAG-token"


def remote(meta: dict[str, Any]) -> RemoteTemplate:
    return RemoteTemplate(meta_template_id=meta["id"], name=meta["name"], language=meta["language"],
                          status=meta["status"], category=meta["category"],
                          quality_score=meta["quality_score"]["score"], components=meta["components"],
                          parameter_format=meta["parameter_format"])


class PagedCatalog(TemplateCatalog):
    """Meta's list in pages of ``size``; records every call (WABA, token, cursor)."""

    def __init__(self, templates: Sequence[dict[str, Any]], size: int = 2, fail: Exception | None = None) -> None:
        self.templates, self.size, self.fail = list(templates), size, fail
        self.calls: list[tuple[str, str, str | None]] = []

    async def templates_page(self, waba_id: str, access_token: str, after: str | None = None) -> TemplatePage:
        self.calls.append((waba_id, access_token, after))
        if self.fail is not None:
            raise self.fail
        start = int(after or 0)
        chunk = self.templates[start:start + self.size]
        more = start + self.size < len(self.templates)
        return TemplatePage(templates=[remote(t) for t in chunk], after=str(start + self.size) if more else None)


class World:
    def __init__(self, *, waba: str | None = WABA) -> None:
        self.clock = FakeClock(T0)
        self.secret = uuid4()
        self.number = dataclasses.replace(number(ORG, secret_id=self.secret), waba_id=waba)
        self.factory = Factory(Store(numbers={self.number.id: self.number}))
        self.secrets = FakeSecretResolver({self.secret: TOKEN})
        self.app = bootstrap_test_app(uow=self.factory, clock=self.clock, secret_resolver=self.secrets,
                                      whatsapp_app_secret="secret")

    def syncer(self, catalog: TemplateCatalog) -> Any:
        """The container's SyncTemplates reading this catalog (the gateway's part it uses)."""
        return bootstrap_test_app(uow=self.factory, clock=self.clock, secret_resolver=self.secrets,
                                  whatsapp_gateway=catalog).sync_templates

    @property
    def store(self) -> Store:
        return self.factory.store

    async def sync(self, templates: Sequence[dict[str, Any]], size: int = 2) -> PagedCatalog:
        catalog = PagedCatalog(templates, size)
        await self.syncer(catalog).execute(ORG, self.number.id)
        return catalog

    def stored(self) -> dict[tuple[str, str], MessageTemplate]:
        return {(t.name, t.language): t for t in self.store.templates.values()}

    async def send(self, name: str, components: list[dict[str, Any]] | None = None, language: str = "en_US") -> None:
        await self.app.send_message.execute(actor(ORG, Role.AGENT), SendMessageCommand(
            to="16505551234", type="template", template_id=name, language=language, components=components or []))


def body(*values: str) -> dict[str, Any]:
    return {"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}


# --------------------------------------------------------------------------- the parameter rule


def test_parameter_needs_count_placeholders_in_header_body_and_buttons_as_meta_defines_them() -> None:
    meta = template("order", header="Order {{1}}", body="Hi {{1}}, order {{2}} ships {{3}}.",
                    url_button="https://shop.example/track/{{1}}")
    assert parameter_needs(meta["components"]) == {"header": 1, "body": 3, "button:1": 1}
    image = template("promo", header_format="IMAGE", body="No placeholders")
    assert parameter_needs(image["components"]) == {"header": 1}
    named = template("named", body="Hi {{first_name}}, your {{item}} and {{ first_name }}", named=True)
    assert parameter_needs(named["components"]) == {"body": 2}  # a repeated name is one parameter


@given(needed=st.integers(0, 8), given_count=st.integers(0, 8))
def test_a_send_passes_only_with_exactly_the_body_parameters_the_template_needs(needed: int, given_count: int) -> None:
    text = " ".join(f"{{{{{i}}}}}" for i in range(1, needed + 1)) or "plain"
    meta = template("t", body=text)
    stored = MessageTemplate(id=uuid4(), organization_id=ORG, waba_id=WABA, meta_template_id="1", name="t",
                             language="en_US", status="APPROVED", components=meta["components"], synced_at=T0,
                             updated_at=T0)
    send = [body(*(["x"] * given_count))] if given_count else []
    if needed == given_count:
        stored.check_parameters(send)
    else:
        with pytest.raises(TemplateParametersMismatch) as raised:
            stored.check_parameters(send)
        assert f"expected {needed} body parameter" in raised.value.message and f"got {given_count}" in \
            raised.value.message


# --------------------------------------------------------------------------- sync


async def test_sync_pages_through_every_template_with_the_numbers_token_and_stores_them() -> None:
    world = World()
    listed = [template(f"t{i}", body="Hi {{1}}") for i in range(5)] + [template("t0", language="pt_BR")]
    catalog = await world.sync(listed, size=2)
    assert [c[2] for c in catalog.calls] == [None, "2", "4"]  # three pages, cursor followed
    assert all(c[:2] == (WABA, TOKEN) for c in catalog.calls)
    stored = world.stored()
    assert set(stored) == {(f"t{i}", "en_US") for i in range(5)} | {("t0", "pt_BR")}
    assert all(t.organization_id == ORG and t.waba_id == WABA and t.status == "APPROVED" for t in stored.values())
    assert stored[("t1", "en_US")].components == listed[1]["components"]


async def test_sync_again_is_idempotent_and_marks_what_meta_no_longer_lists_deleted() -> None:
    world = World()
    listed = [template("a"), template("b"), template("c", status="PENDING")]
    await world.sync(listed)
    first = world.stored()
    world.clock.advance(timedelta(minutes=5))
    await world.sync(listed)
    again = world.stored()
    assert {k: (t.id, t.status, t.updated_at) for k, t in again.items()} == \
        {k: (t.id, t.status, t.updated_at) for k, t in first.items()}  # nothing changed, same rows
    assert all(t.synced_at == T0 + timedelta(minutes=5) for t in again.values())
    world.clock.advance(timedelta(minutes=5))
    await world.sync([template("a"), template("c", status="APPROVED")])
    after = world.stored()
    assert after[("b", "en_US")].status == "DELETED"
    assert after[("c", "en_US")].status == "APPROVED" and after[("c", "en_US")].updated_at == T0 + timedelta(minutes=10)
    await world.sync([template("a"), template("b"), template("c")])  # listed again: back
    assert world.stored()[("b", "en_US")].status == "APPROVED"


async def test_a_rejected_token_is_reported_to_the_vault_and_nothing_is_stored() -> None:
    world = World()
    catalog = PagedCatalog([template("a")], fail=GraphAuthError("expired", graph_code=190))
    with pytest.raises(GraphAuthError):
        await world.syncer(catalog).execute(ORG, world.number.id)
    assert world.secrets.failures == [(ORG, world.secret)] and world.store.templates == {}


async def test_sync_of_a_number_without_waba_or_of_another_organization_reads_nothing() -> None:
    world = World(waba=None)
    assert (await world.sync([template("a")])).calls == []
    world = World()
    catalog = PagedCatalog([template("a")])
    await world.syncer(catalog).execute(OTHER, world.number.id)
    assert catalog.calls == [] and world.store.templates == {}


async def test_request_sync_queues_one_job_per_waba_for_admins_only() -> None:
    world = World()
    request = world.app.request_template_sync
    for role in (Role.VIEWER, Role.AGENT):
        with pytest.raises(PermissionDenied):
            await request.execute(actor(ORG, role), world.number.id)
    answers = [await request.execute(actor(ORG), world.number.id) for _ in range(3)]
    assert [a.queued for a in answers] == [True, True, False] and answers[0].waba_id == WABA  # two slots at most
    jobs = [j for j in world.store.jobs.jobs if j.entrypoint == SyncTemplatesJob.entrypoint]
    assert len(jobs) == 2 and {SyncTemplatesJob.decode(j.payload) for j in jobs} == {SyncTemplatesJob(
        organization_id=ORG, number_id=world.number.id)}
    with pytest.raises(WhatsAppNumberNotFound):
        await request.execute(actor(OTHER), world.number.id)
    no_waba = World(waba=None)
    with pytest.raises(NumberHasNoWaba):
        await no_waba.app.request_template_sync.execute(actor(ORG), no_waba.number.id)


async def test_the_periodic_schedule_queues_a_sync_for_every_active_number_with_a_waba() -> None:
    world = World()
    other = dataclasses.replace(number(OTHER, phone_number_id="2"), waba_id="999")
    bare = number(OTHER, phone_number_id="3")
    world.store.numbers.update({other.id: other, bare.id: bare})
    assert await world.app.enqueue_template_syncs.execute() == 2
    queued = {SyncTemplatesJob.decode(j.payload).number_id for j in world.store.jobs.jobs}
    assert queued == {world.number.id, other.id}
    assert await world.app.enqueue_template_syncs.execute() == 2  # the second slot of each WABA
    assert await world.app.enqueue_template_syncs.execute() == 0  # both taken: no third


# --------------------------------------------------------------------------- checks before queueing


async def test_a_template_send_is_checked_against_the_synced_templates_before_it_is_queued() -> None:
    world = World()
    with pytest.raises(TemplatesNotSynced) as never:
        await world.send("order")
    assert "sync" in never.value.message and str(world.number.id) in never.value.message
    await world.sync([template("order", body="Hi {{1}}, order {{2}}"), template("paused", status="PAUSED")])
    with pytest.raises(TemplateUnknown):
        await world.send("nope")
    with pytest.raises(TemplateUnknown):
        await world.send("order", [body("a", "b")], language="pt_BR")
    with pytest.raises(TemplateNotApproved) as paused:
        await world.send("paused")
    assert "PAUSED" in paused.value.message
    with pytest.raises(TemplateParametersMismatch) as mismatch:
        await world.send("order", [body("Ana")])
    assert "expected 2 body parameters, got 1" in mismatch.value.message
    assert world.store.messages == {}
    await world.send("order", [body("Ana", "A-1")])
    assert len(world.store.messages) == 1


async def test_a_number_registered_without_waba_is_not_checked() -> None:
    world = World(waba=None)
    await world.send("anything", [body("x")])
    assert len(world.store.messages) == 1


# --------------------------------------------------------------------------- list


async def test_list_filters_by_number_status_and_name_and_never_shows_another_organization() -> None:
    world = World()
    await world.sync([template("order_update"), template("promo", status="REJECTED"), template("order_late")])
    mine = world.stored()["order_update", "en_US"]
    theirs = dataclasses.replace(mine, id=uuid4(), organization_id=OTHER)
    world.store.templates[theirs.id] = theirs
    listing = world.app.list_templates
    viewer = actor(ORG, Role.VIEWER)
    found, total = await listing.execute(viewer, number_id=None, status=None, query=None, limit=10, offset=0)
    assert total == 3 and all(t.organization_id == ORG for t in found)
    found, total = await listing.execute(viewer, number_id=world.number.id, status="approved", query="ORDER",
                                         limit=1, offset=1)
    assert total == 2 and [t.name for t in found] == ["order_update"]
    with pytest.raises(InvalidValue):
        await listing.execute(viewer, number_id=None, status="bogus", query=None, limit=10, offset=0)
    with pytest.raises(WhatsAppNumberNotFound):
        await listing.execute(actor(OTHER, Role.VIEWER), number_id=world.number.id, status=None, query=None,
                              limit=10, offset=0)
    found, total = await listing.execute(actor(OTHER, Role.VIEWER), number_id=None, status=None, query=None,
                                         limit=10, offset=0)
    assert total == 1 and found[0].id == theirs.id


# --------------------------------------------------------------------------- webhooks


async def test_template_webhooks_update_status_quality_and_category_through_the_inbox() -> None:
    world = World()
    order = template("order", body="Hi {{1}}")
    await world.sync([order])
    factory = world.factory
    ingest, process = world.app.ingest_webhook, world.app.process_inbox

    async def deliver(payload: dict[str, Any]) -> dict[str, int] | None:
        raw = builders.webhook_body(payload)
        webhook_id = await ingest.execute(raw, builders.sign("secret", raw))
        while (await process.execute()).claimed:
            pass
        assert webhook_id is not None
        return factory.store.webhook_events[webhook_id].summary

    def current() -> MessageTemplate:
        return next(iter(factory.store.templates.values()))

    def at(minutes: int) -> int:  # Meta's entry time, minutes after the sync started reading
        return int((T0 + timedelta(minutes=minutes)).timestamp())

    assert await deliver(status_update_webhook(WABA, order["id"], "order", "PAUSED", at=at(1))) == {"templates": 1}
    assert current().status == "PAUSED"
    await deliver(quality_update_webhook(WABA, order["id"], "order", "GREEN", "RED", at=at(2)))
    await deliver(category_update_webhook(WABA, order["id"], "order", "UTILITY", "MARKETING", at=at(3)))
    assert (current().status, current().quality_score, current().category) == ("PAUSED", "RED", "MARKETING")
    await deliver(status_update_webhook(WABA, order["id"], "order", "REJECTED", reason="INCORRECT_CATEGORY",
                                        at=at(4)))
    assert (current().status, current().rejected_reason) == ("REJECTED", "INCORRECT_CATEGORY")
    await deliver(status_update_webhook("555", order["id"], "order", "APPROVED", at=at(5)))  # another WABA
    assert current().status == "REJECTED"
    await deliver(status_update_webhook(WABA, order["id"], "order", "REINSTATED", at=at(6)))
    assert current().status == "APPROVED"
    await deliver(status_update_webhook(WABA, order["id"], "order", "PAUSED", at=at(5)))  # a late, older delivery
    assert current().status == "APPROVED"
    await deliver(status_update_webhook(WABA, order["id"], "order", "DISABLED", at=at(-1)))  # before the sync read
    assert current().status == "APPROVED" and current().event_at == T0 + timedelta(minutes=6)


async def test_a_cursor_that_does_not_move_fails_the_sync_without_marking_anything_deleted() -> None:
    world = World()
    await world.sync([template("a"), template("b"), template("c")])

    class Stuck(PagedCatalog):
        async def templates_page(self, waba_id: str, access_token: str, after: str | None = None) -> TemplatePage:
            page = await super().templates_page(waba_id, access_token, None)
            return TemplatePage(templates=page.templates, after="same")

    with pytest.raises(GraphRejected):
        await world.syncer(Stuck([template("a")], size=1)).execute(ORG, world.number.id)
    assert {t.status for t in world.stored().values()} == {"APPROVED"}
