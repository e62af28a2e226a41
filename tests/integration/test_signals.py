"""Signal lists on the real broker: imported with the CLI, loaded by the worker before it is
ready, matched at once (decided_by signal-list:<list>), removed live, exported round-trip."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from tests.support import (
    FLAGSTREAM,
    event_json,
    metric_sum,
    read_topic,
    start_worker,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HANG_S = 120.0  # a wait this long is a hang, whatever the machine
EXACT = "Buy 5000 real followers for your account today, fast delivery guaranteed"
NEAR = (
    "Congratulations! You have won a $1000 Walmart gift card. Click the link below to claim "
    "your prize before it expires today"
)
NEAR_ZH = "恭喜您获得本月幸运大奖，奖金一万元，请立即添加客服领取，名额有限先到先得"
SIGNALS_CSV = f"""kind,indicator_type,value,text,label,notes
indicator,wechat,lucky2026,,scam,reported by a partner
text_exact,,,"{EXACT}",spam,
text_near,,,"{NEAR}",scam,
indicator,phone,12,,scam,a bad row: not a phone number
"""
SIGNALS_JSONL = orjson.dumps(
    {"list": "cn-partner", "kind": "text_near", "text": NEAR_ZH, "label": "scam"}
).decode()
BENIGN = (
    "the train was late again this morning, I missed my first meeting",
    "does anyone know a good place for dumplings near the station",
    "明天早上九点开会，请大家准时参加，谢谢",
)


def _produce(bootstrap: str, topic: str, events: list[tuple[str, str]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    try:
        for event_id, text in events:
            # one key: one partition, so the events are processed in this order
            producer.send(
                topic, key=b"signals-test", value=event_json(event_id, f"author-{event_id}", text)
            )
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLAGSTREAM, "signals", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=HANG_S,
        check=False,
    )


def _flagged(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    try:
        records = read_topic(bootstrap, topic, timeout=30)
    except AssertionError:
        return {}
    return {p["event_id"]: p for p in (orjson.loads(r.value) for r in records)}


def test_signal_lists_flag_at_once_and_follow_removals(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"sig-{uuid.uuid4().hex[:8]}"
    env = {**worker_env(kafka_bootstrap, prefix), "FLAGSTREAM_SIGNALS_TOPIC": f"{prefix}.signals"}
    cli_env = {
        "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
        "FLAGSTREAM_SIGNALS_TOPIC": env["FLAGSTREAM_SIGNALS_TOPIC"],
    }
    csv_file = tmp_path / "acme.csv"
    csv_file.write_text(SIGNALS_CSV, encoding="utf-8")
    imported = _cli(cli_env, "import", str(csv_file), "--list", "acme-scam")
    assert imported.returncode == 1, imported.stderr  # the bad row fails the command...
    assert f"{csv_file}:5: " in imported.stderr
    assert "3 signals imported" in imported.stdout  # ...and the good rows are imported
    jsonl_file = tmp_path / "cn.jsonl"
    jsonl_file.write_text(SIGNALS_JSONL + "\n", encoding="utf-8")
    assert _cli(cli_env, "import", str(jsonl_file)).returncode == 0

    worker = start_worker(env, tmp_path)
    try:
        wait_until(lambda: worker.probe("/readyz") == 200, HANG_S, "/readyz 200")
        samples = worker.metrics()  # loaded before ready
        assert metric_sum(samples, "flagstream_signals_loaded", list="acme-scam") == 3
        assert metric_sum(samples, "flagstream_signals_loaded", list="cn-partner") == 1
        events = [
            ("m-indicator", "加我薇：lucky2026 有好货，先到先得"),
            ("m-exact", EXACT.upper() + "!!"),
            ("m-near", NEAR.replace("$1000", "$500").replace("today", "today 🎁")),
            (
                "m-near-zh",
                "恭喜你获得本月幸运大奖，奖金两万元！请立即添加客服领取，名额有限，先到先得🎉",
            ),
            *((f"b{i}", text) for i, text in enumerate(BENIGN)),
        ]
        flagged_topic = env["FLAGSTREAM_FLAGGED_TOPIC"]
        _produce(kafka_bootstrap, env["FLAGSTREAM_INPUT_TOPIC"], events)
        matched = ("m-indicator", "m-exact", "m-near", "m-near-zh")
        wait_until(
            lambda: set(matched) <= set(_flagged(kafka_bootstrap, flagged_topic)),
            HANG_S,
            "the four matching events on the flagged topic",
            interval=1.0,
        )
        flagged = _flagged(kafka_bootstrap, flagged_topic)
        expected = {
            "m-indicator": ("acme-scam", "indicator", "scam"),
            "m-exact": ("acme-scam", "text_exact", "spam"),
            "m-near": ("acme-scam", "text_near", "scam"),
            "m-near-zh": ("cn-partner", "text_near", "scam"),
        }
        for event_id, (name, kind, label) in expected.items():
            payload = flagged[event_id]
            assert payload["decided_by"] == f"signal-list:{name}", payload
            assert payload["signal"]["kind"] == kind
            assert payload["labels"][0] == label
            assert payload["scores"][label] == 1.0
            assert payload["action"] == "block"  # the default policy's [signals] action
        assert flagged["m-indicator"]["signal"]["value"] == "wechat:lucky2026"
        for event_id in ("b0", "b1", "b2"):
            assert not flagged.get(event_id, {}).get("decided_by", "").startswith("signal-list")

        removed = _cli(
            cli_env, "remove", "--list", "acme-scam", "--kind", "indicator",
            "--indicator-type", "wechat", "--value", "lucky2026",
        )  # fmt: skip
        assert removed.returncode == 0, removed.stderr
        wait_until(
            lambda: (
                metric_sum(worker.metrics(), "flagstream_signals_loaded", list="acme-scam") == 2
            ),
            60,
            "the worker to apply the tombstone",
        )
        # the same indicator again, then a marker that still matches: once the marker is
        # flagged, the event before it on the partition was decided too
        _produce(
            kafka_bootstrap,
            env["FLAGSTREAM_INPUT_TOPIC"],
            [("after-remove", "加我薇：lucky2026 有好货，先到先得"), ("marker", EXACT)],
        )
        wait_until(
            lambda: "marker" in _flagged(kafka_bootstrap, flagged_topic),
            HANG_S,
            "the marker event on the flagged topic",
            interval=1.0,
        )
        after = _flagged(kafka_bootstrap, flagged_topic)
        assert after["marker"]["decided_by"] == "signal-list:acme-scam"
        assert not after.get("after-remove", {}).get("decided_by", "").startswith("signal-list")
        # counted as matched, exported by the follower thread within a poll (~0.5 s)
        wait_until(
            lambda: (
                metric_sum(worker.metrics(), "flagstream_signal_matches_total", list="acme-scam")
                == 4
            ),
            30,
            "4 acme-scam matches in the metrics",
        )
        samples = worker.metrics()
        assert metric_sum(samples, "flagstream_signal_matches_total", list="cn-partner") == 1
        assert metric_sum(samples, "flagstream_signal_updates_total", outcome="tombstone") == 1
        assert metric_sum(samples, "flagstream_signals_last_update_timestamp_seconds") > 0
    finally:
        worker.stop()

    out = tmp_path / "export.jsonl"
    exported = _cli(cli_env, "export", "--list", "acme-scam", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    records = [orjson.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["kind"] for r in records) == ["text_exact", "text_near"]  # removed: left out
    # round trip: the export imports cleanly and exports the same records
    assert _cli(cli_env, "import", str(out)).returncode == 0
    again = tmp_path / "again.jsonl"
    assert _cli(cli_env, "export", "--list", "acme-scam", "--out", str(again)).returncode == 0
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
