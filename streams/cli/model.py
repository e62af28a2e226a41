"""``flagstream model``: train, evaluate and export the classifier (a thin layer over models/)."""

from __future__ import annotations

from pathlib import Path

import click

from streams.settings import REPO_DIR

DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data"

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="The shared labelled data (see its MANIFEST.md).",
)


@click.group()
def model() -> None:
    """Train, evaluate and export flagstream's classifier."""


@model.command()
@data_dir_option
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--sample", type=float, default=None, help="Train on this fraction (smoke runs).")
@click.option(
    "--research",
    is_flag=True,
    help="Also train on sets whose licence forbids shipping (OLID): never for the shipped model.",
)
@click.option("--export/--no-export", "do_export", default=True, show_default=True)
@click.option(
    "--accurate",
    is_flag=True,
    help="Also rebuild the accurate model: fine-tune MiniLM (needs the 'accurate' extra; "
    "about 23 minutes on 2 idle cores).",
)
def train(
    data_dir: Path,
    seed: int,
    sample: float | None,
    research: bool,
    do_export: bool,
    accurate: bool,
) -> None:
    """Train the fast model on the shippable sets, calibrate thresholds, export it."""
    from models.data import DATASETS  # noqa: PLC0415 - training deps load only when run
    from models.export import (  # noqa: PLC0415 - training deps load only when run
        FAST_ARTEFACT,
        FAST_PATH,
        export_fast,
    )
    from models.train import train_fast  # noqa: PLC0415 - training deps load only when run

    sets = tuple(DATASETS) if research else None
    # a research or sample model never overwrites the shipped model or its artefact
    variant = "research" if research else ("sample" if sample is not None else "")
    artefact = FAST_ARTEFACT.with_suffix(f".{variant}.npz") if variant else FAST_ARTEFACT
    result = train_fast(data_dir, seed=seed, sample=sample, train_sets=sets, artefact=artefact)
    click.echo(f"trained in {result.seconds:.0f} s")
    if do_export:
        out = FAST_ARTEFACT.with_suffix(f".{variant}.onnx") if variant else FAST_PATH
        click.echo(f"exported {export_fast(artefact, out=out)}")
    if accurate:
        from models.accurate import ACCURATE_PATH, build_accurate  # noqa: PLC0415 - needs torch
        from models.export import BUILD_DIR  # noqa: PLC0415

        # like the fast model, a sample build never overwrites the shipped file
        target = BUILD_DIR / "flagstream-accurate.sample.onnx" if sample else ACCURATE_PATH
        click.echo(f"built {build_accurate(data_dir, seed=seed, sample=sample, out=target)}")


@model.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def export(out: Path | None) -> None:
    """Write the trained fast model (models/build/) as ONNX with its metadata."""
    from models.export import FAST_PATH, export_fast  # noqa: PLC0415 - training deps load only when run

    click.echo(f"exported {export_fast(out=out or FAST_PATH)}")


@model.command()
@data_dir_option
@click.option(
    "--model-path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Fast model (default: the shipped models/fast/flagstream-fast.onnx).",
)
@click.option(
    "--accurate-path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Accurate model for the cascade (default: the built one, if present).",
)
@click.option("--card", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--no-baseline", is_flag=True, help="Skip alt-profanity-check.")
@click.option("--no-latency", is_flag=True, help="Skip the timing runs.")
def evaluate(
    data_dir: Path,
    model_path: Path | None,
    accurate_path: Path | None,
    card: Path | None,
    no_baseline: bool,
    no_latency: bool,
) -> None:
    """Measure the models on every dev/test split; print the targets and write models/CARD.md."""
    from models.report import run_evaluation  # noqa: PLC0415 - training deps load only when run

    report, card_path = run_evaluation(
        data_dir,
        model_path,
        accurate_path,
        card,
        baseline=not no_baseline,
        latency=not no_latency,
    )
    for t in report.targets:
        status = "met" if t["met"] else f"MISSED by {t['goal'] - t['value']:.3f}"
        click.echo(
            f"{t['system']:8} {t['target']:32} {t['metric']:40} {t['value']:.3f} "
            f"(goal {t['goal']:.2f}) {status}"
        )
    for r in report.benign_fpr:
        if r["group"] == "all benign test texts":
            click.echo(
                f"{r['system']:8} false-positive rate on {r['n']} benign texts: "
                f"{r['fpr']:.3f} (goal 0.02)"
            )
    for r in report.latency:
        click.echo(
            f"latency {r['system']}: {r['median_us']:.1f} µs/event (median), "
            f"{r['best_us']:.1f} (best), batch {r['batch']}"
        )
    click.echo(f"wrote {card_path}")
