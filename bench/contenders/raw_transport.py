"""raw-transport: the raw-classify loop with the model taken out — the transport limit.

Per event: the worker's decode and validation, dead-lettering byte for byte, and a model-free
1-in-20 selection forwarded to the flagged topic (see :class:`common.TransportWork`).
"""

from __future__ import annotations

from bench.contenders import common, raw_loop


def main() -> None:
    s = common.settings()
    raw_loop.main(s, common.TransportWork(s))


if __name__ == "__main__":
    main()
