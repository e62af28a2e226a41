"""Campaigns live on the real broker: detected within seconds of their K-th member, published as
CloudEvents keyed by a stable campaign id, and the state survives ``kill -9`` of the worker."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import jsonschema
import orjson
import pytest

from streams.events import load_schema
from tests.support import (
    FLAGSTREAM,
    WorkerProcess,
    campaign_records,
    latest_campaign,
    metric_sum,
    produce_events,
    read_topic,
    scam_text,
    start_worker,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HANG_S = 120.0  # a wait this long is a hang, whatever the machine
K = 5
BENIGN = (
    "the train was late again this morning, I missed my first meeting",
    "does anyone know a good place for dumplings near the station",
    "just finished the marathon, my legs are done but I am so happy",
    "reading a great book about the history of the silk road",
    "明天早上九点开会，请大家准时参加，谢谢",
    "新版本更新以后手机耗电少了很多，终于满意了",
)


# six different texts, one phone number
PHONE_TEXTS = (
    "cheap designer bags, all original, call me +1 415 555 2671",
    "need a loan today? no credit check. 415-555-2671",
    "生意兴隆，货到付款，电话 +1 (415) 555-2671",
    "hot singles in your area want to meet, text (415) 555 2671",
    "work from home and earn $500 a day, WhatsApp +14155552671",
    "your parcel is held at customs, pay the fee: +1 415 5552671",
)


def test_campaigns_are_detected_live_and_survive_kill_9(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"net-{uuid.uuid4().hex[:8]}"
    env = {
        **worker_env(kafka_bootstrap, prefix),
        "FLAGSTREAM_CAMPAIGN_TOPIC": f"{prefix}.campaigns",
        "FLAGSTREAM_CAMPAIGNS_ENABLED": "1",
        "FLAGSTREAM_CAMPAIGN_MIN_AUTHORS": str(K),
        "FLAGSTREAM_CAMPAIGN_PARTITIONS": "2",
    }
    topic = env["FLAGSTREAM_INPUT_TOPIC"]
    campaigns_topic = env["FLAGSTREAM_CAMPAIGN_TOPIC"]
    rng = random.Random(7)
    schema = load_schema("campaign.v1.json")
    first = start_worker(env, tmp_path, "first")
    second: WorkerProcess | None = None
    try:
        wait_until(lambda: first.probe("/readyz") == 200, HANG_S, "/readyz 200")
        benign = [(f"b{i}", f"user{i}", BENIGN[i % len(BENIGN)] + f" #{i}") for i in range(200)]
        scam_early = [(f"s{i}", f"scammer{i}", scam_text(rng)) for i in range(8)]
        phone = [(f"p{i}", f"seller{i}", text) for i, text in enumerate(PHONE_TEXTS)]
        produce_events(kafka_bootstrap, topic, benign[:100] + scam_early + phone + benign[100:])
        produced = time.monotonic()

        def detected() -> bool:
            nd = latest_campaign(kafka_bootstrap, campaigns_topic, "near_duplicate", 8, "s0")
            si = latest_campaign(kafka_bootstrap, campaigns_topic, "shared_indicator", 6, "p0")
            return nd is not None and si is not None

        wait_until(detected, HANG_S, "both campaigns on the campaigns topic", interval=1.0)
        print(f"\ncampaigns detected {time.monotonic() - produced:.1f} s after producing")
        nd = latest_campaign(kafka_bootstrap, campaigns_topic, "near_duplicate", 8, "s0")
        si = latest_campaign(kafka_bootstrap, campaigns_topic, "shared_indicator", 6, "p0")
        assert nd is not None
        assert si is not None
        record, campaign = nd
        jsonschema.validate(campaign, schema, format_checker=jsonschema.FormatChecker())
        jsonschema.validate(si[1], schema, format_checker=jsonschema.FormatChecker())
        headers = dict(record.headers)
        assert headers["ce_type"] == b"io.flagstream.networks.campaign.v1"
        assert headers["ce_specversion"] == b"1.0"
        assert record.key == campaign["campaign_id"].encode() == headers["ce_subject"]
        assert set(campaign["event_ids"]) == {e for e, _, _ in scam_early}
        assert set(si[1]["event_ids"]) == {e for e, _, _ in phone}
        assert si[1]["indicators"] == [{"type": "phone", "value": "+14155552671"}]
        # the benign sentences, each posted by many authors, may be campaigns of their own
        # (with no labels), but never share one with the scam
        for _, other in campaign_records(kafka_bootstrap, campaigns_topic):
            kinds = {e[0] for e in other["event_ids"]}
            assert "s" not in kinds or kinds == {"s"}, f"the scam merged with others: {other}"
            if kinds == {"b"}:
                assert not other["labels"].get("scam"), other
        shown = subprocess.run(
            [
                *FLAGSTREAM,
                "tail",
                "--campaigns",
                "--from-beginning",
                "--count",
                "1000",
                "--timeout",
                "5",
            ],
            env={
                **os.environ,
                "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
                "FLAGSTREAM_CAMPAIGN_TOPIC": campaigns_topic,
            },
            capture_output=True,
            text=True,
            timeout=HANG_S,
            check=True,
        ).stdout
        assert campaign["campaign_id"] in shown
        assert "phone=+14155552671" in shown
        samples = first.metrics()
        published = campaign_records(kafka_bootstrap, campaigns_topic)
        for kind in ("near_duplicate", "shared_indicator"):
            ids = {c["campaign_id"] for _, c in published if c["kind"] == kind}
            assert metric_sum(samples, "flagstream_campaigns_detected_total", kind=kind) == len(ids)
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
    try:
        second = start_worker(env, tmp_path, "second")
        scam_late = [(f"s{i}", f"scammer{i}", scam_text(rng)) for i in range(8, 14)]
        produce_events(kafka_bootstrap, topic, scam_late)

        def grown() -> bool:
            return (
                latest_campaign(kafka_bootstrap, campaigns_topic, "near_duplicate", 14, "s0")
                is not None
            )

        wait_until(grown, HANG_S, "the campaign to grow after the restart", interval=1.0)
        after = latest_campaign(kafka_bootstrap, campaigns_topic, "near_duplicate", 14, "s0")
        assert after is not None
        assert after[1]["campaign_id"] == campaign["campaign_id"]  # the same id after kill -9
        members = {e for e, _, _ in scam_early + scam_late}
        assert set(after[1]["event_ids"]) == members  # no member lost, none added wrongly
        assert after[1]["event_count"] == len(members)
        # the later members were flagged (a scam) and carry the campaign's id
        flagged = {
            orjson.loads(r.value)["event_id"]: orjson.loads(r.value)
            for r in read_topic(kafka_bootstrap, env["FLAGSTREAM_FLAGGED_TOPIC"])
        }
        late_flagged = [flagged[e] for e, _, _ in scam_late if e in flagged]
        assert late_flagged, "the scam variants were not flagged"
        assert {f.get("campaign_id") for f in late_flagged} == {campaign["campaign_id"]}
        assert second is not None
        restarted = second
        wait_until(
            lambda: (
                metric_sum(restarted.metrics(), "flagstream_flagged_in_campaign_total")
                >= len(late_flagged)
            ),
            HANG_S,
            "flagstream_flagged_in_campaign_total to count them",
        )
    finally:
        if second is not None:
            assert second.stop() == 0, second.log()[-3000:]
