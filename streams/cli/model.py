"""``flagstream model``: train, evaluate and export the classifier (a thin layer over models/).

The training code stays in the source tree, not in the wheel: every command runs it inside
:func:`~streams.cli.source_tree.needs_source`, which names the checkout or the extra it needs.
"""

from __future__ import annotations

from pathlib import Path

import click

from streams.cli.source_tree import checkout_root, needs_source
from streams.settings import REPO_DIR

# beside the checkout; an installed wheel has none, and its commands say they need a checkout
# (a default that does not exist would fail --data-dir's check first)
DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data" if checkout_root() else None

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="The shared labelled data (see its MANIFEST.md).",
)


@click.group()
def model() -> None:
    """Train, evaluate and export flagstream's classifier.

    These commands run the training code of the source tree (models/): run them from a checkout
    with the 'train' extra installed (pip install -e '.[train]'), not from an installed wheel.
    """


@model.command()
@data_dir_option
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of every sample and initialisation.",
)
@click.option("--sample", type=float, default=None, help="Train on this fraction (smoke runs).")
@click.option(
    "--research",
    is_flag=True,
    help="Also train on sets whose licence forbids shipping (OLID): never for the shipped model.",
)
@click.option(
    "--export/--no-export",
    "do_export",
    default=True,
    show_default=True,
    help="Export the trained fast model to ONNX (the shipped file) after training.",
)
@click.option(
    "--encoder",
    is_flag=True,
    help="Also rebuild the encoder tier: multilingual-e5-small from its pinned wheels, "
    "fine-tuned on every language (needs the 'accurate' extra; hours on 2 cores; an "
    "interrupted run resumes from models/build/e5/finetune.ckpt).",
)
@click.option("--fast/--no-fast", default=True, show_default=True, help="Train the fast model.")
@click.option(
    "--teacher/--no-teacher",
    default=False,
    show_default=True,
    help="Distil the fast model from the encoder tier (its scores on every training text, "
    "~10 min on two cores, cached in models/build/teacher/). Measured and not kept: "
    "docs/model.md, 'Distilling the encoder into the fast tier'.",
)
def train(
    data_dir: Path,
    seed: int,
    sample: float | None,
    research: bool,
    do_export: bool,
    encoder: bool,
    fast: bool,
    teacher: bool,
) -> None:
    """Train the fast model on the shippable sets, calibrate thresholds, export it.

    With --encoder the encoder tier is built first, so that the fast model learns from it.
    """
    variant = "research" if research else ("sample" if sample is not None else "")
    encoder_file: Path | None = None
    if encoder:
        # torch/transformers live in the 'accurate' extra
        with needs_source("models", extra="accurate"):
            from models.encoder import ENCODER_PATH, build_encoder_model  # noqa: PLC0415
            from models.export import BUILD_DIR  # noqa: PLC0415

            # like the fast model, a sample build never overwrites the shipped file
            target = BUILD_DIR / "flagstream-encoder.sample.onnx" if sample else ENCODER_PATH
            encoder_file = build_encoder_model(data_dir, seed=seed, sample=sample, out=target)
            click.echo(f"built {encoder_file}")
    with needs_source("models", extra="train"):
        from models.data import DATASETS  # noqa: PLC0415 - training deps load only when run
        from models.export import (  # noqa: PLC0415 - training deps load only when run
            FAST_ARTEFACT,
            FAST_PATH,
            export_fast,
        )
        from models.train import train_fast  # noqa: PLC0415 - training deps load only when run

        sets = tuple(DATASETS) if research else None
        # a research or sample model never overwrites the shipped model or its artefact
        artefact = FAST_ARTEFACT.with_suffix(f".{variant}.npz") if variant else FAST_ARTEFACT
        if fast:
            from models.encoder import ENCODER_PATH  # noqa: PLC0415

            source = encoder_file or ENCODER_PATH
            if teacher and not source.exists():
                raise click.ClickException(
                    f"{source} is missing: the fast model is distilled from the encoder tier; "
                    "build it first (--encoder) or train on gold labels alone (--no-teacher)"
                )
            result = train_fast(
                data_dir, seed=seed, sample=sample, train_sets=sets, artefact=artefact,
                teacher=source if teacher else None,
            )  # fmt: skip
            click.echo(f"trained in {result.seconds:.0f} s")
            if do_export:
                out = FAST_ARTEFACT.with_suffix(f".{variant}.onnx") if variant else FAST_PATH
                click.echo(f"exported {export_fast(artefact, out=out)}")
    if not variant and do_export:
        with needs_source("models", extra="train"):
            _recalibrate_cascade(data_dir)


def _recalibrate_cascade(data_dir: Path) -> None:
    """The cascade's points belong to one pair of files: choose them again after either changed."""
    from models.cascade import calibrate_cascade  # noqa: PLC0415
    from models.encoder import ENCODER_PATH  # noqa: PLC0415
    from streams.settings import CASCADE_HIGH, CASCADE_LOW  # noqa: PLC0415

    if not ENCODER_PATH.exists():
        click.echo(
            f"cascade points NOT recalibrated: {ENCODER_PATH} is missing (build it with "
            "`flagstream model train --no-fast --encoder`)",
            err=True,
        )
        return
    # the encoder's dev scores come from its build, or are scored again (~1 min on 2 cores)
    entry = calibrate_cascade(CASCADE_LOW, CASCADE_HIGH, data_dir=data_dir)
    click.echo(f"cascade points written into {ENCODER_PATH}: {entry['thresholds']}")


