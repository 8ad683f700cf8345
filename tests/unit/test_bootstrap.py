"""The container builds every use case on fakes: nothing reaches a database or the network."""

from __future__ import annotations

import pytest
from dependency_injector import providers

from entrypoints.container import Container
from tests.bootstrap import UNREACHABLE, bootstrap_test_app
from tests.fake_uow import FakeStore

USE_CASES = sorted(
    name for name, provider in Container.providers.items()
    if isinstance(provider, providers.Factory | providers.Singleton)
    and getattr(provider.cls, "__module__", "").startswith("application.use_cases"))


def test_the_container_has_use_cases() -> None:
    assert len(USE_CASES) > 80
    assert {"create_contact", "send_queued", "process_inbox", "test_secret", "dispatch_automation"} <= set(USE_CASES)


@pytest.mark.parametrize("name", USE_CASES)
def test_every_use_case_is_built_on_fakes(name: str) -> None:
    app = bootstrap_test_app()
    built = app.use_case(name)
    provider = Container.providers[name]
    assert isinstance(provider, providers.Factory | providers.Singleton)
    assert type(built) is provider.cls or app.provider(name).overridden  # the secret resolver is a fake by default


def test_every_resource_of_the_container_is_overridden() -> None:
    """A new Resource (a pool, a client) must be added to tests/bootstrap.py's UNREACHABLE or faked."""
    resources = {name for name, p in Container.providers.items() if isinstance(p, providers.Resource)}
    assert resources <= set(UNREACHABLE)


def test_a_resource_reached_on_fakes_raises() -> None:
    app = bootstrap_test_app()
    with pytest.raises(RuntimeError, match="engine"):
        app.use_case("engine")


def test_fakes_are_the_ones_wired() -> None:
    store = FakeStore()
    app = bootstrap_test_app(store=store, worker_inbox_batch=7, arguments={"rotate_master_key": {"batch_size": 3}})
    assert app.store is store
    assert app.create_contact._uow is app.uow  # noqa: SLF001
    assert app.settings.worker_inbox_batch == 7
    assert app.rotate_master_key._batch == 3  # noqa: SLF001
    with pytest.raises(TypeError, match="nope"):
        bootstrap_test_app(nope=1)
