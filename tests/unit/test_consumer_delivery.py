"""The batching consumer's fetch loop does not wait for commits. No broker: the app is built but
not started (as in test_batching_consumer)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streams.app import create_app
from streams.settings import Settings


def test_commit_every_commits_in_the_background_one_at_a_time(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        consumer = create_app(Settings(data_dir=tmp_path)).batching_consumer
        log: list[str] = []
        release = asyncio.Event()

        # a commit waits for the producer's acknowledgements, then for the broker's answer
        async def commit(*_args: object, **_kwargs: object) -> bool:
            log.append("commit")
            await release.wait()
            log.append("committed")
            return True

        consumer.commit = commit  # type: ignore[method-assign]
        consumer._commit_soon()  # returns at once: the fetch loop goes on fetching
        log.append("fetching")
        await asyncio.sleep(0.01)
        consumer._commit_soon()  # one is running: not a second one
        release.set()
        await asyncio.sleep(0.01)
        consumer._commit_soon()  # the previous one is done: a new one
        await asyncio.sleep(0.01)
        return log

    assert asyncio.run(scenario()) == ["fetching", "commit", "committed", "commit", "committed"]


def test_a_failing_background_commit_crashes_the_consumer(tmp_path: Path) -> None:
    async def scenario() -> BaseException | None:
        consumer = create_app(Settings(data_dir=tmp_path)).batching_consumer

        async def commit(*_args: object, **_kwargs: object) -> bool:
            raise RuntimeError("the coordinator refused the commit")

        consumer.commit = commit  # type: ignore[method-assign]
        consumer._commit_soon()
        await asyncio.sleep(0.05)
        return consumer._crash_reason

    reason = asyncio.run(scenario())
    assert isinstance(reason, RuntimeError)
    assert "refused" in str(reason)
