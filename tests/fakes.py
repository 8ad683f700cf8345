"""In-memory second implementations of the application ports, for unit tests.

Each fake subclasses its port explicitly and mirrors the PostgreSQL adapters' observable semantics
(organization scoping and row-level security, unique constraints, CHECK constraints, throttle
arithmetic). All state lives in one ``FakeStore`` and the one ``FakeUnitOfWork`` (``tests/fake_uow.py``)
works on a private copy of it and swaps a copy of that in on ``commit()``, so whatever a use case wrote before
raising is really gone. This module holds the identity, contact and import repositories and the small fakes.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from uuid import UUID, uuid4

from application.errors import InvalidToken
from application.ports.common import Clock, JobQueue, Mailer
from application.ports.contact_imports import ContactImportRepository
from application.ports.contacts import ContactListing, ContactRepository
from application.ports.identity import (
    AccessCheck,
    AccessClaims,
    AccessFacts,
    AccessTokenService,
    IssuedAccessToken,
    LoginThrottle,
    OrganizationRepository,
    PasswordHasher,
    PasswordResetTokenRepository,
    RefreshTokenRecord,
    SessionRepository,
    UserRepository,
    seconds_left,
)
from application.ports.uow import TransactionConflict
from domain.contact_imports import BatchCounts, ContactImport, ContactRow, ImportMode
from domain.contacts import Contact, ContactAlreadyExists
from domain.identity import EmailAlreadyRegistered, Organization, User

if TYPE_CHECKING:
    from tests.fake_uow import FakeStore, FakeUnitOfWork, FakeUnitOfWorkFactory

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ACCESS_TTL = timedelta(minutes=15)
_DB_WHATSAPP_ID = re.compile(r"[0-9]{8,15}")  # the contacts table's CHECK constraint, ASCII digits only


class ConstraintViolation(RuntimeError):
    """What the database would refuse (an IntegrityError the adapters do not translate: a 500)."""


# --------------------------------------------------------------------------- time, mail, jobs, crypto


class FakeClock(Clock):
    def __init__(self, start: datetime = T0) -> None:
        self.set(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None or when.utcoffset() != timedelta(0):
            raise ValueError("FakeClock keeps aware UTC times only")
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += (delta or timedelta()) + timedelta(**kwargs)
        return self._now


class QueuedJob(NamedTuple):
    entrypoint: str
    payload: dict[str, Any]
    dedupe_key: str | None
    delay: timedelta | None


class FakeJobQueue(JobQueue):
    """Records jobs; a dedupe_key is refused while an unprocessed job holds it."""

    def __init__(self) -> None:
        self.jobs: list[QueuedJob] = []
        self.priorities: list[int] = []
        self.processed: set[int] = set()
        self.wakes: list[tuple[str, str]] = []

    async def wake(self, topic: str, payload: str = "") -> None:
        self.wakes.append((topic, payload))

    async def enqueue(self, entrypoint: str, payload: Mapping[str, Any], *, dedupe_key: str | None = None,
                      delay: timedelta | None = None, priority: int = 0) -> bool:
        if dedupe_key is not None and any(
                job.dedupe_key == dedupe_key for i, job in enumerate(self.jobs) if i not in self.processed):
            return False
        self.jobs.append(QueuedJob(entrypoint, copy.deepcopy(dict(payload)), dedupe_key, delay))
        self.priorities.append(priority)
        return True

    def clone(self) -> FakeJobQueue:
        queue = FakeJobQueue()
        queue.jobs, queue.priorities, queue.processed = list(self.jobs), list(self.priorities), set(self.processed)
        queue.wakes = list(self.wakes)
        return queue

    def pending(self, entrypoint: str | None = None) -> list[QueuedJob]:
        return [job for i, job in enumerate(self.jobs)
                if i not in self.processed and entrypoint in (None, job.entrypoint)]

    def take(self, entrypoint: str | None = None) -> list[QueuedJob]:
        """The pending jobs (of one entrypoint), now marked processed."""
        taken = []
        for i, job in enumerate(self.jobs):
            if i not in self.processed and entrypoint in (None, job.entrypoint):
                self.processed.add(i)
                taken.append(job)
        return taken


class SentMail(NamedTuple):
    to: str
    subject: str
    body: str


class FakeMailer(Mailer):
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.sent: list[SentMail] = []
        self.fail_with = fail_with

    async def send(self, *, to: str, subject: str, body: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(SentMail(to, subject, body))


class FakePasswordHasher(PasswordHasher):
    """Counts what a real hasher would spend: ``hashes`` computed and ``verifies`` run."""

    PREFIX = "fake$"

    def __init__(self) -> None:
        self.hashes = self.verifies = 0
        self._dummy: str | None = None

    def _digest(self, password: str) -> str:
        return self.PREFIX + hashlib.sha256(password.encode("utf-8")).hexdigest()

    async def hash(self, password: str) -> str:
        self.hashes += 1
        return self._digest(password)

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifies += 1
        return hmac.compare_digest(password_hash.encode("utf-8"), self._digest(password).encode("utf-8"))

    async def dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(16))
        return self._dummy


class FakeAccessTokenService(AccessTokenService):
    """Opaque random tokens mapped to their claims; unknown or expired tokens raise InvalidToken."""

    def __init__(self, clock: Clock, ttl: timedelta = ACCESS_TTL) -> None:
        self._clock, self._ttl = clock, ttl
        self.issued: dict[str, AccessClaims] = {}

    def issue(self, *, user: User, session_id: UUID, now: datetime) -> IssuedAccessToken:
        token, jti = "fake-access." + secrets.token_urlsafe(16), uuid4().hex
        claims = AccessClaims(user_id=user.id, organization_id=user.organization_id, role=user.role,
                              session_id=session_id, jti=jti, expires_at=now + self._ttl)
        self.issued[token] = claims
        return IssuedAccessToken(token=token, jti=jti, expires_at=claims.expires_at)

    def decode(self, token: str) -> AccessClaims:
        claims = self.issued.get(token)
        if claims is None or self._clock.now() >= claims.expires_at:
            raise InvalidToken()
        return claims


# --------------------------------------------------------------------------- rows

_T = TypeVar("_T")


def clone_row(row: _T) -> _T:
    """Rows hold immutable values (str, UUID, datetime, enums), except a contact's tags and attributes."""
    if isinstance(row, Contact):
        clone = copy.copy(row)
        clone.tags, clone.attributes = list(row.tags), copy.deepcopy(row.attributes)
        return clone  # type: ignore[return-value]
    if isinstance(row, ContactImport):
        found = copy.copy(row)
        found.mapping, found.errors = dict(row.mapping), list(row.errors)
        return found  # type: ignore[return-value]
    return copy.copy(row)



