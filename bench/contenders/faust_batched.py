"""faust-batched: the idiomatic batched Faust agent.

What an experienced Faust user writes for a model that wants batches: the agent buffers the
stream with ``stream.take_events(max_, within=)`` (``stream.take`` yielding the events, whose
messages carry the partition and offset a dead letter needs), classifies each batch with
``Pipeline.process`` (same decode, model, policy and output records as the worker) in a thread so
the event loop stays free, and ``await topic.send`` per output. Faust acks a batch's events when
the agent asks for the next batch and commits on its interval (at-least-once). Batches of up to
``batch_max``, sealed ``within`` 10 ms (or ``batch_within_s`` if larger): Faust's ``take`` needs a
positive window. Faust defaults otherwise, but for its web server (off, so runs never collide
on port 6066) and the producer's linger (1 ms, as the worker's).
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from bench.contenders import common
from streams.app import faust_credentials
from streams.cli.worker import service_worker
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import Settings

MIN_WITHIN_S = 0.01


def build(s: Settings) -> faust.App:
    app = faust.App(
        s.group_id,
        broker=s.kafka_url,
        broker_credentials=faust_credentials(s),
        autodiscover=False,
        web_enabled=False,
        datadir=str(s.data_dir),
        consumer_auto_offset_reset=s.auto_offset_reset,
        producer_linger_ms=1,
        producer_max_request_size=s.producer_max_request_bytes,
    )
    pipeline = Pipeline.from_settings(s)
    source = app.topic(
        s.input_topic, key_serializer="raw", value_serializer="raw", allow_empty=True
    )
    outputs = {
        name: app.topic(name, key_serializer="raw", value_serializer="raw")
        for name in (s.flagged_topic, s.dlq_topic)
    }
    within = max(s.batch_within_s, MIN_WITHIN_S)

    async def moderate(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(s.batch_max, within=within):
            batch = []
            for event in events:
                m = event.message
                headers = m.headers
                if isinstance(headers, dict):
                    headers = list(headers.items())
                batch.append(
                    InMessage(m.topic, m.partition, m.offset, m.value, m.key, tuple(headers or ()))
                )
            result = await loop.run_in_executor(None, pipeline.process, batch)
            for out in result.outputs:
                await outputs[out.topic].send(key=out.key, value=out.value, headers=out.headers)

    app.agent(source, name="bench.batched")(moderate)
    return app


def main() -> None:
    s = common.settings()
    common.arm_deadline()
    app = build(s)
    # the worker's own: no Faust spinner (it would set the root logger to DEBUG)
    service_worker(app, "WARNING").execute_from_commandline()


if __name__ == "__main__":
    main()
