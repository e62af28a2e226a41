"""Every private member of Faust (and of the clients under it) that flagstream depends on.

``streams.consumer`` delivers fetched batches below Faust's per-event stream, which means
overriding Faust's fetch loop and reaching into its offset bookkeeping; the worker's readiness
probe borrows the producer's client. Those members are not Faust's public API, so an upgrade may
rename or change them without notice. They are all listed here, and
``tests/unit/test_faust_internals.py`` fails when one is missing, or when one of the methods
flagstream copies or wraps changed its source: review the change, port it into
``streams/consumer.py``, then update the digest here.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from streams.consumer import FlagstreamApp

#: the faust-streaming release these were read from (requirements/constraints.txt pins it)
FAUST_VERSION: Final = "0.15.3"

#: instance attributes of ``faust.transport.consumer.Consumer`` read or written by
#: ``BatchingConsumer`` (offset bookkeeping and the fetch loop's state)
CONSUMER_ATTRIBUTES: Final = (
    "_committed_offset",  # TP -> last committed offset: acks below it are stale
    "_acked",  # TP -> acked offsets, which Faust's commit turns into the next offset
    "_acked_index",  # TP -> set of the same, for duplicate checks
    "_n_acked",  # acks since the last commit, against commit_every
    "_waiting_for_ack",  # future Faust's wait_empty waits on: notified after acks
    "_read_offset",  # TP -> last offset handed out: seeks skip what was seen
    "_buffered_partitions",  # partitions Faust paused but still delivers
    "_commit_every",  # commit after this many acks (None: on the interval only)
)

#: methods of the consumer that ``BatchingConsumer`` calls
CONSUMER_METHODS: Final = (
    "_wait_next_records",  # (timeout) -> (records by TP, active partitions)
    "_add_gap",  # (tp, first, last): offsets that will never arrive
    "_to_message",  # (tp, record) -> faust Message, for Faust's per-record delivery
    "_new_offset",  # (tp) -> the offset a commit would write (the unit tests read it)
)

#: mode.Service members used
SERVICE_ATTRIBUTES: Final = ("_stopped",)  # the fetch loop stops when it is set

#: methods flagstream overrides with a copy (``_drain_messages``) or re-implements for a batch
#: (``ack`` as ``ack_offsets``), or wraps (``wait_empty``): sha256 of their source in
#: FAUST_VERSION. A different digest means Faust changed code flagstream mirrors.
MIRRORED_SOURCES: Final = {
    "faust.transport.consumer.Consumer._drain_messages": "44a2500309e83c63",
    "faust.transport.consumer.Consumer.ack": "5fcf41cf45153475",
    "faust.transport.consumer.Consumer.wait_empty": "e4662fe24f094819",
}

#: the Faust producer's accessor for the aiokafka producer (whose ``client`` the readiness
#: probe asks for metadata)
PRODUCER_ACCESSOR: Final = "_ensure_producer"
#: ``faust.App`` hook the batching transport overrides
APP_TRANSPORT_FACTORY: Final = "_new_transport"


def source_digest(dotted: str) -> str:
    """First 16 hex digits of the sha256 of a function's source, by dotted path."""
    module_name, _, rest = dotted.partition(".Consumer.")
    module = __import__(module_name, fromlist=["Consumer"])
    function = getattr(module.Consumer, rest)
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def producer_client(app: FlagstreamApp) -> Any:
    """The aiokafka client of the app's producer (raises if the producer has not started)."""
    return getattr(app.producer, PRODUCER_ACCESSOR)().client