@dataclass
class SessionRow:
    id: UUID
    user_id: UUID
    organization_id: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    strict_rotation: bool = False


@dataclass
class RefreshTokenRow:
    id: UUID
    session_id: UUID
    token_hash: str
    parent_id: UUID | None
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class ThrottleRow:
    window_start: datetime
    count: int
    blocked_until: datetime | None = None


@dataclass
class ResetTokenRow:
    id: UUID
    user_id: UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class FakeAccessCheck(AccessCheck):
    """Reads the fake store like ``pytake_access`` reads the tables (system scope)."""

    def __init__(self, uow: FakeUnitOfWorkFactory) -> None:
        self._uow = uow

    async def facts(self, *, user_id: UUID, session_id: UUID, jti: str, now: datetime,
                    acting_organization_id: UUID | None) -> AccessFacts:
        async with self._uow() as uow:
            user = await uow.users.get_any_org(user_id)
            acting = acting_organization_id is None or await uow.organizations.get(acting_organization_id) is not None
            return AccessFacts(user_found=user is not None, organization_id=user.organization_id if user else None,
                               role=user.role if user else None, is_active=bool(user and user.is_active),
                               session_active=await uow.sessions.is_session_active(session_id, now),
                               denied=await uow.sessions.is_access_token_denied(jti),
                               acting_organization_exists=acting)


class FakeContactListing(ContactListing):
    def __init__(self, uow: FakeUnitOfWorkFactory) -> None:
        self._uow = uow

    async def search(self, organization_id: UUID, *, query: str | None, limit: int,
                     offset: int) -> tuple[list[Contact], int]:
        async with self._uow(organization_id) as uow:
            return await uow.contacts.search(query=query, limit=limit, offset=offset)


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _db(self) -> FakeStore:
        return self._uow.work

    @property
    def _org(self) -> UUID | None:
        return self._uow.organization_id

    def _scoped_org(self) -> UUID:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._org

    def _visible(self, organization_id: UUID) -> bool:
        """Row-level security: the system scope sees every row, a tenant scope only its own."""
        return self._org is None or self._org == organization_id


