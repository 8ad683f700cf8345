"""A state machine over the contact use cases for two organizations, checked against a plain model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from application.use_cases.contacts.common import UNSET
from application.use_cases.contacts.create_contact import CreateContactCommand
from application.use_cases.contacts.update_contact import UpdateContactCommand
from domain.contacts import Contact, ContactAlreadyExists, ContactNotFound
from tests.unit.conftest import make_use_cases, run_sync

ORGS = ("a", "b")
NUMBERS = ["5511900000001", "5511900000002", "5521987654321", "14155552671", "447700900123"]
numbers = st.sampled_from(NUMBERS)
# How a person might type a number: the use cases must normalize all of these to the same digits.
styles = st.sampled_from([
    lambda d: d, lambda d: "+" + d, lambda d: f"+{d[:2]} {d[2:4]} {d[4:]}", lambda d: f" {d[:3]}-{d[3:7]}-{d[7:]} ",
])
names = st.none() | st.sampled_from(["Ana", "ana paula", "BRUNO", "Mariana", "José", "  spaced  "]) | st.text(
    "abnAB5 ", max_size=6)
emails = st.none() | st.sampled_from(["ana@acme.com", "Bruno@Example.com", "x5@corp.io", ""])
queries = st.none() | st.sampled_from(["ana", "AN", "5511", "0000", "example", "@", "corp", "", " ", "é"]) | st.text(
    "abn15@. ", max_size=3)


def _name(name: str | None) -> str | None:
    return (name.strip() or None) if name is not None else None


def _email(email: str | None) -> str | None:
    return email.lower() if email else None


@dataclass
class Row:
    whatsapp_id: str
    name: str | None
    email: str | None
    created_at: datetime

    def matches(self, query: str | None) -> bool:
        return query is None or any(query.lower() in (v or "").lower() for v in (self.name, self.email,
                                                                                 self.whatsapp_id))


class ContactsOfTwoOrganizations(RuleBasedStateMachine):
    contacts = Bundle("contacts")

    def __init__(self) -> None:
        super().__init__()
        self.core = make_use_cases()
        self.actors = {}
        for key in ORGS:
            pair = run_sync(self.core.signup(f"admin-{key}@example.com", organization=f"Org {key}"))
            self.actors[key] = run_sync(self.core.actor(pair.access_token))
        self.model: dict[str, dict[UUID, Row]] = {key: {} for key in ORGS}

    def _taken(self, org: str, whatsapp_id: str, other_than: UUID | None = None) -> bool:
        return any(r.whatsapp_id == whatsapp_id and i != other_than for i, r in self.model[org].items())

    def _check(self, contact: Contact, org: str) -> None:
        row = self.model[org][contact.id]
        assert contact.organization_id == self.actors[org].organization_id
        assert (contact.whatsapp_id, contact.name, contact.email, contact.created_at) == (
            row.whatsapp_id, row.name, row.email, row.created_at)

    @rule(target=contacts, org=st.sampled_from(ORGS), number=numbers, style=styles, name=names, email=emails,
          tick=st.integers(0, 2))
    def create(self, org: str, number: str, style: Any, name: str | None, email: str | None, tick: int) -> Any:
        self.core.clock.advance(seconds=tick)
        command = CreateContactCommand(whatsapp_id=style(number), name=name, email=email)
        if self._taken(org, number):
            with pytest.raises(ContactAlreadyExists):
                run_sync(self.core.create_contact.execute(self.actors[org], command))
            return multiple()
        contact = run_sync(self.core.create_contact.execute(self.actors[org], command))
        self.model[org][contact.id] = Row(number, _name(name), _email(email), self.core.clock.now())
        self._check(contact, org)
        return (org, contact.id)

    @rule(target_=contacts, as_org=st.sampled_from(ORGS), number=st.none() | numbers, style=styles,
          name=st.just(UNSET) | names, email=st.just(UNSET) | emails)
    def update(self, target_: tuple[str, UUID], as_org: str, number: str | None, style: Any, name: Any,
               email: Any) -> None:
        _, contact_id = target_
        command = UpdateContactCommand(contact_id=contact_id, whatsapp_id=UNSET if number is None else style(number),
                                       name=name, email=email)
        rows = self.model[as_org]
        if contact_id not in rows:  # deleted, or another organization's: both look the same
            with pytest.raises(ContactNotFound):
                run_sync(self.core.update_contact.execute(self.actors[as_org], command))
        elif number is not None and self._taken(as_org, number, other_than=contact_id):
            with pytest.raises(ContactAlreadyExists):
                run_sync(self.core.update_contact.execute(self.actors[as_org], command))
        else:
            contact = run_sync(self.core.update_contact.execute(self.actors[as_org], command))
            row = rows[contact_id]
            row.whatsapp_id = number if number is not None else row.whatsapp_id
            row.name = row.name if name is UNSET else _name(name)
            row.email = row.email if email is UNSET else _email(email)
            self._check(contact, as_org)

    @rule(target_=contacts, as_org=st.sampled_from(ORGS))
    def delete(self, target_: tuple[str, UUID], as_org: str) -> None:
        _, contact_id = target_
        if contact_id in self.model[as_org]:
            run_sync(self.core.delete_contact.execute(self.actors[as_org], contact_id))
            del self.model[as_org][contact_id]
        else:
            with pytest.raises(ContactNotFound):
                run_sync(self.core.delete_contact.execute(self.actors[as_org], contact_id))

    @rule(target_=contacts, as_org=st.sampled_from(ORGS))
    def get(self, target_: tuple[str, UUID], as_org: str) -> None:
        _, contact_id = target_
        if contact_id in self.model[as_org]:
            self._check(run_sync(self.core.get_contact.execute(self.actors[as_org], contact_id)), as_org)
        else:
            with pytest.raises(ContactNotFound):
                run_sync(self.core.get_contact.execute(self.actors[as_org], contact_id))

    @rule(org=st.sampled_from(ORGS), query=queries, limit=st.integers(1, 4), offset=st.integers(0, 5))
    def search(self, org: str, query: str | None, limit: int, offset: int) -> None:
        text = (query or "").strip() or None
        expected = sorted(((r.created_at, i) for i, r in self.model[org].items() if r.matches(text)), reverse=True)
        page, total = run_sync(self.core.search_contacts.execute(self.actors[org], query=query, limit=limit,
                                                                 offset=offset))
        assert total == len(expected)
        assert [c.id for c in page] == [i for _, i in expected[offset:offset + limit]]
        for contact in page:
            self._check(contact, org)

    @invariant()
    def each_organization_sees_exactly_its_own_contacts(self) -> None:
        for org in ORGS:
            page, total = run_sync(self.core.search_contacts.execute(self.actors[org], query=None, limit=10_000,
                                                                     offset=0))
            assert total == len(page) == len(self.model[org])
            assert {c.id for c in page} == set(self.model[org])
            for contact in page:
                self._check(contact, org)

    @invariant()
    def whatsapp_ids_are_unique_per_organization(self) -> None:
        for org in ORGS:
            stored = [c.whatsapp_id for c in self.core.store.contacts.values()
                      if c.organization_id == self.actors[org].organization_id]
            assert len(stored) == len(set(stored))
        assert len(self.core.store.contacts) == sum(len(rows) for rows in self.model.values())


TestContactsOfTwoOrganizations = ContactsOfTwoOrganizations.TestCase
TestContactsOfTwoOrganizations.settings = settings(max_examples=80, stateful_step_count=30, deadline=None,
                                                   suppress_health_check=[HealthCheck.too_slow])
