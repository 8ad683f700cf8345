"""Contacts: create, search, partial update, delete, and tenant isolation (SPEC.md, "Contacts")."""

from __future__ import annotations

import copy
from uuid import uuid4

import pytest

from application.authorization import Actor
from application.use_cases.contacts.common import UNSET
from application.use_cases.contacts.create_contact import CreateContactCommand
from application.use_cases.contacts.update_contact import UpdateContactCommand
from domain.contacts import Contact, ContactAlreadyExists, ContactNotFound, InvalidTag, InvalidWhatsAppId
from domain.errors import InvalidValue, PermissionDenied
from domain.identity import InvalidEmail, Role
from tests.unit.conftest import UseCases


async def _create(core: UseCases, actor: Actor, whatsapp_id: str, **fields: object) -> Contact:
    return await core.create_contact.execute(actor, CreateContactCommand(whatsapp_id=whatsapp_id, **fields))


async def _search(core: UseCases, actor: Actor, query: str | None = None, limit: int = 50,
                  offset: int = 0) -> tuple[list[str], int]:
    page, total = await core.search_contacts.execute(actor, query=query, limit=limit, offset=offset)
    return [c.name or c.whatsapp_id for c in page], total


@pytest.fixture
async def admin(core: UseCases) -> Actor:
    return (await core.new_organization())[1]


class TestCreate:
    async def test_normalizes_and_stores_in_the_actors_organization(self, core: UseCases, admin: Actor) -> None:
        contact = await _create(core, admin, "+55 11 9-8765-4321", name="  Maria Silva ", email=" Maria@Example.COM",
                                tags=["VIP", " vip", "lead"], attributes={"plan": "gold"}, opted_out=True)

        stored = core.store.contacts[contact.id]
        assert stored == contact
        assert stored.organization_id == admin.organization_id
        assert (stored.whatsapp_id, stored.name, stored.email) == ("5511987654321", "Maria Silva",
                                                                   "maria@example.com")
        assert (stored.tags, stored.attributes) == (["VIP", "lead"], {"plan": "gold"})
        assert stored.opted_out and stored.opted_out_at == core.clock.now()
        assert stored.created_at == stored.updated_at == core.clock.now()

    async def test_blank_name_and_email_become_none(self, core: UseCases, admin: Actor) -> None:
        contact = await _create(core, admin, "5511987654321", name="   ", email="")
        assert (contact.name, contact.email, contact.opted_out, contact.opted_out_at) == (None, None, False, None)

    async def test_a_duplicate_whatsapp_id_in_the_organization_is_refused(self, core: UseCases, admin: Actor) -> None:
        await _create(core, admin, "5511987654321", name="first")
        with pytest.raises(ContactAlreadyExists) as raised:
            await _create(core, admin, "+55 11 98765-4321", name="second")
        assert raised.value.code == "contact_already_exists"
        assert [c.name for c in core.store.contacts.values()] == ["first"]

    async def test_the_same_whatsapp_id_in_another_organization_is_fine(self, core: UseCases, admin: Actor) -> None:
        _, other = await core.new_organization()
        await _create(core, admin, "5511987654321")
        await _create(core, other, "5511987654321")
        assert len(core.store.contacts) == 2

    @pytest.mark.parametrize(("fields", "error"), [
        ({"whatsapp_id": "(11) 98765-4321"}, InvalidWhatsAppId),
        ({"whatsapp_id": "1234567"}, InvalidWhatsAppId),
        ({"whatsapp_id": "5511987654321", "email": "not-an-email"}, InvalidEmail),
        ({"whatsapp_id": "5511987654321", "tags": ["!bad"]}, InvalidTag),
        ({"whatsapp_id": "5511987654321", "attributes": {str(i): i for i in range(101)}}, InvalidValue),
    ])
    async def test_invalid_values_store_nothing(self, core: UseCases, admin: Actor, fields: dict[str, object],
                                                error: type[Exception]) -> None:
        with pytest.raises(error):
            await core.create_contact.execute(admin, CreateContactCommand(**fields))  # type: ignore[arg-type]
        assert core.store.contacts == {}

    async def test_a_viewer_may_not_create_but_an_agent_may(self, core: UseCases, admin: Actor) -> None:
        viewer = await core.actor_with_role(admin.organization_id, Role.VIEWER)
        agent = await core.actor_with_role(admin.organization_id, Role.AGENT)
        with pytest.raises(PermissionDenied):
            await _create(core, viewer, "5511987654321")
        assert core.store.contacts == {}
        assert (await _create(core, agent, "5511987654321")).organization_id == admin.organization_id