# --------------------------------------------------------------------------- identity repositories


class FakeOrganizationRepository(_Repo, OrganizationRepository):
    async def add(self, organization: Organization) -> None:
        if not self._visible(organization.id):
            raise ConstraintViolation("row-level security: organization of another tenant")
        if not 1 <= len(organization.name) <= 255 or organization.id in self._db.organizations:
            raise ConstraintViolation("organizations: bad name or duplicate id")
        self._db.organizations[organization.id] = clone_row(organization)

    async def get(self, organization_id: UUID) -> Organization | None:
        found = self._db.organizations.get(organization_id)
        return clone_row(found) if found is not None and self._visible(found.id) else None


class FakeUserRepository(_Repo, UserRepository):
    async def add(self, user: User) -> None:
        if not self._visible(user.organization_id):
            raise ConstraintViolation("row-level security: user of another tenant")
        if user.organization_id not in self._db.organizations or user.id in self._db.users:
            raise ConstraintViolation("users: unknown organization or duplicate id")
        if not 1 <= len(user.name) <= 255:
            raise ConstraintViolation("users: name length")
        if any(u.email.lower() == user.email.lower() for u in self._db.users.values()):
            raise EmailAlreadyRegistered()
        self._db.users[user.id] = clone_row(user)

    async def get(self, user_id: UUID) -> User | None:
        org = self._scoped_org()
        found = self._db.users.get(user_id)
        return clone_row(found) if found is not None and found.organization_id == org else None

    async def update(self, user: User) -> None:
        stored = self._db.users.get(user.id)
        if stored is None or stored.organization_id != user.organization_id or not self._visible(
                stored.organization_id):
            return  # an UPDATE that matches no row
        if not 1 <= len(user.name) <= 255:
            raise ConstraintViolation("users: name length")
        self._db.users[user.id] = stored.with_changes(
            name=user.name, role=user.role, is_active=user.is_active, password_hash=user.password_hash,
            updated_at=user.updated_at)

    async def list(self, *, limit: int, offset: int) -> tuple[list[User], int]:
        org = self._scoped_org()
        mine = sorted((u for u in self._db.users.values() if u.organization_id == org),
                      key=lambda u: (u.created_at, u.id), reverse=True)
        return [clone_row(u) for u in mine[offset:offset + limit]], len(mine)

    async def get_by_email_any_org(self, email: str) -> User | None:
        wanted = email.strip().lower()
        found = next((u for u in self._db.users.values() if u.email.lower() == wanted), None)
        return clone_row(found) if found is not None else None

    async def get_any_org(self, user_id: UUID) -> User | None:
        found = self._db.users.get(user_id)
        return clone_row(found) if found is not None else None


