"""faust-naive: a plain Faust agent, one event at a time.

What a first Faust implementation looks like: ``async for event in stream.events()``, the model on
one text (``Pipeline.process`` on a batch of one: same decode, model, policy and output records),
``await topic.send`` per output. Faust defaults otherwise, but for its web server (off, so runs
never collide on port 6066).
"""

from __future__ import annotations

import faust

from bench.contenders import common
from streams.app import faust_credentials
from streams.cli.worker import service_worker
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import Settings


def build(s: Settings) -> faust.App:
    app = faust.App(
        s.group_id,
        broker=s.kafka_url,
        broker_credentials=faust_credentials(s),
        autodiscover=False,
        web_enabled=False,
        datadir=str(s.data_dir),
        consumer_auto_offset_reset=s.auto_offset_reset,
    )
    pipeline = Pipeline.from_settings(s)
    source = app.topic(
        s.input_topic, key_serializer="raw", value_serializer="raw", allow_empty=True
    )
    outputs = {
        name: app.topic(name, key_serializer="raw", value_serializer="raw")
        for name in (s.flagged_topic, s.dlq_topic)
    }

    async def moderate(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            m = event.message
            headers = m.headers
            if isinstance(headers, dict):
                headers = list(headers.items())
            msg = InMessage(m.topic, m.partition, m.offset, m.value, m.key, tuple(headers or ()))
            for out in pipeline.process([msg]).outputs:
                await outputs[out.topic].send(key=out.key, value=out.value, headers=out.headers)

    app.agent(source, name="bench.naive")(moderate)
    return app


def main() -> None:
    s = common.settings()
    common.arm_deadline()
    app = build(s)
    # the worker's own: no Faust spinner (it would set the root logger to DEBUG)
    service_worker(app, "WARNING").execute_from_commandline()


if __name__ == "__main__":
    main()
