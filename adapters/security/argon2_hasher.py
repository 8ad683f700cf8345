"""argon2id password hashing (argon2-cffi) on a small dedicated thread pool, so the event loop never blocks and a
storm of logins cannot take more than ``max_concurrent`` hashes' worth of CPU from the requests around it."""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from application.ports.identity import PasswordHasher


class Argon2PasswordHasher(PasswordHasher):
    def __init__(self, *, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 4,
                 max_concurrent: int = 1) -> None:
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="argon2")
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._argon2.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        def _verify() -> bool:
            try:
                return self._argon2.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await asyncio.get_running_loop().run_in_executor(self._pool, _verify)

    async def dummy_hash(self) -> str:
        """Computed on first use and kept: the container holds one hasher per process (the API warms it at
        start-up, so no request pays for it)."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(32))
        return self._dummy
