"""``flagstream bench``: flagstream side by side with the practical limit and its peers."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from streams.cli.source_tree import needs_source
from streams.errors import ConfigError
from streams.settings import load_settings


@click.command()
@click.option("--bootstrap", default="127.0.0.1:9092", show_default=True, help="Local broker.")
@click.option("--quick", "mode", flag_value="quick", default=True, help="N=100,000 (default).")
@click.option("--full", "mode", flag_value="full", help="N=1,000,000, 30 s per offered load.")
@click.option("--smoke", "mode", flag_value="smoke", help="N=2,000, one 3 s latency point (CI).")
@click.option("--events", "-n", type=click.IntRange(100), help="Events to preload (N).")
@click.option(
    "--partitions",
    "-p",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Partitions of every topic the run creates (input, flagged, dead-letter).",
)
@click.option("--rates", help="Offered loads, events/s, comma separated (default 1000,5000,10000).")
@click.option("--latency-seconds", type=click.FloatRange(1, 600), help="Window per offered load.")
@click.option(
    "--contender",
    "-c",
    "contenders",
    multiple=True,
    help="Run only these (repeatable): flagstream, flagstream-campaigns, raw-classify, "
    "raw-transport, faust-naive, faust-batched, raw-librdkafka, quixstreams.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results directory (default bench/results).",
)
@click.option("--stem", default="latest", show_default=True, help="Results file name stem.")
@click.option("--drain-timeout", type=click.FloatRange(10), help="Seconds one drain may take.")
@click.option("--keep-topics", is_flag=True, help="Keep the run's output topics for inspection.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="A setting for every contender, as FLAGSTREAM_NAME (repeatable), e.g. batch_max=1024.",
)
def bench(
    bootstrap: str,
    mode: str,
    events: int | None,
    partitions: int,
    rates: str | None,
    latency_seconds: float | None,
    contenders: tuple[str, ...],
    out: Path | None,
    stem: str,
    drain_timeout: float | None,
    keep_topics: bool,
    overrides: tuple[str, ...],
) -> None:
    """Drain throughput, CPU, memory and end-to-end latency of flagstream and four contenders,
    on the local broker, in one run. Writes bench/results/latest.{json,md} and a latency plot.

    Runs the benchmark code of the source tree (bench/): from a checkout with the 'bench' extra
    installed (pip install -e '.[bench]'), not from an installed wheel."""
    with needs_source("bench", extra="bench"):
        from bench import report, runner  # noqa: PLC0415 - heavy imports only when run
        from bench.config import BenchConfig, preset  # noqa: PLC0415
        from bench.contenders import CONTENDERS  # noqa: PLC0415
        from bench.errors import BenchError  # noqa: PLC0415

        unknown = [c for c in contenders if c not in CONTENDERS]
        if unknown:
            raise click.BadParameter(
                f"unknown {unknown}; choose from {list(CONTENDERS)}", param_hint="--contender"
            )
        options: dict[str, Any] = {"mode": mode, "bootstrap": bootstrap, "partitions": partitions}
        options.update(preset(mode))  # type: ignore[arg-type]
        if events is not None:
            options["events"] = events
        if rates:
            try:
                options["rates"] = tuple(int(r) for r in rates.split(","))
            except ValueError:
                raise click.BadParameter(
                    f"{rates!r} is not a comma separated list of integers", param_hint="--rates"
                ) from None
        if latency_seconds is not None:
            options["latency_seconds"] = latency_seconds
        if contenders:
            options["contenders"] = contenders
        if out is not None:
            options["out_dir"] = out
        if drain_timeout is not None:
            options["drain_timeout_s"] = drain_timeout
        options["keep_topics"] = keep_topics
        pairs = [o.partition("=") for o in overrides]
        if any(not sep or not name for name, sep, _ in pairs):
            raise click.BadParameter("use NAME=VALUE, e.g. batch_max=1024", param_hint="--set")
        options["overrides"] = tuple((name.strip().lower(), value) for name, _, value in pairs)
        try:  # a misspelt or invalid setting fails here, not in every contender's worker
            load_settings(**dict(options["overrides"]))
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from None
        fields = {f.name for f in dataclasses.fields(BenchConfig)}
        cfg = BenchConfig(**{k: v for k, v in options.items() if k in fields})

        def say(line: str) -> None:
            click.echo(line, err=True)

        try:
            results = runner.run(cfg, say)
        except BenchError as exc:
            click.echo(f"flagstream bench: {exc}", err=True)
            sys.exit(1)
        paths = report.write(results, cfg.out_dir, stem)
        click.echo(report.table(results))
        click.echo("")
        for t in report.targets(results):
            click.echo(f"{'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['measured']}")
        click.echo("")
        for kind, path in paths.items():
            click.echo(f"{kind}: {path}")
        failed = [n for n, v in results["contenders"].items() if v.get("errors")]
        if results["run"].get("errors"):
            failed.append("the run as a whole")
        if failed:
            click.echo(
                f"contenders with errors: {', '.join(failed)} (see {kind} and the logs in {cfg.run_dir})",
                err=True,
            )
            sys.exit(2)
