"""An automation's opening template: checked when the automation is created (known, APPROVED, parameters), and
again when it is dispatched (a template paused or disabled since fails every recipient with one clear reason
instead of one Graph error per recipient)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from application.ports.templates import RemoteTemplate
from domain.automations import AutomationStatus, RecipientState
from domain.flows.records import Flow, FlowStatus
from domain.templates import TemplateNotApproved, TemplateParametersMismatch, TemplatesNotSynced, TemplateUnknown
from tests.fake_graph.templates import template
from tests.fake_uow import FakeUnitOfWorkFactory as Factory
from tests.fakes import T0, FakeClock
from tests.fakes_channel import number
from tests.fakes_templates import FakeMessageTemplateRepository
from tests.unit.application.test_automations import World, wa

pytestmark = pytest.mark.unit

WABA = "102290129340398"
OPENING = {"name": "promo", "language": "pt_BR", "components": [
    {"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}, {"type": "text", "text": "{{coupon}}"}]}]}


@pytest.fixture
def tworld() -> World:
    uow, clock, org = Factory(), FakeClock(), uuid4()
    num = dataclasses.replace(number(org, throughput_mps=80), waba_id=WABA)
    flow = Flow(id=uuid4(), organization_id=org, name="Campaign", status=FlowStatus.ACTIVE, created_at=T0,
                updated_at=T0)
    uow.store.numbers[num.id] = num
    uow.store.flows[flow.id] = flow
    return World(uow, clock, org, num, flow)


async def seed(world: World, *metas: dict[str, Any]) -> None:
    async with world.uow(world.org) as uow:
        assert isinstance(uow.templates, FakeMessageTemplateRepository)
        await uow.templates.replace_for_waba(WABA, [RemoteTemplate(
            meta_template_id=m["id"], name=m["name"], language=m["language"], status=m["status"],
            components=m["components"]) for m in metas], world.clock.now())
        await uow.commit()


async def test_creating_an_automation_checks_its_opening_template(tworld: World) -> None:
    entries = [wa("5511900000001", variables={"first": "Ana", "coupon": "X"})]
    with pytest.raises(TemplatesNotSynced):
        await tworld.create(entries, template=OPENING)
    await seed(tworld, template("promo", language="pt_BR", body="Oi {{1}}, cupom {{2}}"),
           template("paused", language="pt_BR", status="PAUSED"))
    with pytest.raises(TemplateUnknown):
        await tworld.create(entries, template={**OPENING, "name": "other"})
    with pytest.raises(TemplateNotApproved) as paused:
        await tworld.create(entries, template={**OPENING, "name": "paused"})
    assert "paused (pt_BR) is PAUSED" in paused.value.message
    one = {**OPENING, "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}]}]}
    with pytest.raises(TemplateParametersMismatch) as mismatch:
        await tworld.create(entries, template=one)
    assert "expected 2 body parameters, got 1" in mismatch.value.message
    assert tworld.store.automations == {}
    automation = await tworld.create(entries, template=OPENING)
    assert automation.status is AutomationStatus.DRAFT


async def test_a_template_paused_after_creation_fails_every_recipient_with_its_reason_at_dispatch(
        tworld: World) -> None:
    await seed(tworld, template("promo", language="pt_BR", body="Oi {{1}}, cupom {{2}}"))
    automation = await tworld.create([wa(f"55119000000{i:02}", variables={"first": "A", "coupon": "C"})
                                      for i in range(5)], template=OPENING)
    await tworld.start(automation)
    tworld.clock.advance(timedelta(minutes=1))
    await seed(tworld, template("promo", language="pt_BR", status="PAUSED", body="Oi {{1}}, cupom {{2}}"))
    await tworld.dispatch(automation)
    recipients = tworld.recipients(automation)
    assert [(r.state, r.error_title) for r in recipients] == \
        [(RecipientState.FAILED, "Template promo (pt_BR) is PAUSED: only an APPROVED template can be sent.")] * 5
    assert tworld.outbound() == []  # nothing queued for Meta to refuse
    assert tworld.automation(automation).status is AutomationStatus.COMPLETED


async def test_an_approved_template_is_dispatched_as_before(tworld: World) -> None:
    await seed(tworld, template("promo", language="pt_BR", body="Oi {{1}}, cupom {{2}}"))
    automation = await tworld.create([wa("5511900000001", variables={"first": "Ana", "coupon": "X"})],
                                     template=OPENING)
    await tworld.start(automation)
    await tworld.dispatch(automation)
    [message] = tworld.outbound()
    assert message.content["template"]["components"][0]["parameters"][0]["text"] == "Ana"
