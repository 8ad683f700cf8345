"""The worker's effective job concurrency: WORKER_CONCURRENCY, never below the floor a campaign needs."""

from __future__ import annotations

import pytest

from entrypoints.config import load_settings
from entrypoints.worker.main import MIN_JOB_CONCURRENCY, job_concurrency

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("configured", "effective"), [(1, MIN_JOB_CONCURRENCY), (20, 20), (64, 64)])
def test_job_concurrency_is_the_setting_with_a_floor(configured: int, effective: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(env="test", data_dir=tmp_path, worker_concurrency=configured)
    assert job_concurrency(settings) == effective
