"""One place that builds use cases for tests: the production composition root on fakes.

``bootstrap_test_app()`` takes :class:`entrypoints.container.Container` itself and overrides every provider
that would reach a database or the network with an in-memory fake (the one :class:`FakeUnitOfWorkFactory`,
the fake clock, gateway, mailer...). Every other provider keeps its production wiring, so ``app.create_contact``
is the use case exactly as the API builds it, on fakes. Resources (engine, HTTP clients, pools) are replaced by
providers that raise: a use case whose chain still reaches one fails loudly instead of connecting.

Overrides, by keyword:

* a provider name of the container (``clock=``, ``whatsapp_gateway=``, ``vault_cipher=``...): that object
  replaces the provider (the fakes the app exposes follow, e.g. ``app.gateway`` is the one passed);
* a field of :class:`Settings` (``worker_inbox_batch=``, ``flow_execution_ttl_hours=``...): the setting;
* ``store=``: the :class:`FakeStore` of the unit of work factory;
* ``arguments={"rotate_master_key": {"batch_size": 3}}``: keyword arguments added to a provider (parameters
  the container leaves at their default).
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Callable, Mapping
from pathlib import Path
from tempfile import gettempdir
from typing import Any
from uuid import UUID

from dependency_injector import providers

from application.ports.events import EventNotifications
from application.ports.media import MediaFile, MediaStore
from application.ports.operations import DeadLetter, OperationalStats, OperationsMonitor
from entrypoints.config import Settings, load_settings
from entrypoints.container import Container
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import (
    FakeAccessCheck,
    FakeAccessTokenService,
    FakeClock,
    FakeContactListing,
    FakeMailer,
    FakePasswordHasher,
)
from tests.fakes_channel import FakeSecretResolver, FakeSendPacer, FakeWebhookInbox, FakeWhatsAppGateway
from tests.fakes_flows import ScriptedHttpCaller
from tests.fakes_vault import StubCredentialChecker

TEST_MASTER_KEY = b64encode(b"k" * 32).decode()


class StubMediaStore(MediaStore):
    """Answers every fetch with a small PDF "on disk" (nothing is written); records fetches."""

    def __init__(self) -> None:
        self.fetched: list[tuple[str, str, str, int]] = []

    async def fetch(self, *, media_id: str, phone_number_id: str, access_token: str, max_bytes: int) -> MediaFile:
        self.fetched.append((media_id, phone_number_id, access_token, max_bytes))
        return MediaFile(path=f"/nonexistent/{media_id}", mime_type="application/pdf", size=10, temporary=True)

    def release(self, media: MediaFile) -> None:
        pass


class QuietNotifications(EventNotifications):
    """A LISTEN connection that connects and never hears anything."""

    async def listen(self, on_event: Callable[[UUID, int], None], on_connected: Callable[[], None],
                     stop: Any) -> None:
        on_connected()
        await stop.wait()


class EmptyOperationsMonitor(OperationsMonitor):
    """No queue, no webhook pending, no dead letter; counts its queries."""

    def __init__(self) -> None:
        self.queries = 0

    async def stats(self) -> OperationalStats:
        self.queries += 1
        return OperationalStats(queue=[], webhooks_pending=0, oldest_pending_webhook_age_seconds=0.0,
                                dead_letters=0)

    async def dead_letters(self, *, limit: int, offset: int) -> tuple[list[DeadLetter], int]:
        return [], 0


def _unreachable(name: str) -> Callable[[], Any]:
    def refuse() -> Any:
        raise RuntimeError(f"a test built on fakes reached the container's {name!r} (a database or the network)")
    return refuse


UNREACHABLE = ("engine", "session_factory", "vault_http_client", "graph_session", "webhook_inbox_pool",
               "flow_http_client", "current_revision", "release_jobs_of", "read_pool")
"""Providers that open a database or a network connection: overridden by providers that raise."""


def unit_settings(**overrides: Any) -> Settings:
    """Settings of ``env="test"`` (cheap argon2, explicit secrets: nothing is generated under DATA_DIR)."""
    values: dict[str, Any] = {
        "env": "test", "data_dir": Path(gettempdir()) / "pytake-unit-data", "log_level": "WARNING",
        "password_hash_time_cost": 1, "password_hash_memory_kib": 1024, "jwt_secret": "unit-jwt-secret-" + "x" * 32,
        "vault_master_keys": json.dumps({"1": TEST_MASTER_KEY}), "whatsapp_app_secret": "test-app-secret",
        "whatsapp_verify_token": "test-verify-token", "frontend_url": "https://app.pytake.test",
        "metrics_cache_seconds": 0,
    }
    values.update(overrides)
    return load_settings(**values)


class TestApp:
    """The container on fakes. ``app.<provider name>`` (or ``app.use_case(name)``) builds that provider;
    the fakes are attributes: ``uow``, ``store``, ``clock``, ``hasher``, ``tokens``, ``mailer``, ``gateway``,
    ``pacer``, ``secrets``, ``checker``, ``http``, ``inbox``, ``media``, ``monitor``, ``notifications``."""

    __test__ = False  # not a test class

    def __init__(self, container: Container, settings: Settings, fakes: Mapping[str, Any]) -> None:
        self.container = container
        self.settings = settings
        self.uow: FakeUnitOfWorkFactory = fakes["uow"]
        self.store: FakeStore = self.uow.store
        self.clock: FakeClock = fakes["clock"]
        self.hasher: FakePasswordHasher = fakes["hasher"]
        self.tokens: FakeAccessTokenService = fakes["tokens"]
        self.mailer: FakeMailer = fakes["mailer"]
        self.gateway: FakeWhatsAppGateway = fakes["whatsapp_gateway"]
        self.pacer: FakeSendPacer = fakes["send_pacer"]
        self.secrets: FakeSecretResolver = fakes["secret_resolver"]
        self.checker: StubCredentialChecker = fakes["vault_token_checker"]
        self.http: ScriptedHttpCaller = fakes["flow_http_caller"]
        self.inbox: FakeWebhookInbox = fakes["webhook_inbox"]
        self.media: StubMediaStore = fakes["media_store"]
        self.monitor: EmptyOperationsMonitor = fakes["operations_monitor"]
        self.notifications: QuietNotifications = fakes["event_notifications"]

    def provider(self, name: str) -> providers.Provider[Any]:
        found = self.container.providers.get(name)
        if found is None:
            raise AttributeError(f"the container has no provider {name!r}")
        return found

    def replace(self, name: str, obj: Any) -> None:
        """Replace one provider by ``obj`` (before building what depends on it: singletons are kept)."""
        self.provider(name).override(providers.Object(obj))

    def use_case(self, name: str) -> Any:
        return self.provider(name)()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.use_case(name)


def bootstrap_test_app(*, store: FakeStore | None = None, arguments: Mapping[str, Mapping[str, Any]] | None = None,
                       **overrides: Any) -> TestApp:
    """The production container with every port that reaches a database or the network on a fake."""
    names = set(Container.providers)
    setting_overrides = {k: overrides.pop(k) for k in list(overrides) if k not in names and k in Settings.model_fields}
    unknown = set(overrides) - names
    if unknown:
        raise TypeError(f"neither a provider of the container nor a setting: {sorted(unknown)}")
    settings = overrides.pop("settings", None) or unit_settings(**setting_overrides)
    uow = overrides.pop("uow", None) or FakeUnitOfWorkFactory(store if store is not None else FakeStore())
    clock = overrides.pop("clock", None) or FakeClock()
    fakes: dict[str, Any] = {
        "uow": uow,
        "clock": clock,
        "hasher": FakePasswordHasher(),
        "tokens": FakeAccessTokenService(clock),
        "mailer": FakeMailer(),
        "whatsapp_gateway": FakeWhatsAppGateway(),
        "send_pacer": FakeSendPacer(),
        "secret_resolver": FakeSecretResolver(),
        "vault_token_checker": StubCredentialChecker(),
        "flow_http_caller": ScriptedHttpCaller(),
        "webhook_inbox": FakeWebhookInbox(uow),
        "media_store": StubMediaStore(),
        "operations_monitor": EmptyOperationsMonitor(),
        "event_notifications": QuietNotifications(),
        "access_check": FakeAccessCheck(uow),
        "contact_listing": FakeContactListing(uow),
    }
    fakes.update(overrides)  # the caller's own fakes, and any other provider it replaces
    container = Container()
    container.settings.override(providers.Object(settings))
    container.database_url.override(providers.Object("postgresql+asyncpg://unreachable.invalid/none"))
    for name in UNREACHABLE:
        container.providers[name].override(providers.Callable(_unreachable(name)))
    for name, fake in fakes.items():
        container.providers[name].override(providers.Object(fake))
    for name, kwargs in (arguments or {}).items():
        provider = container.providers[name]
        if not isinstance(provider, providers.Factory | providers.Singleton):
            raise TypeError(f"{name!r} is not a Factory or a Singleton")
        provider.add_kwargs(**kwargs)
    return TestApp(container, settings, fakes)
