"""Faust's private members that flagstream depends on still exist and still read the same.

A failure here after a Faust upgrade is the point: review what changed in the named member, port
it into streams/consumer.py, then update streams/faust_internals.py.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from pathlib import Path

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service

from streams import faust_internals as fi
from streams.app import create_app
from streams.consumer import BatchingConsumer, FlagstreamApp
from streams.settings import Settings


def test_the_installed_faust_is_the_one_the_internals_were_read_from() -> None:
    assert faust.__version__ == fi.FAUST_VERSION, (
        f"faust-streaming {faust.__version__} is installed, streams/faust_internals.py was "
        f"checked against {fi.FAUST_VERSION}: review every member it lists, then bump it"
    )


def test_the_installed_mode_is_the_one_the_internals_were_read_from() -> None:
    installed = importlib.metadata.version("mode-streaming")
    assert installed == fi.MODE_VERSION, (
        f"mode-streaming {installed} is installed, streams/faust_internals.py was checked "
        f"against {fi.MODE_VERSION}: review the ServiceThread members it lists, then bump it"
    )


def test_the_installed_aiokafka_is_the_one_the_internals_were_read_from() -> None:
    installed = importlib.metadata.version("aiokafka")
    assert installed == fi.AIOKAFKA_VERSION, (
        f"aiokafka {installed} is installed, streams/faust_internals.py was checked against "
        f"{fi.AIOKAFKA_VERSION}: review the fetcher order it relies on, then bump it"
    )


@pytest.mark.parametrize("dotted", sorted(fi.MIRRORED_SOURCES))
def test_mirrored_methods_are_unchanged(dotted: str) -> None:
    assert fi.source_digest(dotted) == fi.MIRRORED_SOURCES[dotted], (
        f"{dotted} changed in this Faust: streams/consumer.py mirrors it; port the change"
    )


def test_every_named_member_exists(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        app = create_app(Settings(data_dir=tmp_path))
        consumer = app.batching_consumer
        thread = consumer._thread
        missing = [a for a in fi.CONSUMER_ATTRIBUTES if not hasattr(consumer, a)]
        missing += [m for m in fi.CONSUMER_METHODS if not callable(getattr(consumer, m, None))]
        missing += [a for a in fi.SERVICE_ATTRIBUTES if not hasattr(consumer, a)]
        missing += [a for a in fi.THREAD_ATTRIBUTES if not hasattr(thread, a)]
        missing += [m for m in fi.THREAD_METHODS if not callable(getattr(thread, m, None))]
        if not callable(getattr(app.producer, fi.PRODUCER_ACCESSOR, None)):
            missing.append(f"Producer.{fi.PRODUCER_ACCESSOR}")
        return missing

    assert asyncio.run(scenario()) == []
    assert callable(getattr(faust.App, fi.APP_TRANSPORT_FACTORY, None))
    assert "_drain_messages" in vars(faust_aiokafka.Consumer.__mro__[2]) or hasattr(
        faust_aiokafka.Consumer, "_drain_messages"
    )
    from faust.types.tuples import Message  # noqa: PLC0415

    assert [a for a in fi.MESSAGE_ATTRIBUTES if a not in Message.__slots__] == []
    assert issubclass(BatchingConsumer, Service)
    assert issubclass(FlagstreamApp, faust.App)
