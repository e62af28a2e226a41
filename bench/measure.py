"""The two measurements, both taken from outside the contender.

Drain: the contender consumes the preloaded topic from the start. Throughput is N divided by the
time between the first and the last record it wrote (broker append times on its output topics);
CPU seconds are the process tree's over that same window; peak RSS is the kernel's VmHWM (or the
highest 100 ms sample). Completion is the group's committed offsets reaching N.

Latency: a fresh input topic per offered load. A librdkafka producer stamps ``created_at`` and the
send time of each event and paces sends to the offered rate; a librdkafka consumer on the flagged
topic notes when each flagged event becomes readable. Latency = readable − sent, flagged events
only (the only output a moderator waits for), measured after a warm-up that proves the contender
is consuming (a malformed probe came back through the dead-letter topic).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from confluent_kafka import Consumer, Producer, TopicPartition

from bench import kafka
from bench.config import BenchConfig
from bench.contenders import CONTENDERS
from bench.contenders.common import MAX_SECONDS_ENV
from bench.errors import BenchError
from bench.process import WatchedProcess
from bench.workload import MALFORMED, Workload
from streams.networks.stage import changelog_topic
from streams.networks.tap import observations_topic
from streams.settings import Settings

POLL_S = 0.5
MEASURE_PREFIX = "m"
WARM_PREFIX = "w"
PROBE_KEY = b"probe"
WARM_RTT_S = 0.5  # a probe back this fast means the contender is up and consuming


@dataclass(slots=True)
class DrainResult:
    events: int
    seconds: float
    throughput_eps: float
    cpu_seconds: float
    cpu_s_per_1k: float
    peak_rss_mb: float
    committed: int
    flagged: int
    dead_lettered: int
    expected_dead_letters: int
    decided_by: dict[str, int]  # flagged events per decided_by: how many the encoder decided
    startup_s: float
    exit_code: int | None
    load_avg_1m: float  # the machine's load when the drain ended: other work skews figures
    # the campaign stage's work (flagstream-campaigns): observations, changelog writes, records,
    # and tail_s / records_tail_s: seconds from the pipeline's last output to the stage's last
    # write / last campaign record
    stage: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class LatencyResult:
    offered_eps: int
    sent: int
    achieved_eps: float
    samples: int
    p50: float | None
    p95: float | None
    p99: float | None
    max_ms: float | None
    complete: bool  # every event of the window was committed within settle_timeout_s
    cpu_s_per_1k: float
    peak_rss_mb: float
    exit_code: int | None = None
    load_avg_1m: float = 0.0
    notes: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def contender_env(
    cfg: BenchConfig,
    input_topic: str,
    flagged: str,
    dlq: str,
    group: str,
    max_seconds: float,
    name: str | None = None,
) -> dict[str, str]:
    """The contender's settings, the way the worker reads them: ``FLAGSTREAM_*``; those of
    contender ``name`` itself (``Contender.env``) last."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLAGSTREAM_") or k.startswith(kafka.SECURITY_PREFIXES)
    }
    data_dir = cfg.run_dir / "data" / group
    data_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "FLAGSTREAM_BOOTSTRAP": cfg.bootstrap,
            "FLAGSTREAM_INPUT_TOPIC": input_topic,
            "FLAGSTREAM_FLAGGED_TOPIC": flagged,
            "FLAGSTREAM_DLQ_TOPIC": dlq,
            "FLAGSTREAM_GROUP_ID": group,
            "FLAGSTREAM_AUTO_OFFSET_RESET": "earliest",
            "FLAGSTREAM_METRICS_ADDR": f"127.0.0.1:{_free_port()}",
            "FLAGSTREAM_DATA_DIR": str(data_dir),
            "FLAGSTREAM_LOG_LEVEL": "WARNING",
            # the peers reuse Pipeline.process and publish only the flagged/DLQ topics: campaign
            # detection (issue 10) is measured apart, by bench/networks_cost.py
            "FLAGSTREAM_CAMPAIGNS_ENABLED": "0",
            MAX_SECONDS_ENV: str(int(max_seconds)),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"FLAGSTREAM_{k.upper()}": v for k, v in cfg.overrides})
    if name is not None:
        env.update(dict(CONTENDERS[name].env))
        if CONTENDERS[name].campaigns:
            env["FLAGSTREAM_CAMPAIGN_TOPIC"] = campaigns_topic(flagged)
    return env


def campaigns_topic(flagged: str) -> str:
    """A campaign-stage contender's campaigns topic, beside its flagged topic."""
    return flagged.removesuffix(".flagged") + ".campaigns"


