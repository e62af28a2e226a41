"""The results: ``latest.json`` (the contract in issue 5), ``latest.md``, a latency plot, and the
table printed at the end of a run. Targets are judged here, from the figures of the same run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

REFERENCE = "flagstream"
TARGET_RATE = "5000"
#: the practical limits: flagstream's throughput is judged against the faster of the two
RAW_LOOPS = ("raw-classify", "raw-librdkafka")
RAW_FACTOR = 0.9
#: flagstream's throughput at least this many times each peer's
PEER_FACTORS = (("faust-batched", 3.0), ("quixstreams", 1.5), ("faust-naive", 3.0))
#: issue 10: the worker with campaign detection on keeps this share of its throughput without
CAMPAIGNS = "flagstream-campaigns"
CAMPAIGNS_FACTOR = 0.7


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None, ref: float | None) -> str:
    if not value or not ref:
        return "–"
    return f"{value / ref:.2f}×"


def _throughput_target(target: str, tp: float, ref: float, factor: float) -> dict[str, Any]:
    """A target "``tp`` ≥ ``factor`` × ``ref``" (events/s of one run), judged."""
    ratio = tp / ref
    return {
        "target": target,
        "measured": f"{ratio:.2f}× ({tp:,.0f} vs {ref:,.0f} events/s)",
        "met": ratio >= factor,
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issues 5, 10 and 12 with the measured figure and whether it is met."""
    c = results["contenders"]
    out: list[dict[str, Any]] = []
    fs = c.get(REFERENCE, {})
    fs_tp = fs.get("throughput_eps")
    raw = {p: c.get(p, {}).get("throughput_eps") for p in RAW_LOOPS}
    raw = {p: tp for p, tp in raw.items() if tp}
    if fs_tp and raw:
        fastest = max(raw, key=lambda p: raw[p])
        target = f"flagstream throughput ≥ {RAW_FACTOR}× the faster raw loop ({fastest})"
        out.append(_throughput_target(target, fs_tp, raw[fastest], RAW_FACTOR))
    for peer, factor in PEER_FACTORS:
        peer_tp = c.get(peer, {}).get("throughput_eps")
        if fs_tp and peer_tp:
            target = f"flagstream throughput ≥ {factor}× {peer}"
            out.append(_throughput_target(target, fs_tp, peer_tp, factor))
    on_tp = c.get(CAMPAIGNS, {}).get("throughput_eps")
    if fs_tp and on_tp:
        target = f"{CAMPAIGNS} throughput ≥ {CAMPAIGNS_FACTOR}× flagstream (issue 10)"
        out.append(_throughput_target(target, on_tp, fs_tp, CAMPAIGNS_FACTOR))
    lat = fs.get("latency_ms", {}).get(TARGET_RATE)
    if lat and lat.get("p99") is not None:
        out.append(
            {
                "target": "flagstream p99 end-to-end ≤ 50 ms at 5k events/s offered",
                "measured": f"{lat['p99']:.1f} ms",
                "met": lat["p99"] <= 50.0,
            }
        )
    rss = fs.get("peak_rss_mb")
    if rss:
        out.append(
            {
                "target": "flagstream peak RSS ≤ 500 MB per worker",
                "measured": f"{rss:.0f} MB",
                "met": rss <= 500.0,
            }
        )
    return out