@model.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the ONNX file (default: the shipped models/fast/flagstream-fast.onnx).",
)
def export(out: Path | None) -> None:
    """Write the trained fast model (models/build/) as ONNX with its metadata."""
    with needs_source("models", extra="train"):
        from models.export import (  # noqa: PLC0415 - training deps load only when run
            FAST_ARTEFACT,
            FAST_PATH,
            export_fast,
        )

        if out is not None and (out.is_dir() or not out.parent.is_dir()):
            raise click.ClickException(
                f"--out {out}: not a file in an existing folder; name the .onnx file to write"
            )
        if not FAST_ARTEFACT.is_file():
            raise click.ClickException(
                f"{FAST_ARTEFACT} is missing: the fast model's training artefact is built by "
                "`flagstream model train` (it is not in git)"
            )
        click.echo(f"exported {export_fast(out=out or FAST_PATH)}")


@model.command()
@data_dir_option
@click.option(
    "--cascade/--no-cascade",
    default=True,
    show_default=True,
    help="Also recalibrate the cascade's points (needs the encoder build's dev scores in "
    "models/build/, written by `model train --no-fast --encoder`).",
)
def calibrate(data_dir: Path, cascade: bool) -> None:
    """Re-choose the operating points of the trained models on dev, without retraining.

    The fast model's review and block points and each script group's (streams/calibration.py)
    are chosen again on every dev row from its training artefact (models/build/fast-linear.npz,
    rebuilt from the shipped ONNX file when missing)
    and the shipped file is re-exported; then the cascade's, on the calibration rows, from the
    encoder's saved int8 dev scores. Run it after changing the rules in models/calibrate.py.
    """
    with needs_source("models", extra="train"):
        from models.export import (  # noqa: PLC0415 - training deps
            FAST_ARTEFACT,
            FAST_PATH,
            artefact_from_onnx,
            export_fast,
        )
        from models.train import recalibrate_fast  # noqa: PLC0415 - training deps

        if not FAST_ARTEFACT.exists():
            # a fresh checkout: the shipped file holds the weights (models/build/ is not in git)
            click.echo(f"{FAST_ARTEFACT} is missing: rebuilt from {FAST_PATH}")
            artefact_from_onnx(FAST_PATH, FAST_ARTEFACT)
        try:
            recalibrate_fast(data_dir, FAST_ARTEFACT)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"exported {export_fast(FAST_ARTEFACT, out=FAST_PATH)}")
        if cascade:
            _recalibrate_cascade(data_dir)


@model.command()
@data_dir_option
@click.option(
    "--model-path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Fast model (default: the shipped models/fast/flagstream-fast.onnx).",
)
@click.option(
    "--encoder-path",
    "--accurate-path",
    "encoder_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Encoder tier for the cascade (default: models/encoder/flagstream-encoder.onnx, if "
    "present; e.g. models/build/enc-smoke.onnx while developing).",
)
@click.option("--no-encoder", is_flag=True, help="Evaluate the fast tier alone.")
@click.option(
    "--card",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the model card (default: models/CARD.md; models/build/CARD.quick.md "
    "for a capped run).",
)
@click.option(
    "--max-per-set",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate at most this many rows per set and split (development runs; the card says so).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A development run: --max-per-set 100, encoder alone on 50 dev rows per set, short "
    "timing runs; writes models/build/CARD.quick.md.",
)
@click.option(
    "--encoder-dev-cap",
    type=click.IntRange(min=0),
    default=None,
    help="Dev rows per set scored by the encoder alone (default 500; 0 skips it).",
)
@click.option(
    "--cascade-band",
    type=(float, float),
    default=None,
    help="Cascade band LOW HIGH (default: the worker's defaults, streams.settings).",
)
@click.option("--no-baseline", is_flag=True, help="Skip alt-profanity-check.")
@click.option("--no-latency", is_flag=True, help="Skip the timing runs.")
@click.option("--no-golden", is_flag=True, help="Skip the golden sets.")
def evaluate(
    data_dir: Path,
    model_path: Path | None,
    encoder_path: Path | None,
    no_encoder: bool,
    card: Path | None,
    max_per_set: int | None,
    quick: bool,
    encoder_dev_cap: int | None,
    cascade_band: tuple[float, float] | None,
    no_baseline: bool,
    no_latency: bool,
    no_golden: bool,
) -> None:
    """Measure the models on every dev/test split; print the targets and write models/CARD.md."""
    with needs_source("models", extra="train"):
        from models.card import status  # noqa: PLC0415 - training deps load only when run
        from models.report import QUICK_CAP, run_evaluation  # noqa: PLC0415

        if quick:
            max_per_set = max_per_set or QUICK_CAP
            encoder_dev_cap = 50 if encoder_dev_cap is None else encoder_dev_cap
        report, card_path = run_evaluation(
            data_dir,
            model_path,
            encoder_path,
            card,
            baseline=not no_baseline,
            latency=not no_latency,
            golden=not no_golden,
            use_encoder=not no_encoder,
            max_per_set=max_per_set,
            encoder_dev_cap=encoder_dev_cap,
            cascade_band=cascade_band,
            log=click.echo,
        )
        for t in report.targets:
            value = "-" if t["value"] is None else f"{t['value']:.4g}"
            click.echo(
                f"{t['system']:8} {t['target']:40} {value:>9} (goal {t['op']} {t['goal']:g}) "
                f"{status(t)}"
            )
        for w in report.warnings:
            click.echo(f"note: {w}")
        click.echo(f"wrote {card_path} ({report.run['seconds'] / 60:.1f} min)")
