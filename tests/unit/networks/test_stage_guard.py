"""A bundle the campaign stage fails to apply is retried once on a rebuilt state, then dropped
with an error; it never raises into Faust (which would ack it unapplied and restart the agent)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from streams.metrics import NetworkMetrics
from streams.networks.stage import CampaignStage


def _stage(failures: int) -> tuple[CampaignStage, list[bool]]:
    stage = CampaignStage.__new__(CampaignStage)  # no Faust app: only what handle_guarded uses
    stage.metrics = NetworkMetrics(CollectorRegistry())
    stage._needs_rebuild = False
    seen: list[bool] = []  # _needs_rebuild at each attempt

    async def handle(value: bytes) -> None:
        seen.append(stage._needs_rebuild)
        if len(seen) <= failures:
            raise KeyError("a group vanished")

    stage.handle = handle  # type: ignore[method-assign]
    return stage, seen


def _count(stage: CampaignStage, outcome: str) -> float:
    value = stage.metrics.registry.get_sample_value(
        "flagstream_campaign_bundle_errors_total", {"outcome": outcome}
    )
    return value or 0.0


def test_a_bundle_that_fails_once_is_applied_again_on_a_rebuilt_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stage, seen = _stage(failures=1)
    with caplog.at_level(logging.WARNING):
        asyncio.run(stage.handle_guarded(b"bundle"))
    assert seen == [False, True]  # the second attempt starts from a rebuild
    assert _count(stage, "retried") == 1
    assert _count(stage, "dropped") == 0
    assert "applying it again" in caplog.text


def test_a_bundle_that_fails_twice_is_dropped_loudly_and_nothing_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stage, seen = _stage(failures=2)
    with caplog.at_level(logging.WARNING):
        asyncio.run(stage.handle_guarded(b"bundle"))
    assert len(seen) == 2
    assert _count(stage, "dropped") == 1
    assert "dropped" in caplog.text
    assert "KeyError" in caplog.text  # the traceback is logged


def test_a_bundle_that_succeeds_costs_nothing_extra() -> None:
    stage, seen = _stage(failures=0)
    asyncio.run(stage.handle_guarded(b"bundle"))
    assert seen == [False]
    assert _count(stage, "retried") == 0