class FakeSessionRepository(_Repo, SessionRepository):
    async def create_session(self, *, session_id: UUID, user_id: UUID, organization_id: UUID, now: datetime,
                             expires_at: datetime) -> None:
        if not self._visible(organization_id) or session_id in self._db.sessions:
            raise ConstraintViolation("auth_sessions: another tenant or duplicate id")
        if user_id not in self._db.users:
            raise ConstraintViolation("auth_sessions: unknown user")
        self._db.sessions[session_id] = SessionRow(session_id, user_id, organization_id, now, expires_at)

    async def add_refresh_token(self, *, token_id: UUID, session_id: UUID, token_hash: str,
                                parent_id: UUID | None, now: datetime, expires_at: datetime) -> None:
        if token_hash in self._db.refresh_tokens or session_id not in self._db.sessions:
            raise ConstraintViolation("refresh_tokens: duplicate hash or unknown session")
        self._db.refresh_tokens[token_hash] = RefreshTokenRow(token_id, session_id, token_hash, parent_id, now,
                                                              expires_at)

    def _record(self, row: RefreshTokenRow) -> RefreshTokenRecord | None:
        session = self._db.sessions.get(row.session_id)
        if session is None or not self._visible(session.organization_id):
            return None
        return RefreshTokenRecord(id=row.id, session_id=row.session_id, user_id=session.user_id,
                                  organization_id=session.organization_id, parent_id=row.parent_id,
                                  used_at=row.used_at, revoked_at=session.revoked_at, expires_at=row.expires_at,
                                  strict_rotation=session.strict_rotation)

    async def find_refresh_token(self, token_hash: str, *, lock_family: bool = False) -> RefreshTokenRecord | None:
        row = self._db.refresh_tokens.get(token_hash)  # one unit of work at a time: nothing to lock
        return self._record(row) if row is not None else None

    async def mark_refresh_token_used(self, token_id: UUID, now: datetime) -> None:
        for row in self._db.refresh_tokens.values():
            if row.id == token_id and row.used_at is None:
                row.used_at = now

    async def discard_pending_children(self, session_id: UUID, parent_id: UUID) -> None:
        self._db.refresh_tokens = {h: row for h, row in self._db.refresh_tokens.items() if not (
            row.session_id == session_id and row.parent_id == parent_id and row.used_at is None)}

    async def make_rotation_strict(self, session_id: UUID) -> None:
        session = self._db.sessions.get(session_id)
        if session is not None:
            session.strict_rotation = True

    def _revoke(self, session: SessionRow, now: datetime, reason: str) -> None:
        if session.revoked_at is None and self._visible(session.organization_id):
            session.revoked_at, session.revoked_reason = now, reason

    async def revoke_session(self, session_id: UUID, now: datetime, reason: str) -> None:
        session = self._db.sessions.get(session_id)
        if session is not None:
            self._revoke(session, now, reason)

    async def revoke_user_sessions(self, user_id: UUID, now: datetime, reason: str) -> None:
        for session in self._db.sessions.values():
            if session.user_id == user_id:
                self._revoke(session, now, reason)

    async def is_session_active(self, session_id: UUID, now: datetime) -> bool:
        s = self._db.sessions.get(session_id)
        return s is not None and self._visible(s.organization_id) and s.revoked_at is None and s.expires_at > now

    async def deny_access_token(self, jti: str, expires_at: datetime) -> None:
        self._db.denied_jtis.setdefault(jti, expires_at)
        cutoff = expires_at - timedelta(days=1)
        for old in [k for k, exp in self._db.denied_jtis.items() if exp < cutoff]:
            del self._db.denied_jtis[old]

    async def is_access_token_denied(self, jti: str) -> bool:
        return jti in self._db.denied_jtis


class FakeLoginThrottle(_Repo, LoginThrottle):
    """Same arithmetic as SqlAlchemyLoginThrottle: a fixed window counter per key, and once the count
    reaches the limit a block of min(60 * 2 ** (count - limit), 900) seconds."""

    async def blocked_for(self, key: str, now: datetime) -> int:
        row = self._db.throttle.get(key)
        if row is None or row.blocked_until is None or row.blocked_until <= now:
            return 0
        return max(1, int((row.blocked_until - now).total_seconds() + 0.999))

    def _count(self, key: str, now: datetime, window_seconds: int) -> ThrottleRow:
        row = self._db.throttle.get(key)
        if row is None:
            row = self._db.throttle[key] = ThrottleRow(window_start=now, count=1)
        elif row.window_start <= now - timedelta(seconds=window_seconds):
            row.window_start, row.count = now, 1
        else:
            row.count += 1
        return row

    async def record_failure(self, key: str, now: datetime, *, limit: int, window_seconds: int) -> None:
        row = self._count(key, now, window_seconds)
        if row.count >= limit:
            row.blocked_until = now + timedelta(seconds=min(60 * 2 ** (row.count - limit), 15 * 60))

    async def count_hit(self, key: str, now: datetime, *, limit: int, window_seconds: int) -> int:
        row = self._count(key, now, window_seconds)
        return seconds_left(row.count, limit, row.window_start + timedelta(seconds=window_seconds), now)

    async def clear(self, key: str) -> None:
        self._db.throttle.pop(key, None)


