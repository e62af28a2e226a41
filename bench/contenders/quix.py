"""quixstreams: a Quix Streams application doing the same work.

Written the way the Quix Streams docs write an application: a ``StreamingDataFrame`` over the
input topic with ``apply`` per message. Quix Streams has no batch operator in the dataframe, so
the model sees one text per call (``Pipeline.process`` on a batch of one: same decode, model,
policy and output records). Each output is routed with ``to_topic`` to the flagged or dead-letter
topic, keeping its key, value bytes and headers. Defaults otherwise (commit every 5 s,
at-least-once, librdkafka's acks=all).
"""

from __future__ import annotations

from typing import Any

from quixstreams import Application, message_context
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.models.serializers import Serializer

from bench.contenders import common
from bench.kafka import librdkafka_security
from streams.pipeline import Pipeline
from streams.publish import InMessage, OutMessage
from streams.settings import Settings


class OutValue(Serializer):
    """Serialises an :class:`OutMessage` to its value bytes, unchanged."""

    def __call__(self, value: OutMessage, ctx: Any) -> bytes:
        return value.value or b""


def build(s: Settings) -> Application:
    app = Application(
        broker_address=ConnectionConfig.from_librdkafka_dict(
            {"bootstrap.servers": s.bootstrap, **librdkafka_security(s)}
        ),
        consumer_group=s.group_id,
        auto_offset_reset=s.auto_offset_reset,
        state_dir=str(s.data_dir),
        loglevel="WARNING",
        use_changelog_topics=False,
    )
    pipeline = Pipeline.from_settings(s)
    source = app.topic(s.input_topic, value_deserializer="bytes", key_deserializer="bytes")
    sinks = {
        name: app.topic(name, value_serializer=OutValue(), key_serializer="bytes")
        for name in (s.flagged_topic, s.dlq_topic)
    }
    input_topic = s.input_topic

    def process(value: bytes, key: bytes | None, _ts: int, headers: Any) -> list[OutMessage]:
        ctx = message_context()
        msg = InMessage(input_topic, ctx.partition, ctx.offset, value, key, tuple(headers or ()))
        return pipeline.process([msg]).outputs

    sdf = app.dataframe(source)
    sdf = sdf.apply(process, metadata=True, expand=True)
    sdf = sdf.set_headers(lambda value, _key, _ts, _headers: value.headers)
    sdf.to_topic(lambda value, _key, _ts, _headers: sinks[value.topic], key=lambda v: v.key)
    return app


def main() -> None:
    s = common.settings()
    common.arm_deadline()
    build(s).run()


if __name__ == "__main__":
    main()
