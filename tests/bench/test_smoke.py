"""`flagstream bench --smoke` end to end on the real broker: the harness works, every contender
processed every event, and the results have the documented shape. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

# find_spec, not importorskip: importing quixstreams here would only raise its deprecation noise
_MISSING = [
    m for m in ("confluent_kafka", "psutil", "matplotlib", "quixstreams") if not find_spec(m)
]
pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason=f"bench extra not installed ({_MISSING}): pip install -e '.[bench]'"
)

CONTENDERS = (
    "flagstream",
    "flagstream-campaigns",
    "raw-classify",
    "raw-transport",
    "faust-naive",
    "faust-batched",
    "raw-librdkafka",
    "quixstreams",
)
MODEL = Path(__file__).resolve().parents[2] / "models" / "fast" / "flagstream-fast.onnx"


@pytest.mark.slow
def test_smoke_run_reconciles(kafka_bootstrap: str, tmp_path: Path) -> None:
    if not MODEL.is_file():
        pytest.fail(
            f"the shipped model {MODEL} is missing: build it with `flagstream model export`"
        )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "bench",
            "--smoke",
            "--bootstrap",
            kafka_bootstrap,
            "--out",
            str(tmp_path),
            # the fast tier alone: the cascade sends batches past the encoder when it is busy
            # (cascade_max_busy), so on a loaded machine contenders flag different counts
            "--set",
            "accurate_model_path=none",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, f"bench failed ({run.returncode}):\n{run.stderr[-4000:]}"
    results = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "latest.md").is_file()
    assert (tmp_path / "latest-latency.png").stat().st_size > 0

    assert set(results) >= {"machine", "contenders"}
    n = results["run"]["events"]
    malformed = results["run"]["malformed_events"]
    assert n == 2_000
    assert malformed > 0
    assert tuple(results["contenders"]) == CONTENDERS
    flagged_by_model = set()
    for name, c in results["contenders"].items():
        assert c["errors"] == [], name
        for key in ("throughput_eps", "cpu_s_per_1k", "peak_rss_mb"):
            assert isinstance(c[key], float), (name, key)
            assert c[key] > 0, (name, key)
        assert set(c["latency_ms"]) == {"1000"}, name
        lat = c["latency_ms"]["1000"]
        assert set(lat) == {"p50", "p95", "p99"}, name
        assert lat["p50"] <= lat["p95"] <= lat["p99"], name
        assert c["latency_detail"]["1000"]["samples"] > 0, name
        counts = c["counts"]
        assert counts["committed"] == n, name  # every event consumed and committed
        assert counts["dead_lettered"] == malformed, name  # every malformed one, and only those
        assert counts["flagged"] > 0, name
        assert sum(counts["flagged_decided_by"].values()) == counts["flagged"], name
        if name == "flagstream-campaigns":  # the campaign stage ran, and its drain waited for it
            stage = c["drain"]["stage"]
            assert stage["observations"] > 0, stage
            assert stage["changelog_writes"] > 0, stage
        if name != "raw-transport":
            flagged_by_model.add(counts["flagged"])
            # the fast tier alone decides every flagged event (accurate_model_path=none)
            assert counts["flagged_decided_by"] == {"fast": counts["flagged"]}, name
        else:  # forwards input events unchanged: no decided_by
            assert counts["flagged_decided_by"] == {"-": counts["flagged"]}, name
    # the same model on the same events: every contender that classifies flags the same number
    assert len(flagged_by_model) == 1, results["contenders"]
    # classification capacity with the contenders' settings: the fast tier alone here
    (capacity,) = results["capacity"]
    assert capacity["system"] == "fast tier only"
    assert capacity["routed"] == 0
    assert capacity["events"] > 1000
    assert capacity["events_per_s"] > 0
    assert "## Classification capacity" in (tmp_path / "latest.md").read_text()