def stage_partitions(cfg: BenchConfig) -> int:
    """``campaign_partitions`` as the contenders get it (the worker's default unless set)."""
    default = Settings.model_fields["campaign_partitions"].default
    return int(dict(cfg.overrides).get("campaign_partitions", default))


def stage_topics(group: str) -> tuple[str, str]:
    """The campaign stage's repartition topic and its table's changelog, named by the worker's
    own functions for a worker of consumer group ``group``."""
    settings = Settings(group_id=group)
    return observations_topic(settings), changelog_topic(settings)


def stage_output_topics(name: str, flagged: str, group: str) -> list[str]:
    """The topics contender ``name``'s campaign stage writes besides flagged and DLQ (none for
    a contender without it): deleted with the run's other topics."""
    if not CONTENDERS[name].campaigns:
        return []
    return [campaigns_topic(flagged), *stage_topics(group)]


def _wait_for_stage(cfg: BenchConfig, name: str, proc: WatchedProcess, group: str) -> int:
    """Wait until the stage group has committed every observation written (the stage has done
    the drain's work, not only the flagged path); returns the observations' count."""
    observations, _ = stage_topics(group)
    parts = stage_partitions(cfg)
    deadline = time.monotonic() + cfg.drain_timeout_s
    last = -1
    while time.monotonic() < deadline:
        ends = sum(kafka.end_offsets(cfg.bootstrap, observations, parts))
        done = kafka.committed_total(cfg.bootstrap, group, observations, parts)
        if ends and done >= ends and ends == last:
            return ends
        last = ends
        if not proc.alive():
            raise BenchError(
                f"{name} exited with {proc.stop()} before its campaign stage caught up "
                f"({done} of {ends} observations); log {proc.log_path}:\n" + proc.log_tail()
            )
        time.sleep(POLL_S)
    raise BenchError(
        f"{name}'s campaign stage did not catch up in {cfg.drain_timeout_s:.0f} s: "
        "raise --drain-timeout or lower --events"
    )


def leader_topic(group: str) -> str:
    """The leader-election topic a Faust app with default settings creates (faust-naive)."""
    return f"{group}-__assignor-__leader"


def _topics(cfg: BenchConfig, name: str, phase: str) -> tuple[str, str, str]:
    base = f"bench.{cfg.run_id}.{name}.{phase}"
    return f"{base}.in", f"{base}.flagged", f"{base}.dlq"


