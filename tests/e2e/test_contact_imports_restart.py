"""A contact import survives its worker: uploaded with no worker running it waits, queued, with its file stored;
a worker SIGKILLed in the middle leaves whole batches only, and the next worker resumes after the last committed
batch without writing or counting any row twice."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from entrypoints.config import Settings
from tests.e2e.support import API
from tests.e2e.whatsapp_support import WorkerProcess, count, wait_until
from tests.helpers import register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROWS = 60_000


async def test_a_killed_worker_leaves_whole_batches_and_the_next_one_resumes(
        client: httpx.AsyncClient, test_settings: Settings, database_url: str, tmp_path: Path) -> None:
    account = await register(client)
    content = "whatsapp_id,name,tags\n" + "".join(f"55319{n:08d},Person {n},vip\n" for n in range(ROWS)) + \
        "+55 319 0000 0001,A duplicate,\n" + "123,Too short,\n"
    response = await client.post(f"{API}/contacts/imports", headers=account.headers,
                                 files={"file": ("big.csv", content.encode(), "text/csv")})
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    url = f"{API}/contacts/imports/{import_id}"
    assert (await client.get(url, headers=account.headers)).json()["status"] == "queued"
    assert await count(database_url, "SELECT count(*) FROM contact_import_files WHERE import_id = $1::uuid",
                       import_id) == 1

    async def progress() -> dict[str, object]:
        body: dict[str, object] = (await client.get(url, headers=account.headers)).json()
        return body

    async def contacts() -> int:
        return await count(database_url, "SELECT count(*) FROM contacts WHERE organization_id = $1::uuid",
                           account.organization_id)

    settings = {"WORKER_HEARTBEAT_SECONDS": "3", "WORKER_POLL_SECONDS": "0.5", "WORKER_METRICS_PORT": "0"}
    first = WorkerProcess(test_settings, database_url, tmp_path / "worker-1.log", **settings).start()
    second = WorkerProcess(test_settings, database_url, tmp_path / "worker-2.log", **settings)
    try:
        async def some_batches_done() -> bool:
            assert first.alive(), first.tail()
            return int((await progress())["rows_processed"]) > 0  # type: ignore[call-overload]

        await wait_until(some_batches_done, timeout=60, interval=0.02, what="the first worker's first batch")
        first.kill()
        at_kill = await progress()
        assert at_kill["status"] == "running" and int(at_kill["rows_processed"]) < ROWS + 2, (  # type: ignore[call-overload]
            "the first worker finished before it was killed: nothing was tested")
        assert await contacts() == at_kill["created"] == at_kill["rows_processed"]  # whole batches, nothing more

        second.start()

        async def completed() -> dict[str, object] | None:
            assert second.alive(), second.tail()
            body = await progress()
            return body if body["status"] == "completed" else None

        done = await wait_until(completed, timeout=120, interval=0.25, what="the second worker to finish")
        assert {k: done[k] for k in ("rows_total", "rows_processed", "created", "updated", "unchanged",
                                     "duplicates", "failed")} == {
            "rows_total": ROWS + 2, "rows_processed": ROWS + 2, "created": ROWS, "updated": 0, "unchanged": 0,
            "duplicates": 1, "failed": 1}
        assert await contacts() == ROWS
        assert await count(database_url, "SELECT count(*) FROM contact_import_files WHERE import_id = $1::uuid",
                           import_id) == 0
    finally:
        second.stop()
        if first.alive():
            first.kill()
