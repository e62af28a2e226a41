"""raw-classify: the minimal aiokafka loop running flagstream's own batch pipeline.

The practical limit for Python: the same decode, model, policy and output records as the worker
(``Pipeline.process``), with nothing around them but ``getmany`` and ``send``.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.contenders import common, raw_loop
from streams.pipeline import Pipeline
from streams.publish import InMessage, OutMessage


def main() -> None:
    s = common.settings()
    pipeline = Pipeline.from_settings(s)

    def work(messages: Sequence[InMessage]) -> list[OutMessage]:
        return pipeline.process(messages).outputs

    raw_loop.main(s, work)


if __name__ == "__main__":
    main()
