"""The message template repository against PostgreSQL: upsert by (organization, WABA, name, language), templates
gone from Meta marked DELETED, updated_at only on a change, filters, webhook changes, row-level security."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import text

from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from application.ports.templates import RemoteTemplate, TemplateChange, TemplateFilter
from tests.e2e.whatsapp_support import random_digits
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration

BODY = [{"type": "BODY", "text": "Hi {{1}}"}]


def remote(name: str, language: str = "en_US", status: str = "APPROVED", meta_id: str | None = None,
           **fields: object) -> RemoteTemplate:
    return RemoteTemplate(meta_template_id=meta_id or f"{abs(hash((name, language))) % 10**9}", name=name,
                          language=language, status=status, components=BODY, **fields)  # type: ignore[arg-type]


async def replace(uow_factory: SqlAlchemyUnitOfWorkFactory, org: UUID, waba: str, templates: list[RemoteTemplate],
                  now: datetime) -> int:
    async with uow_factory(org) as uow:
        deleted = await uow.templates.replace_for_waba(waba, templates, now)
        await uow.commit()
    return deleted


async def test_replace_upserts_marks_deleted_and_only_touches_updated_at_on_a_change(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    waba = random_digits()
    t0 = datetime.now(UTC)
    listed = [remote("a"), remote("b"), remote("a", "pt_BR"), remote("c", status="PENDING", category="MARKETING")]
    assert await replace(uow_factory, org, waba, listed, t0) == 0
    async with uow_factory(org) as uow:
        assert await uow.templates.has_any(waba) and not await uow.templates.has_any(random_digits())
        first = await uow.templates.get(waba, "a", "pt_BR")
        rows, total = await uow.templates.list(TemplateFilter(), limit=10, offset=0)
    assert first is not None and (first.status, first.components, first.synced_at) == ("APPROVED", BODY, t0)
    assert total == 4 and [(r.name, r.language) for r in rows] == [("a", "en_US"), ("a", "pt_BR"), ("b", "en_US"),
                                                                   ("c", "en_US")]
    t1 = t0 + timedelta(hours=1)
    assert await replace(uow_factory, org, waba, listed, t1) == 0  # idempotent
    t2 = t1 + timedelta(hours=1)
    assert await replace(uow_factory, org, waba, [remote("a"), remote("c", category="MARKETING")], t2) == 2
    async with uow_factory(org) as uow:
        by_key = {(r.name, r.language): r for r in (await uow.templates.list(TemplateFilter(), limit=10,
                                                                              offset=0))[0]}
    assert by_key["a", "en_US"].id == rows[0].id  # same row, upserted
    assert (by_key["a", "en_US"].updated_at, by_key["a", "en_US"].synced_at) == (t0, t2)  # unchanged since t0
    assert (by_key["c", "en_US"].status, by_key["c", "en_US"].updated_at) == ("APPROVED", t2)
    assert {k: r.status for k, r in by_key.items() if r.status == "DELETED"} == {
        ("b", "en_US"): "DELETED", ("a", "pt_BR"): "DELETED"}


async def test_filters_and_another_organization_sees_nothing(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    other, _ = await make_org(uow_factory)
    waba, second = random_digits(), random_digits()
    now = datetime.now(UTC)
    await replace(uow_factory, org, waba, [remote("order_update"), remote("promo_100%", status="REJECTED"),
                                           remote("order_late", status="PAUSED")], now)
    await replace(uow_factory, org, second, [remote("order_update")], now)
    async with uow_factory(org) as uow:
        _, total = await uow.templates.list(TemplateFilter(waba_ids=[waba]), limit=10, offset=0)
        assert total == 3
        rows, total = await uow.templates.list(TemplateFilter(query="ORDER_"), limit=1, offset=1)
        assert total == 3 and [(r.name, r.waba_id) for r in rows] == [("order_update", min(waba, second))]
        rows, total = await uow.templates.list(TemplateFilter(query="%"), limit=10, offset=0)  # escaped
        assert [r.name for r in rows] == ["promo_100%"]
        rows, total = await uow.templates.list(TemplateFilter(status="paused"), limit=10, offset=0)
        assert [r.name for r in rows] == ["order_late"]
        rows, total = await uow.templates.list(TemplateFilter(waba_ids=[]), limit=10, offset=0)
        assert total == 0
    async with uow_factory(other) as uow:
        assert await uow.templates.list(TemplateFilter(), limit=10, offset=0) == ([], 0)
        assert await uow.templates.get(waba, "order_update", "en_US") is None
        assert not await uow.templates.has_any(waba)
        assert await uow.templates.apply_changes_any_org(
            [TemplateChange(waba_id=waba, meta_template_id=remote("order_update").meta_template_id, status="PAUSED")],
            now) == 0  # a tenant scope changes only its own rows
    async with uow_factory(other) as uow:  # row-level security: even a raw query sees none of them
        count = (await uow.session.execute(text("SELECT count(*) FROM message_templates WHERE waba_id = :w"),
                                           {"w": waba})).scalar_one()
    assert count == 0


async def test_webhook_changes_reach_every_organizations_copy_in_system_scope(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    orgs = [(await make_org(uow_factory))[0] for _ in range(2)]
    waba = random_digits()
    now = datetime.now(UTC)
    for org in orgs:
        await replace(uow_factory, org, waba, [remote("order", meta_id="777"), remote("other", meta_id="778")], now)
    later = now + timedelta(minutes=1)
    async with uow_factory() as uow:
        changed = await uow.templates.apply_changes_any_org([
            TemplateChange(waba_id=waba, meta_template_id="777", status="PAUSED"),
            TemplateChange(waba_id=waba, meta_template_id="777", quality_score="RED"),
            TemplateChange(waba_id=waba, meta_template_id="", name="other", language="en_US", category="MARKETING"),
            TemplateChange(waba_id=random_digits(), meta_template_id="777", status="DISABLED")], later)
        await uow.commit()
    assert changed == 6
    for org in orgs:
        async with uow_factory(org) as uow:
            order = await uow.templates.get(waba, "order", "en_US")
            other = await uow.templates.get(waba, "other", "en_US")
        assert order is not None and (order.status, order.quality_score, order.updated_at) == ("PAUSED", "RED", later)
        assert other is not None and (other.category, other.status) == ("MARKETING", "APPROVED")
    async with uow_factory() as uow:  # the same change again changes nothing
        assert await uow.templates.apply_changes_any_org(
            [TemplateChange(waba_id=waba, meta_template_id="777", status="PAUSED")], later) == 0


async def test_a_stale_webhook_change_is_ignored(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    waba = random_digits()
    read_from = datetime(2026, 3, 1, 12, 0, 0, 400_000, tzinfo=UTC)  # the sync started reading then
    await replace(uow_factory, org, waba, [remote("order", meta_id="900")], read_from)

    async def apply(status: str, at: datetime) -> int:
        async with uow_factory() as uow:
            changed = await uow.templates.apply_changes_any_org(
                [TemplateChange(waba_id=waba, meta_template_id="900", status=status, occurred_at=at)], at)
            await uow.commit()
        return changed

    assert await apply("DISABLED", read_from - timedelta(seconds=1)) == 0  # already in what the sync read
    assert await apply("PAUSED", read_from.replace(microsecond=0)) == 1  # the same second counts as after
    assert await apply("APPROVED", read_from + timedelta(minutes=5)) == 1
    assert await apply("PAUSED", read_from + timedelta(minutes=2)) == 0  # a late delivery of an older change
    async with uow_factory(org) as uow:
        found = await uow.templates.get(waba, "order", "en_US")
    assert found is not None and (found.status, found.event_at) == ("APPROVED", read_from + timedelta(minutes=5))


async def test_a_sync_that_read_earlier_but_stores_later_does_not_win(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    waba = random_digits()
    t1 = datetime.now(UTC)
    await replace(uow_factory, org, waba, [remote("a"), remote("b")], t1 + timedelta(seconds=5))  # later read
    assert await replace(uow_factory, org, waba, [remote("a", status="PAUSED")], t1) == 0  # older read, stored last
    async with uow_factory(org) as uow:
        rows = {r.name: (r.status, r.synced_at) for r in (await uow.templates.list(TemplateFilter(waba_ids=[waba]),
                                                                                    limit=10, offset=0))[0]}
    assert rows == {"a": ("APPROVED", t1 + timedelta(seconds=5)), "b": ("APPROVED", t1 + timedelta(seconds=5))}
