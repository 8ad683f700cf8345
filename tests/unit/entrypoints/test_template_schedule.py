"""TEMPLATE_SYNC_HOURS: the worker's periodic template sync schedule (0 turns it off)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from entrypoints.config import load_settings
from entrypoints.worker.runner import template_sync_cron

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("hours", "cron"), [(0, None), (1, "17 * * * *"), (6, "17 */6 * * *"),
                                             (24, "17 */24 * * *")])
def test_cron_of_the_setting(hours: int, cron: str | None) -> None:
    assert template_sync_cron(hours) == cron


def test_the_setting_defaults_to_six_hours_and_is_bounded(tmp_path: Path) -> None:
    assert load_settings(env="test", data_dir=tmp_path).template_sync_hours == 6
    with pytest.raises(ValidationError):
        load_settings(env="test", data_dir=tmp_path, template_sync_hours=25)