def drain(cfg: BenchConfig, name: str, input_topic: str, n: int, malformed: int) -> DrainResult:
    """Run one contender over the whole preloaded topic; raises BenchError if it cannot finish."""
    _, flagged, dlq = _topics(cfg, name, "drain")
    kafka.create_topics(cfg.bootstrap, [flagged, dlq], cfg.partitions, kafka.OUTPUT_TOPIC_CONFIG)
    if CONTENDERS[name].campaigns:  # one partition, so that the scan below reads all of it
        kafka.create_topics(cfg.bootstrap, [campaigns_topic(flagged)], 1, kafka.OUTPUT_TOPIC_CONFIG)
    group = f"bench-{cfg.run_id}-{name}-drain"
    env = contender_env(cfg, input_topic, flagged, dlq, group, cfg.drain_timeout_s + 120, name)
    proc = WatchedProcess(CONTENDERS[name].argv, env, cfg.run_dir / f"{name}-drain.log")
    stage = CONTENDERS[name].campaigns
    observations = 0
    started = time.time()
    proc.start()
    committed = 0
    deadline = time.monotonic() + cfg.drain_timeout_s
    try:
        while time.monotonic() < deadline:
            time.sleep(POLL_S)
            if not proc.alive():
                raise BenchError(
                    f"{name} exited with {proc.stop()} during the drain; log {proc.log_path}:\n"
                    + proc.log_tail()
                )
            committed = kafka.committed_total(cfg.bootstrap, group, input_topic, cfg.partitions)
            if committed >= n:
                break
        else:
            raise BenchError(
                f"{name} committed {committed} of {n} events in {cfg.drain_timeout_s:.0f} s: "
                "raise --drain-timeout or lower --events"
            )
        if stage:
            observations = _wait_for_stage(cfg, name, proc, group)
        time.sleep(1.0)  # commits follow acknowledgements; let the last outputs land
        exit_code = proc.stop()
    finally:
        if proc.alive():
            proc.stop()
    out_f = kafka.scan_topic(cfg.bootstrap, flagged, cfg.partitions, decided_by=True)
    out_d = kafka.scan_topic(cfg.bootstrap, dlq, cfg.partitions)
    firsts = [t for t in (out_f.first_ts_ms, out_d.first_ts_ms) if t is not None]
    lasts = [t for t in (out_f.last_ts_ms, out_d.last_ts_ms) if t is not None]
    stage_scans: dict[str, kafka.TopicScan] = {}
    stage_tail_s = records_tail_s = 0.0
    if stage:
        # the stage's own writes (table changelog, campaign records) end its share of the work
        _, changelog = stage_topics(group)
        stage_scans = {
            "changelog": kafka.scan_topic(
                cfg.bootstrap, changelog, stage_partitions(cfg), compacted=True
            ),
            "campaigns": kafka.scan_topic(cfg.bootstrap, campaigns_topic(flagged), 1),
        }
        stage_lasts = [s.last_ts_ms for s in stage_scans.values() if s.last_ts_ms is not None]
        if lasts and stage_lasts:  # how long after the pipeline's last output the stage ended
            stage_tail_s = max(max(stage_lasts) - max(lasts), 0) / 1000
            # which write ended it: a campaign record can be a held-back growth that the
            # stage's flush timer publishes (streams/networks/stage.py), not bundle work
            records_last = stage_scans["campaigns"].last_ts_ms
            if records_last is not None:
                records_tail_s = max(records_last - max(lasts), 0) / 1000
        lasts += stage_lasts
    if not firsts or not lasts:
        raise BenchError(f"{name} wrote no output at all for {n} events; log {proc.log_path}")
    t_first, t_last = min(firsts) / 1000, max(lasts) / 1000
    window = max(t_last - t_first, 1e-3)
    cpu = proc.cpu_at(t_last) - proc.cpu_at(t_first)
    if not cfg.keep_topics:
        extra = stage_output_topics(name, flagged, group)
        kafka.delete_topics(cfg.bootstrap, [flagged, dlq, leader_topic(group), *extra])
    return DrainResult(
        events=n,
        seconds=round(window, 3),
        throughput_eps=round(n / window, 1),
        cpu_seconds=round(cpu, 3),
        cpu_s_per_1k=round(cpu / n * 1000, 4),
        peak_rss_mb=round(proc.peak_rss_bytes / 2**20, 1),
        committed=committed,
        flagged=out_f.count,
        dead_lettered=out_d.count,
        expected_dead_letters=malformed,
        decided_by=out_f.decided_by,
        startup_s=round(t_first - started, 2),
        exit_code=exit_code,
        load_avg_1m=round(os.getloadavg()[0], 2),
        stage={
            "observations": observations,
            "changelog_writes": stage_scans["changelog"].count,
            "campaign_records": stage_scans["campaigns"].count,
            "tail_s": round(stage_tail_s, 3),
            "records_tail_s": round(records_tail_s, 3),
        }
        if stage
        else {},
    )