class TestSearch:
    @pytest.fixture
    async def people(self, core: UseCases, admin: Actor) -> None:
        for whatsapp_id, name, email in [
            ("5511900000001", "Ana Paula", "ana@acme.com"),
            ("5511900000002", "Bruno", "bruno@example.com"),
            ("5521900000003", "Mariana", None),
            ("5511900000004", None, "ANAlytics@corp.io"),
        ]:
            core.clock.advance(seconds=1)
            await _create(core, admin, whatsapp_id, name=name, email=email)

    @pytest.mark.parametrize(("query", "expected"), [
        (None, ["5511900000004", "Mariana", "Bruno", "Ana Paula"]),
        ("", ["5511900000004", "Mariana", "Bruno", "Ana Paula"]),
        ("   ", ["5511900000004", "Mariana", "Bruno", "Ana Paula"]),
        ("ana", ["5511900000004", "Mariana", "Ana Paula"]),  # name, name, email: case-insensitive substrings
        ("ANA", ["5511900000004", "Mariana", "Ana Paula"]),
        (" ana ", ["5511900000004", "Mariana", "Ana Paula"]),
        ("example.com", ["Bruno"]),
        ("5521", ["Mariana"]),
        ("11900", ["5511900000004", "Bruno", "Ana Paula"]),
        ("corp.IO", ["5511900000004"]),
        ("nobody", []),
        ("%", []),
        ("_", []),
    ])
    async def test_substring_of_name_email_or_whatsapp_id_newest_first(self, core: UseCases, admin: Actor,
                                                                      people: None, query: str | None,
                                                                      expected: list[str]) -> None:
        assert await _search(core, admin, query) == (expected, len(expected))

    async def test_pages_carry_the_total(self, core: UseCases, admin: Actor, people: None) -> None:
        assert await _search(core, admin, "ana", limit=2) == (["5511900000004", "Mariana"], 3)
        assert await _search(core, admin, "ana", limit=2, offset=2) == (["Ana Paula"], 3)
        assert await _search(core, admin, "ana", limit=2, offset=4) == ([], 3)

    async def test_equal_creation_times_are_ordered_by_id_descending(self, core: UseCases, admin: Actor) -> None:
        created = [await _create(core, admin, f"55119000000{i:02d}") for i in range(6)]
        page, total = await core.search_contacts.execute(admin, query=None, limit=50, offset=0)
        assert total == 6
        assert [c.id for c in page] == sorted((c.id for c in created), reverse=True)

    async def test_a_viewer_may_search(self, core: UseCases, admin: Actor, people: None) -> None:
        viewer = await core.actor_with_role(admin.organization_id, Role.VIEWER)
        assert (await _search(core, viewer, "bruno")) == (["Bruno"], 1)


class TestUpdate:
    @pytest.fixture
    async def maria(self, core: UseCases, admin: Actor) -> Contact:
        return await _create(core, admin, "5511987654321", name="Maria", email="maria@example.com",
                             tags=["vip"], attributes={"plan": "gold"})

    async def _update(self, core: UseCases, actor: Actor, contact: Contact, **fields: object) -> Contact:
        return await core.update_contact.execute(actor, UpdateContactCommand(contact_id=contact.id, **fields))

    async def test_unset_fields_are_kept(self, core: UseCases, admin: Actor, maria: Contact) -> None:
        core.clock.advance(minutes=5)
        updated = await self._update(core, admin, maria, name=" Maria Souza ")

        stored = core.store.contacts[maria.id]
        assert updated == stored
        assert (stored.name, stored.email, stored.whatsapp_id, stored.tags, stored.attributes) == (
            "Maria Souza", "maria@example.com", "5511987654321", ["vip"], {"plan": "gold"})
        assert stored.updated_at == core.clock.now() and stored.created_at == maria.created_at

    async def test_none_clears_name_and_email(self, core: UseCases, admin: Actor, maria: Contact) -> None:
        await self._update(core, admin, maria, name=None, email=None)
        stored = core.store.contacts[maria.id]
        assert (stored.name, stored.email, stored.tags) == (None, None, ["vip"])

    async def test_every_field_can_change(self, core: UseCases, admin: Actor, maria: Contact) -> None:
        await self._update(core, admin, maria, whatsapp_id="+1 415 555 2671", email="M@X.io", tags=["a", "A", "b"],
                           attributes={}, opted_out=True)
        stored = core.store.contacts[maria.id]
        assert (stored.whatsapp_id, stored.email, stored.tags, stored.attributes) == (
            "14155552671", "m@x.io", ["a", "b"], {})
        assert stored.opted_out and stored.opted_out_at == core.clock.now()
        opted_out_at = core.clock.now()
        core.clock.advance(minutes=1)
        await self._update(core, admin, maria, opted_out=UNSET, name="still out")
        assert core.store.contacts[maria.id].opted_out_at == opted_out_at
        await self._update(core, admin, maria, opted_out=True)
        assert core.store.contacts[maria.id].opted_out_at == opted_out_at
        await self._update(core, admin, maria, opted_out=False)
        assert (core.store.contacts[maria.id].opted_out, core.store.contacts[maria.id].opted_out_at) == (False, None)

    async def test_a_taken_whatsapp_id_is_refused_and_nothing_changes(self, core: UseCases, admin: Actor,
                                                                       maria: Contact) -> None:
        other = await _create(core, admin, "5511911112222", name="Other")
        before = copy.deepcopy(core.store.contacts)

        with pytest.raises(ContactAlreadyExists):
            await self._update(core, admin, other, whatsapp_id="+55 11 98765-4321", name="changed too")

        assert core.store.contacts == before

    async def test_its_own_whatsapp_id_in_another_format_is_fine(self, core: UseCases, admin: Actor,
                                                                  maria: Contact) -> None:
        assert (await self._update(core, admin, maria, whatsapp_id="+55 11 98765-4321")).whatsapp_id == \
            "5511987654321"

    async def test_invalid_values_change_nothing(self, core: UseCases, admin: Actor, maria: Contact) -> None:
        before = copy.deepcopy(core.store.contacts)
        for fields in ({"whatsapp_id": "abc"}, {"email": "nope", "name": "x"}, {"tags": ["-x"]}):
            with pytest.raises(InvalidValue):
                await self._update(core, admin, maria, **fields)
        assert core.store.contacts == before

    async def test_a_viewer_may_not_update(self, core: UseCases, admin: Actor, maria: Contact) -> None:
        viewer = await core.actor_with_role(admin.organization_id, Role.VIEWER)
        with pytest.raises(PermissionDenied):
            await self._update(core, viewer, maria, name="x")
        assert core.store.contacts[maria.id].name == "Maria"