class FakePasswordResetTokenRepository(_Repo, PasswordResetTokenRepository):
    async def add(self, *, token_id: UUID, user_id: UUID, token_hash: str, now: datetime,
                  expires_at: datetime) -> None:
        if token_hash in self._db.reset_tokens or user_id not in self._db.users:
            raise ConstraintViolation("password_reset_tokens: duplicate hash or unknown user")
        for row in self._db.reset_tokens.values():
            if row.user_id == user_id and row.used_at is None:
                row.used_at = now
        self._db.reset_tokens[token_hash] = ResetTokenRow(token_id, user_id, token_hash, now, expires_at)

    async def owner_of_valid(self, token_hash: str, now: datetime) -> UUID | None:
        row = self._db.reset_tokens.get(token_hash)
        return row.user_id if row is not None and row.used_at is None and row.expires_at > now else None

    async def consume(self, token_hash: str, now: datetime) -> UUID | None:
        row = self._db.reset_tokens.get(token_hash)
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        row.used_at = now
        return row.user_id


# --------------------------------------------------------------------------- contacts


def _matches(contact: Contact, query: str) -> bool:
    needle = query.lower()
    return any(needle in (value or "").lower() for value in (contact.name, contact.email, contact.whatsapp_id))


class FakeContactRepository(_Repo, ContactRepository):
    def _check(self, contact: Contact) -> None:
        if contact.whatsapp_id is None and contact.bsuid is None:
            raise ConstraintViolation("contacts: contacts_identity_present violated")
        if contact.bsuid is not None and any(
                c.bsuid == contact.bsuid and c.id != contact.id and c.organization_id == contact.organization_id
                for c in self._db.contacts.values()):
            raise ContactAlreadyExists()
        if contact.whatsapp_id is not None and not _DB_WHATSAPP_ID.fullmatch(contact.whatsapp_id):
            raise ConstraintViolation(f"contacts: whatsapp_id CHECK violated by {contact.whatsapp_id!r}")
        if (contact.name is not None and len(contact.name) > 255) or (
                contact.email is not None and len(contact.email) > 254):
            raise ConstraintViolation("contacts: name or email too long")
        if contact.whatsapp_id is not None and any(
                c.whatsapp_id == contact.whatsapp_id and c.id != contact.id
                and c.organization_id == contact.organization_id for c in self._db.contacts.values()):
            raise ContactAlreadyExists()

    def _mine(self, contact_id: UUID) -> Contact | None:
        org = self._scoped_org()
        found = self._db.contacts.get(contact_id)
        return found if found is not None and found.organization_id == org else None

    async def add(self, contact: Contact) -> None:
        if contact.organization_id != self._org:
            raise RuntimeError("contact belongs to another organization")
        if contact.id in self._db.contacts:
            raise ConstraintViolation("contacts: duplicate id")
        self._check(contact)
        self._db.contacts[contact.id] = clone_row(contact)

    async def get_or_add(self, contact: Contact) -> Contact:
        assert contact.whatsapp_id is not None
        existing = await self.get_by_whatsapp_id(contact.whatsapp_id)
        if existing is not None:
            return existing
        await self.add(contact)
        return clone_row(contact)

    async def get_or_add_many(self, contacts: Sequence[Contact]) -> dict[str, Contact]:
        return {c.whatsapp_id or "": await self.get_or_add(c)
                for c in sorted(contacts, key=lambda c: c.whatsapp_id or "")}

    async def find_by_identities(self, whatsapp_ids: Sequence[str], bsuids: Sequence[str]) -> list[Contact]:
        org, numbers, users = self._scoped_org(), set(whatsapp_ids), set(bsuids)
        return [clone_row(c) for c in sorted(self._db.contacts.values(), key=lambda c: c.id) if c.organization_id == org
                and ((c.whatsapp_id is not None and c.whatsapp_id in numbers) or (c.bsuid is not None
                                                                                   and c.bsuid in users))]

    async def adopt_whatsapp_ids(self, changes: Mapping[UUID, tuple[str, str]], now: datetime) -> None:
        for contact_id, (old, canonical) in sorted(changes.items()):
            stored = self._mine(contact_id)
            if stored is None or stored.whatsapp_id != old or await self.get_by_whatsapp_id(canonical) is not None:
                continue
            stored.whatsapp_id, stored.updated_at = canonical, now

    async def adopt_bsuids(self, bsuids: Mapping[UUID, str], now: datetime) -> None:
        org = self._scoped_org()
        for contact_id, bsuid in sorted(bsuids.items()):
            stored = self._mine(contact_id)
            if stored is None or stored.bsuid is not None or any(
                    c.bsuid == bsuid and c.organization_id == org for c in self._db.contacts.values()):
                continue
            stored.bsuid, stored.updated_at = bsuid, now

    async def add_new(self, contacts: Sequence[Contact]) -> None:
        for contact in contacts:
            try:
                await self.add(contact)
            except ContactAlreadyExists:
                continue

    async def merge_into(self, source_id: UUID, target: Contact, now: datetime) -> None:
        """As the SQL: what points at the source moves to the target (the stores this fake shares: a channel
        store's messages and conversations, folded like the adapter folds them)."""
        if self._mine(source_id) is None or self._mine(target.id) is None:
            return
        for message in getattr(self._db, "messages", {}).values():
            if message.contact_id == source_id:
                message.contact_id = target.id
        conversations = getattr(self._db, "conversations", {})
        for key, conversation in list(conversations.items()):
            if conversation.contact_id != source_id:
                continue
            twin = next((c for c in conversations.values() if c.contact_id == target.id
                         and c.number_id == conversation.number_id), None)
            if twin is None:
                conversation.contact_id = target.id
                continue
            for name in ("last_inbound_at", "last_message_at"):
                mine, theirs = getattr(twin, name), getattr(conversation, name)
                setattr(twin, name, max((t for t in (mine, theirs) if t is not None), default=None))
            twin.handoff_at = twin.handoff_at or conversation.handoff_at
            del conversations[key]
        for execution in getattr(self._db, "executions", {}).values():
            if execution.contact_id == source_id:
                execution.contact_id = target.id
        recipients = getattr(self._db, "recipients", {})
        for key, recipient in list(recipients.items()):
            if recipient.contact_id != source_id:
                continue
            if any(r.contact_id == target.id and r.automation_id == recipient.automation_id
                   for r in recipients.values()):
                del recipients[key]  # the target's recipient of the same automation stays
            else:
                recipient.contact_id = target.id
        del self._db.contacts[source_id]
        await self.update(target)
    async def fill_missing_names(self, names: Mapping[UUID, str], now: datetime) -> None:
        for contact_id, name in names.items():
            stored = self._mine(contact_id)
            if stored is not None and stored.name is None:
                stored.name, stored.updated_at = name, now

    async def get(self, contact_id: UUID) -> Contact | None:
        found = self._mine(contact_id)
        return clone_row(found) if found is not None else None

    async def get_by_whatsapp_id(self, whatsapp_id: str) -> Contact | None:
        org = self._scoped_org()
        found = next((c for c in self._db.contacts.values()
                      if c.organization_id == org and c.whatsapp_id == whatsapp_id), None)
        return clone_row(found) if found is not None else None

    async def get_many(self, contact_ids: Sequence[UUID]) -> dict[UUID, Contact]:
        found = {i: self._mine(i) for i in contact_ids}
        return {i: clone_row(c) for i, c in found.items() if c is not None}

    async def get_many_by_whatsapp_ids(self, whatsapp_ids: Sequence[str]) -> dict[str, Contact]:
        org = self._scoped_org()
        wanted = set(whatsapp_ids)
        return {c.whatsapp_id: clone_row(c) for c in self._db.contacts.values()
                if c.organization_id == org and c.whatsapp_id in wanted}

    async def add_many(self, contacts: Sequence[Contact]) -> None:
        existing = await self.get_many_by_whatsapp_ids([c.whatsapp_id for c in contacts])
        for contact in contacts:
            if contact.whatsapp_id not in existing:
                await self.add(contact)
                existing[contact.whatsapp_id] = contact

    async def update(self, contact: Contact) -> None:
        stored = self._mine(contact.id)
        if stored is None:
            return  # an UPDATE that matches no row
        self._check(contact)
        for name in ("whatsapp_id", "bsuid", "name", "email", "tags", "attributes", "opted_out", "opted_out_at",
                     "updated_at"):
            setattr(stored, name, copy.deepcopy(getattr(contact, name)))

    async def delete(self, contact_id: UUID) -> bool:
        if self._mine(contact_id) is None:
            return False
        del self._db.contacts[contact_id]
        return True

    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[Contact], int]:
        org = self._scoped_org()
        found = sorted((c for c in self._db.contacts.values()
                        if c.organization_id == org and (not query or _matches(c, query))),
                       key=lambda c: (c.created_at, c.id), reverse=True)
        return [clone_row(c) for c in found[offset:offset + limit]], len(found)

    async def page(self, *, query: str | None, tag: str | None, before: tuple[datetime, UUID] | None,
                   limit: int) -> list[Contact]:
        org = self._scoped_org()
        found = sorted((c for c in self._db.contacts.values()
                        if c.organization_id == org and (not query or _matches(c, query))
                        and (not tag or tag.lower() in {t.lower() for t in c.tags})
                        and (before is None or (c.created_at, c.id) < before)),
                       key=lambda c: (c.created_at, c.id), reverse=True)
        return [clone_row(c) for c in found[:limit]]

    async def import_rows(self, rows: Sequence[ContactRow], *, mode: ImportMode, now: datetime) -> BatchCounts:
        """As the SQL: new numbers are created; in upsert mode a known one takes the row's values that are not None
        (attributes merged) and counts as updated only when something changed. A batch holding one of the factory's
        ``conflicting_numbers`` fails as when another transaction created that number meanwhile."""
        org = self._scoped_org()
        if set(getattr(self._uow.factory, "conflicting_numbers", ())) & {r.whatsapp_id for r in rows}:
            raise TransactionConflict()
        existing = await self.get_many_by_whatsapp_ids([r.whatsapp_id for r in rows])
        created = updated = 0
        for row in rows:
            contact = existing.get(row.whatsapp_id)
            if contact is None:
                await self.add(Contact(id=uuid4(), organization_id=org, whatsapp_id=row.whatsapp_id, name=row.name,
                                       email=row.email, tags=list(row.tags or []),
                                       attributes=copy.deepcopy(row.attributes or {}), created_at=now, updated_at=now))
                created += 1
                continue
            if mode is not ImportMode.UPSERT:
                continue
            merged = (row.name if row.name is not None else contact.name,
                      row.email if row.email is not None else contact.email,
                      list(row.tags) if row.tags is not None else contact.tags,
                      {**contact.attributes, **(row.attributes or {})})
            if merged != (contact.name, contact.email, contact.tags, contact.attributes):
                contact.name, contact.email, contact.tags, contact.attributes = copy.deepcopy(merged)
                contact.updated_at = now
                await self.update(contact)
                updated += 1
        return BatchCounts(created=created, updated=updated, unchanged=len(rows) - created - updated)