class _Reader(threading.Thread):
    """Notes the wall time at which each output record became readable, by key."""

    def __init__(self, bootstrap: str, topics: list[str], partitions: int) -> None:
        super().__init__(name="bench-latency-reader", daemon=True)
        self._consumer = Consumer(
            {
                **kafka.client_conf(bootstrap),
                "group.id": "flagstream-bench-latency-reader",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 5,
                "fetch.min.bytes": 1,
            }
        )
        self._consumer.assign([TopicPartition(t, p, 0) for t in topics for p in range(partitions)])
        self.seen: list[tuple[str, bytes, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        # poll() returns as soon as one record is there; consume(timeout=0) then takes what else
        # arrived with it (consume with a timeout would wait for the whole batch or the timeout)
        poll, consume, now, seen = self._consumer.poll, self._consumer.consume, time.time, self.seen
        while not self._halt.is_set():
            first = poll(0.05)
            if first is None:
                continue
            at = now()
            for m in (first, *consume(num_messages=1000, timeout=0)):
                if not m.error():
                    seen.append((m.topic(), m.key() or b"", at))

    def close(self) -> None:
        self._halt.set()
        self.join(5)
        self._consumer.close()


def _produce(producer: Producer, topic: str, key: bytes, value: bytes) -> None:
    for _attempt in range(1000):  # the local queue drains in milliseconds
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            producer.poll(0.01)
    raise BenchError("the load producer's queue stayed full for 10 s")


def _load_producer(bootstrap: str) -> Producer:
    # linger 1 ms: with 0, librdkafka sends one request per event and at 5k events/s the broker
    # (same 2 cores) answers in bursts: p99 ~360 ms with no contender at all; with 1 ms it is ~5 ms
    return Producer(
        kafka.client_conf(bootstrap, **{"linger.ms": 1, "acks": "all", "compression.type": "none"})
    )


def latency(
    cfg: BenchConfig,
    name: str,
    rate: int,
    workload: Workload,
    *,
    argv: tuple[str, ...] | None = None,
    samples: dict[str, tuple[float, float]] | None = None,
) -> LatencyResult:
    """Offer ``rate`` events/s for ``cfg.latency_seconds`` to a freshly started contender.

    ``argv`` runs another command than the contender's (the traced worker of ``bench.breakdown``);
    ``samples``, if given, receives each flagged event's key → (sent, readable) wall times.
    """
    live, flagged, dlq = _topics(cfg, name, f"r{rate}")
    kafka.create_topics(cfg.bootstrap, [live], cfg.partitions)
    kafka.create_topics(cfg.bootstrap, [flagged, dlq], cfg.partitions, kafka.OUTPUT_TOPIC_CONFIG)
    group = f"bench-{cfg.run_id}-{name}-r{rate}"
    budget = cfg.startup_timeout_s + cfg.latency_seconds + cfg.settle_timeout_s + 120
    env = contender_env(cfg, live, flagged, dlq, group, budget, name)
    command = argv or CONTENDERS[name].argv
    proc = WatchedProcess(command, env, cfg.run_dir / f"{name}-r{rate}.log")
    reader = _Reader(cfg.bootstrap, [flagged, dlq], cfg.partitions)
    producer = _load_producer(cfg.bootstrap)
    reader.start()
    proc.start()
    notes: list[str] = []
    produced = 0
    try:
        produced += warm_up(cfg, {name: proc}, [dlq], producer, reader, live, workload)
        sent_at, t_start, t_end = _offer(producer, live, workload, rate, cfg.latency_seconds)
        produced += len(sent_at)
        producer.flush(30)
        cpu_window = proc.cpu_at(t_end) - proc.cpu_at(t_start)
        complete = _settle(cfg, proc, group, live, produced)
        if not complete:
            notes.append(
                f"backlog not cleared {cfg.settle_timeout_s:.0f} s after the window: percentiles "
                "are over the flagged events that came out, a lower bound"
            )
        time.sleep(0.5)
    finally:
        exit_code = proc.stop()
        reader.close()
    window = t_end - t_start
    times = flagged_times(reader.seen, flagged, sent_at)
    if samples is not None:
        samples.update(times)
    arr = np.asarray([(at - sent) * 1000 for sent, at in times.values()])
    pct = [round(float(x), 2) for x in np.percentile(arr, [50, 95, 99])] if len(arr) else [None] * 3
    if len(arr) < 100:
        notes.append(f"only {len(arr)} flagged samples: percentiles are rough")
    if not cfg.keep_topics:
        extra = stage_output_topics(name, flagged, group)
        kafka.delete_topics(cfg.bootstrap, [live, flagged, dlq, leader_topic(group), *extra])
    return LatencyResult(
        offered_eps=rate,
        sent=len(sent_at),
        achieved_eps=round(len(sent_at) / window, 1),
        samples=len(arr),
        p50=pct[0],
        p95=pct[1],
        p99=pct[2],
        max_ms=round(float(arr.max()), 2) if len(arr) else None,
        complete=complete,
        cpu_s_per_1k=round(cpu_window / max(len(sent_at), 1) * 1000, 4),
        peak_rss_mb=round(proc.peak_rss_bytes / 2**20, 1),
        exit_code=exit_code,
        load_avg_1m=round(os.getloadavg()[0], 2),
        notes=notes,
    )


def warm_up(
    cfg: BenchConfig,
    procs: Mapping[str, WatchedProcess],
    dlqs: Collection[str],
    producer: Producer,
    reader: _Reader,
    live: str,
    workload: Workload,
) -> int:
    """Send a little traffic until malformed probes come back dead-lettered promptly on every
    one of ``dlqs`` (twice in a row within ``WARM_RTT_S``): every contender in ``procs`` has
    started, joined its group and settled. Returns the events sent."""
    probe = next(it.raw for it in workload.pool if it.kind == MALFORMED)
    deadline = time.monotonic() + cfg.startup_timeout_s
    sent = prompt = 0
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if not proc.alive():
                raise BenchError(
                    f"{name} exited with {proc.stop()} while starting; log {proc.log_path}:\n"
                    + proc.log_tail()
                )
        for _ in range(20):
            key, value, _kind = workload.event(sent, WARM_PREFIX, time.time())
            _produce(producer, live, key, value)
            sent += 1
        key = PROBE_KEY + b"-%d" % sent
        _produce(producer, live, key, probe)
        sent += 1
        producer.flush(10)
        t_probe = time.monotonic()
        waiting = set(dlqs)
        while waiting and time.monotonic() - t_probe < 2.0:
            waiting -= {t for t, k, _at in reader.seen[-200 * len(dlqs) :] if k == key}
            if waiting:
                time.sleep(0.01)
        prompt = prompt + 1 if not waiting and time.monotonic() - t_probe < WARM_RTT_S else 0
        if prompt >= 2:
            time.sleep(0.5)
            return sent
    logs = ", ".join(str(p.log_path) for p in procs.values())
    raise BenchError(
        f"{', '.join(procs)} did not dead-letter probes promptly within "
        f"{cfg.startup_timeout_s:.0f} s of starting; logs {logs}:\n"
        + "\n".join(p.log_tail() for p in procs.values())
    )


def flagged_times(
    seen: Sequence[tuple[str, bytes, float]], flagged: str, sent_at: Sequence[float]
) -> dict[str, tuple[float, float]]:
    """Each measured flagged event on ``flagged``: its key → (sent, readable) wall times, the
    first time it was readable (a redelivered duplicate is not a second sample)."""
    prefix = f"{MEASURE_PREFIX}-".encode()
    times: dict[str, tuple[float, float]] = {}
    for topic, key, at in seen:
        if topic == flagged and key.startswith(prefix):
            times.setdefault(key.decode(), (sent_at[int(key[len(prefix) :])], at))
    return times


def _offer(
    producer: Producer, topic: str, workload: Workload, rate: int, seconds: float
) -> tuple[list[float], float, float]:
    """Send ``rate`` events/s for ``seconds``; returns each event's send time and the window."""
    total = int(rate * seconds)
    sent_at: list[float] = []
    append, now, mono = sent_at.append, time.time, time.monotonic
    event, produce, poll = workload.event, producer.produce, producer.poll
    start = mono()
    t_start = now()
    hard_stop = start + seconds * 3 + 5  # a starved producer gives up rather than run on
    i = 0
    while i < total and mono() < hard_stop:
        due = min(total, int((mono() - start) * rate) + 1)
        while i < due:
            ts = now()
            key, value, _kind = event(i, MEASURE_PREFIX, ts)
            try:
                produce(topic, value, key)
            except BufferError:
                poll(0.005)
                continue
            append(ts)
            i += 1
        poll(0)
        time.sleep(0.0005)
    return sent_at, t_start, now()


def _settle(cfg: BenchConfig, proc: WatchedProcess, group: str, live: str, produced: int) -> bool:
    """Wait until the contender committed everything offered; False if it could not in time."""
    deadline = time.monotonic() + cfg.settle_timeout_s
    while time.monotonic() < deadline and proc.alive():
        if kafka.committed_total(cfg.bootstrap, group, live, cfg.partitions) >= produced:
            return True
        time.sleep(POLL_S)
    return False


def as_dict(result: Any) -> dict[str, Any]:
    return {k: getattr(result, k) for k in result.__slots__}


def floor(cfg: BenchConfig, rate: int, workload: Workload) -> dict[str, float]:
    """The harness's own floor: the load producer straight to the reader, no contender between.

    Every event counts (not only flagged ones). What a contender adds is its latency minus this.
    """
    topic = f"bench.{cfg.run_id}.floor.r{rate}"
    kafka.create_topics(cfg.bootstrap, [topic], cfg.partitions)
    reader = _Reader(cfg.bootstrap, [topic], cfg.partitions)
    producer = _load_producer(cfg.bootstrap)
    reader.start()
    try:
        time.sleep(1.0)  # the reader's first fetch
        sent_at, _t0, _t1 = _offer(producer, topic, workload, rate, cfg.latency_seconds)
        producer.flush(30)
        time.sleep(1.0)
    finally:
        reader.close()
    prefix = f"{MEASURE_PREFIX}-".encode()
    lat = np.asarray(
        [
            (at - sent_at[int(key[len(prefix) :])]) * 1000
            for _t, key, at in reader.seen
            if key.startswith(prefix)
        ]
    )
    if not cfg.keep_topics:
        kafka.delete_topics(cfg.bootstrap, [topic])
    if not len(lat):
        raise BenchError(f"the harness read none of its {len(sent_at)} events back from {topic}")
    p50, p95, p99 = (round(float(x), 2) for x in np.percentile(lat, [50, 95, 99]))
    return {"p50": p50, "p95": p95, "p99": p99, "samples": len(lat)}
