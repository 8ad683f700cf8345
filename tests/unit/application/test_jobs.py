"""Job payloads are written and read by one class each: what a use case queues is what the worker decodes."""

from __future__ import annotations

from uuid import uuid4

import pytest

from application.jobs import DispatchAutomation, FlowHttp, FlowTimer, SendEmail, VerifyNumber, enqueue
from tests.fake_uow import FakeUnitOfWorkFactory

pytestmark = pytest.mark.unit

JOBS = [SendEmail(to="a@example.com", subject="s", body="b"),
        VerifyNumber(organization_id=uuid4(), number_id=uuid4()),
        DispatchAutomation(organization_id=uuid4(), automation_id=uuid4()),
        FlowTimer(organization_id=uuid4(), execution_id=uuid4(), timer_id="t-1"),
        FlowHttp(organization_id=uuid4(), execution_id=uuid4(), call={"call_id": "c", "url": ["https://x"]})]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.entrypoint)
async def test_a_queued_job_decodes_to_itself_under_its_own_entrypoint(job) -> None:  # type: ignore[no-untyped-def]
    uows = FakeUnitOfWorkFactory()
    async with uows() as uow:
        assert await enqueue(uow, job, dedupe_key=f"k:{job.entrypoint}")
        await uow.commit()
    [queued] = uows.store.queued
    assert queued.entrypoint == job.entrypoint and queued.dedupe_key == f"k:{job.entrypoint}"
    assert type(job).decode(queued.payload) == job


def test_a_payload_another_class_wrote_is_refused() -> None:
    with pytest.raises(KeyError):
        FlowTimer.decode(SendEmail(to="a@example.com", subject="s", body="b").payload())
    with pytest.raises(ValueError):
        VerifyNumber.decode({"organization_id": "not-a-uuid", "number_id": str(uuid4())})
