"""The argon2id hasher with real argon2-cffi: correct verification, a bounded pool, a free event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from adapters.security.argon2_hasher import Argon2PasswordHasher

pytestmark = pytest.mark.integration


async def test_hashes_verify_and_wrong_or_garbage_inputs_do_not() -> None:
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost_kib=8192, max_concurrent=2)
    stored = await hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert await hasher.verify(stored, "correct horse battery")
    assert not await hasher.verify(stored, "correct horse battery!")
    assert not await hasher.verify("not-a-hash", "correct horse battery")


class CountingArgon2:
    """Stands in for argon2's PasswordHasher only to observe how many hashes run at once."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        time.sleep(0.05)
        with self._lock:
            self.running -= 1
        return "$argon2id$" + password


@pytest.mark.parametrize("bound", [1, 2])
async def test_no_more_than_max_concurrent_hashes_run_at_once_and_the_loop_stays_free(bound: int) -> None:
    hasher = Argon2PasswordHasher(max_concurrent=bound)
    counting = CountingArgon2()
    hasher._argon2 = counting  # type: ignore[assignment]
    seen_running: list[int] = []

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.005)
            seen_running.append(counting.running)

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(hasher.hash(f"p{n}") for n in range(8)))
    task.cancel()
    assert counting.most == bound and all(name.startswith("argon2") for name in counting.threads)
    assert any(running > 0 for running in seen_running)  # the event loop ran while a hash was being computed


async def test_the_dummy_hash_is_computed_once_and_matches_no_password() -> None:
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost_kib=8192)
    dummy = await hasher.dummy_hash()
    computed: list[str] = []
    real = hasher._argon2

    class Recording:
        def hash(self, password: str) -> str:
            computed.append(password)
            return real.hash(password)

    hasher._argon2 = Recording()  # type: ignore[assignment]
    assert [await hasher.dummy_hash() for _ in range(3)] == [dummy] * 3
    assert computed == []  # kept for the hasher's lifetime, never recomputed
    hasher._argon2 = real
    assert dummy.startswith("$argon2id$")
    assert not any([await hasher.verify(dummy, guess) for guess in ("", "password", "pytake")])