class TestDelete:
    async def test_delete_then_get_is_not_found(self, core: UseCases, admin: Actor) -> None:
        contact = await _create(core, admin, "5511987654321")
        assert (await core.get_contact.execute(admin, contact.id)) == contact

        await core.delete_contact.execute(admin, contact.id)

        assert core.store.contacts == {}
        with pytest.raises(ContactNotFound) as raised:
            await core.get_contact.execute(admin, contact.id)
        assert raised.value.code == "contact_not_found"
        with pytest.raises(ContactNotFound):
            await core.delete_contact.execute(admin, contact.id)
        with pytest.raises(ContactNotFound):
            await core.update_contact.execute(admin, UpdateContactCommand(contact_id=contact.id, name="x"))
        assert (await _create(core, admin, "5511987654321")).id != contact.id  # the whatsapp_id is free again

    async def test_a_viewer_may_not_delete(self, core: UseCases, admin: Actor) -> None:
        contact = await _create(core, admin, "5511987654321")
        viewer = await core.actor_with_role(admin.organization_id, Role.VIEWER)
        with pytest.raises(PermissionDenied):
            await core.delete_contact.execute(viewer, contact.id)
        assert contact.id in core.store.contacts


class TestTenantIsolation:
    async def test_another_organizations_contact_is_not_found_and_stays_unchanged(self, core: UseCases,
                                                                                    admin: Actor) -> None:
        _, intruder = await core.new_organization()
        theirs = await _create(core, admin, "5511987654321", name="Secret")
        before = copy.deepcopy(core.store.contacts[theirs.id])

        with pytest.raises(ContactNotFound):
            await core.get_contact.execute(intruder, theirs.id)
        with pytest.raises(ContactNotFound):
            await core.update_contact.execute(intruder, UpdateContactCommand(contact_id=theirs.id, name="Mine"))
        with pytest.raises(ContactNotFound):
            await core.delete_contact.execute(intruder, theirs.id)
        assert await core.search_contacts.execute(intruder, query="secret", limit=50, offset=0) == ([], 0)
        assert await core.search_contacts.execute(intruder, query=None, limit=50, offset=0) == ([], 0)

        assert core.store.contacts == {theirs.id: before}

    async def test_unknown_ids_are_not_found(self, core: UseCases, admin: Actor) -> None:
        with pytest.raises(ContactNotFound):
            await core.get_contact.execute(admin, uuid4())

    async def test_a_super_admin_acting_in_an_organization_sees_its_contacts(self, core: UseCases,
                                                                             admin: Actor) -> None:
        theirs = await _create(core, admin, "5511987654321", name="Customer")
        _, platform = await core.new_organization()
        root = await core.seed_user(platform.organization_id, Role.SUPER_ADMIN)
        pair, _ = await core.sign_in(root.email)

        acting = await core.actor(pair.access_token, admin.organization_id)
        at_home = await core.actor(pair.access_token)

        assert (await core.get_contact.execute(acting, theirs.id)).name == "Customer"
        with pytest.raises(ContactNotFound):
            await core.get_contact.execute(at_home, theirs.id)