def table(results: dict[str, Any]) -> str:
    """A Markdown table with every figure and the ratios to flagstream."""
    c = results["contenders"]
    rates = sorted({r for v in c.values() for r in v.get("latency_ms", {})}, key=int)
    ref = c.get(REFERENCE, {})
    head = ["contender", "events/s", "vs flagstream", "CPU s/1k", "vs flagstream", "peak RSS MB"]
    head += [f"p50/p95/p99 ms @{int(r) // 1000}k/s" for r in rates]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, v in c.items():
        row = [
            f"**{name}**" if name == REFERENCE else name,
            _fmt(v.get("throughput_eps"), 0),
            _ratio(v.get("throughput_eps"), ref.get("throughput_eps")),
            _fmt(v.get("cpu_s_per_1k"), 3),
            _ratio(v.get("cpu_s_per_1k"), ref.get("cpu_s_per_1k")),
            _fmt(v.get("peak_rss_mb"), 0),
        ]
        for r in rates:
            lat = v.get("latency_ms", {}).get(r)
            if not lat:
                row.append("–")
                continue
            mark = (
                "" if v.get("latency_detail", {}).get(r, {}).get("complete", True) else " (backlog)"
            )
            row.append(f"{_fmt(lat['p50'])} / {_fmt(lat['p95'])} / {_fmt(lat['p99'])}{mark}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _capacity(results: dict[str, Any]) -> list[str]:
    """The classification capacity rows (bench.routed_share), if the run measured them."""
    rows = results.get("capacity")
    if not rows:
        return []
    lines = [
        "## Classification capacity (no Kafka)",
        "",
        "`Classifier.classify` on the workload's texts in batches of 256, one onnxruntime "
        "thread per run, the contenders' settings: what bounds any contender's throughput "
        "before transport. Routed: rows in the cascade's band, re-scored by the encoder tier.",
        "",
        "| system | events/s | µs/event | routed | re-scored |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['system']} | {r['events_per_s']:,.0f} | {r['us_per_event']:.0f} | "
        f"{r['routed_share']:.1%} ({r['routed']} of {r['events']}) | {r['rescored']} |"
        for r in rows
    ]
    return [*lines, ""]


def markdown(results: dict[str, Any], plot_name: str | None) -> str:
    m = results["machine"]
    run = results["run"]
    parts = [
        f"# flagstream bench — {run['mode']} run {run['run_id']}",
        "",
        f"{run['events']:,} preloaded events on {run['partitions']} partitions; offered loads "
        f"{', '.join(f'{r:,}' for r in run['rates'])} events/s for {run['latency_seconds']:.0f} s each. "
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}; "
        f"Python {m['python']}, onnxruntime {m['onnxruntime']}; broker on the same machine.",
        "",
        table(results),
        "",
        "events/s: drain throughput (N over first to last output record). CPU s/1k: CPU seconds of "
        "the contender's process tree per 1,000 events over the same window. Latency: producer "
        "send → flagged event readable by a consumer, flagged events only; '(backlog)': the "
        "contender could not clear the offered load within the settle time, so the figures are "
        "a lower bound.",
        "",
        "Harness floor (load producer straight to the reader through the broker, no contender; "
        "every event): "
        + "; ".join(
            f"{int(r) // 1000}k/s p50/p95/p99 {f['p50']} / {f['p95']} / {f['p99']} ms"
            for r, f in results.get("harness_floor_ms", {}).items()
        )
        + ".",
        "",
        *_capacity(results),
        "## Targets",
        "",
    ]
    parts.extend(
        f"- {'met' if t['met'] else '**missed**'}: {t['target']} — {t['measured']}"
        for t in targets(results)
    )
    parts += ["", "## Counts (every contender must process every event)", ""]
    parts.append(
        "| contender | committed | flagged | flagged, by decided_by | dead-lettered "
        "| expected dead letters |"
    )
    parts.append("|---|---|---|---|---|---|")
    for name, v in results["contenders"].items():
        cnt = v.get("counts", {})
        deciders = ", ".join(f"{k} {n}" for k, n in cnt.get("flagged_decided_by", {}).items())
        parts.append(
            f"| {name} | {cnt.get('committed', '–')} | {cnt.get('flagged', '–')} | "
            f"{deciders or '–'} | "
            f"{cnt.get('dead_lettered', '–')} | {cnt.get('expected_dead_letters', '–')} |"
        )
    parts += [
        "",
        "`fast-degraded`: routed to the encoder tier but decided by the fast tier, because the "
        "encoder was over its time budget (`cascade_max_busy`); contenders that degrade "
        "different shares flag different counts, and their throughputs are not comparable. "
        "`--set cascade_max_busy=1.0` makes every contender re-score every routed row.",
    ]
    stages = {
        n: v["drain"]["stage"]
        for n, v in results["contenders"].items()
        if v.get("drain", {}).get("stage")
    }
    for name, st in stages.items():
        parts += [
            "",
            f"{name}'s campaign stage in the drain: {st['observations']:,} observations, "
            f"{st['changelog_writes']:,} changelog writes, {st['campaign_records']:,} campaign "
            "records; its drain window ends with the last of them (or of its flagged events).",
        ]
    errors = {n: v["errors"] for n, v in results["contenders"].items() if v.get("errors")}
    if run.get("errors"):
        errors["run"] = run["errors"]
    if errors:
        parts += ["", "## Errors", ""]
        parts += [f"- {n}: {'; '.join(e)}" for n, e in errors.items()]
    if plot_name:
        parts += ["", f"![latency percentiles against offered load]({plot_name})"]
    return "\n".join(parts) + "\n"


def plot(results: dict[str, Any], path: Path) -> bool:
    """Latency percentiles against offered load, one panel per percentile; False if no data."""
    import matplotlib  # noqa: PLC0415 - heavy, and only needed at the very end

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    contenders = {n: v for n, v in results["contenders"].items() if v.get("latency_ms")}
    if not contenders:
        return False
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    for ax, pct in zip(axes, ("p50", "p95", "p99"), strict=True):
        for name, v in contenders.items():
            points = sorted(
                (int(r), lat[pct]) for r, lat in v["latency_ms"].items() if lat.get(pct) is not None
            )
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=name, linewidth=2.5 if name == REFERENCE else 1.2)
        ax.axhline(50, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(f"{pct} end-to-end latency")
        ax.set_xlabel("offered load (events/s)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms (log scale; dashed: 50 ms target)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"flagstream bench {results['run']['run_id']} ({results['run']['mode']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results: dict[str, Any], out_dir: Path, stem: str = "latest") -> dict[str, Path]:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>-latency.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json", "md": out_dir / f"{stem}.md"}
    paths["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    png = out_dir / f"{stem}-latency.png"
    has_plot = plot(results, png)
    if has_plot:
        paths["png"] = png
    paths["md"].write_text(markdown(results, png.name if has_plot else None))
    return paths
