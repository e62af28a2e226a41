"""Every private member of Faust (and of the clients under it) that flagstream depends on.

``streams.consumer`` delivers fetched batches below Faust's per-event stream, which means
overriding Faust's fetch loop and reaching into its offset bookkeeping, and runs Faust's aiokafka
consumer "thread" (a ``mode.ServiceThread``) on the app's own event loop, which means overriding
how that service starts and how calls are delegated to it; the worker's readiness probe borrows
the producer's client. Those members are not Faust's public API, so an upgrade may
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

#: the faust-streaming, mode-streaming and aiokafka releases these were read from
#: (requirements/constraints.txt pins both)
FAUST_VERSION: Final = "0.15.3"
MODE_VERSION: Final = "0.7.1"
AIOKAFKA_VERSION: Final = "0.14.0"

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

#: members of Faust's consumer thread (``AIOKafkaConsumerThread``, a ``mode.ServiceThread``)
#: that ``InLoopConsumerThread`` sets or overrides to run it on the app's loop instead
THREAD_ATTRIBUTES: Final = (
    "_thread_started",  # set by start(): maybe_start() reads it
    "_thread_running",  # the future start() awaits, set by _serve once started (or failed)
    "thread_loop",  # the loop the service runs on: the app's
    "parent_loop",
)
THREAD_METHODS: Final = (
    "_serve",  # start, signal _thread_running, wait until stopped, shut down
    "call_thread",  # how the consumer's methods are delegated: a plain await here
    "_gather_remaining_tasks",  # would cancel every task of the loop: overridden
    "seek_to_committed",  # wrapped: a partition revoked while its offsets were read is skipped
    "_fetch_records",  # wrapped: per-record topics' partitions are read before the sinks'
)

#: methods flagstream overrides with a copy (``_drain_messages``; ``ServiceThread.start`` without
#: the thread), re-implements (``ack`` as ``ack_offsets`` for a batch; ``call_thread`` as a plain
#: await), wraps (``wait_empty``), relies on (``_serve``, run as a task) or disables
#: (``_gather_remaining_tasks``): sha256 of their source in FAUST_VERSION / MODE_VERSION /
#: AIOKAFKA_VERSION. A different digest means Faust, mode or aiokafka changed code flagstream
#: mirrors.
MIRRORED_SOURCES: Final = {
    "mode.threads.ServiceThread.start": "f11841038a033a05",
    "mode.threads.QueueServiceThread.call_thread": "479edda75b54734b",
    "mode.threads.ServiceThread._serve": "67809eae09573ac7",
    "mode.threads.ServiceThread._gather_remaining_tasks": "6f65b92dd1012485",
    "faust.transport.consumer.Consumer._drain_messages": "44a2500309e83c63",
    "faust.transport.consumer.Consumer.ack": "5fcf41cf45153475",
    "faust.transport.consumer.Consumer.wait_empty": "e4662fe24f094819",
    "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread.seek_to_committed": "775ab0adc4b052ab",
    "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread._fetch_records": "39a2c6c79fc1455a",
    # relied on by InLoopConsumerThread._fetch_records: buffered partitions are returned in the
    # order they were fetched, each drained before the next, and those not asked for are kept
    "aiokafka.consumer.fetcher.Fetcher.fetched_records": "be4348896b9b66af",
    # relied on by BatchingConsumer.ack: a record it skips (stale generation, flow control
    # suspended) is acked without having been tracked (Message.tracked stays False)
    "faust.streams.Stream._py_aiter": "3a48ee257a65435b",
    # relied on by BatchingConsumer._hand_back: at the end of a recovery the stream partitions
    # and the flow are resumed before flow control (whose resume empties the agents' queues),
    # and app.rebalancing is cleared only after that
    "faust.tables.recovery.Recovery.on_recovery_completed": "6ef567acf072e46d",
}

#: slots of ``faust.types.tuples.Message`` that ``BatchingConsumer.ack`` reads
MESSAGE_ATTRIBUTES: Final = ("tracked",)

#: the Faust producer's accessor for the aiokafka producer (whose ``client`` the readiness
#: probe asks for metadata)
PRODUCER_ACCESSOR: Final = "_ensure_producer"
#: ``faust.App`` hook the batching transport overrides
APP_TRANSPORT_FACTORY: Final = "_new_transport"


def source_digest(dotted: str) -> str:
    """First 16 hex digits of the sha256 of a method's source, by ``module.Class.method``."""
    module_name, class_name, method = dotted.rsplit(".", 2)
    module = __import__(module_name, fromlist=[class_name])
    function = getattr(getattr(module, class_name), method)
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def producer_client(app: FlagstreamApp) -> Any:
    """The aiokafka client of the app's producer (raises if the producer has not started)."""
    return getattr(app.producer, PRODUCER_ACCESSOR)().client