class FakeContactImportRepository(_Repo, ContactImportRepository):
    def _mine(self, import_id: UUID) -> ContactImport | None:
        found = self._db.contact_imports.get(import_id)
        return found if found is not None and found.organization_id == self._scoped_org() else None

    async def add(self, contact_import: ContactImport, content: bytes) -> None:
        if contact_import.organization_id != self._org:
            raise RuntimeError("import belongs to another organization")
        if contact_import.id in self._db.contact_imports:
            raise ConstraintViolation("contact_imports: duplicate id")
        self._db.contact_imports[contact_import.id] = clone_row(contact_import)
        self._db.import_files[contact_import.id] = bytes(content)

    async def get(self, import_id: UUID, *, for_update: bool = False) -> ContactImport | None:
        found = self._mine(import_id)
        return clone_row(found) if found is not None else None

    async def content(self, import_id: UUID) -> bytes | None:
        return self._db.import_files.get(import_id) if self._mine(import_id) is not None else None

    async def drop_content(self, import_id: UUID) -> None:
        if self._mine(import_id) is not None:
            self._db.import_files.pop(import_id, None)

    async def update(self, contact_import: ContactImport) -> None:
        if self._mine(contact_import.id) is not None:
            self._db.contact_imports[contact_import.id] = clone_row(contact_import)

    async def list(self, *, limit: int, offset: int) -> tuple[list[ContactImport], int]:
        org = self._scoped_org()
        found = sorted((i for i in self._db.contact_imports.values() if i.organization_id == org),
                       key=lambda i: (i.created_at, i.id), reverse=True)
        return [clone_row(i) for i in found[offset:offset + limit]], len(found)
