"""``flagstream model evaluate``: run :mod:`models.evaluate`, save the report, write the card.

The known gaps are generated here from what was measured (missed targets, languages over the
false-positive bounds, golden groups under 80%, notes on the model files), followed by the gaps
the data itself leaves (``MANIFEST.md``, "Gaps a model card should state").
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from models.card import format_goal, format_value, render, status
from models.data import build_corpus
from models.encoder import ENCODER_PATH
from models.evaluate import BENCHMARKS, Report, evaluate, research_targets
from models.export import BUILD_DIR, FAST_ARTEFACT, FAST_PATH, MODELS_DIR
from streams.model import TextModel, load_model

CARD_PATH = MODELS_DIR / "CARD.md"
REPORT_PATH = BUILD_DIR / "eval.json"
# a capped (--quick / --max-per-set) run never overwrites the card of record
QUICK_CARD_PATH = BUILD_DIR / "CARD.quick.md"
QUICK_REPORT_PATH = BUILD_DIR / "eval.quick.json"
# written by `flagstream model train --research`; compared in the card, never shipped
RESEARCH_PATH = FAST_ARTEFACT.with_suffix(".research.onnx")
GOLDEN_GROUP_FLOOR = 0.80
QUICK_CAP = 100  # rows per set and split in a --quick run

# What a shortfall on a benchmark is known to come from in the data (not in a model).
WHY = {
    "OLID test": (
        "no shipped model trains on OLID (research-use licence); much of OLID's OFF class is "
        "profanity and political insult without slurs, unlike the licensable English sets"
    ),
    "TweetEval hate test": (
        "HatEval's test split is known to shift from its train split (other targets and period)"
    ),
    "YouTube spam test": (
        "the data holds four of UCI's five videos (the fifth is held back on purpose); our test "
        "split is a hash slice of those four"
    ),
}

FIXED_GAPS = [
    "No Chinese spam data with a licence that allows shipping a model trained on it (MANIFEST). "
    "The bridge is `synthetic_zh_spam` (models/synthetic_zh_spam.py, session 17): 2,000 "
    "promotion-spam and 2,000 benign look-alike messages the team wrote as slot templates "
    "(opt-out SMS, resellers, grey services, ads, game servers, comment spam; against them "
    "notices, talk about sales and complaints about spam), training rows only, none within "
    "trigram Jaccard 0.5 of a golden text. It was written before the golden Chinese spam texts "
    "were read, so the golden Chinese spam row measures it, with the same caveat as the fraud "
    "bridge: one team wrote both. No German or Korean spam or scam data either.",
    "The only licensable Chinese scam data is `teleantifraud-zh`: LLM-generated phone-call "
    "dialogues, not real SMS or chat messages. The bridge to SMS and chat is "
    "`synthetic_zh_fraud` (models/synthetic_zh.py): 2,000 fraud and 2,000 benign look-alike "
    "messages the team wrote as slot templates from the published fraud patterns, training "
    "rows only, none within trigram Jaccard 0.5 of a golden text. It was written before the "
    "golden scam texts were read and is not changed after reading them; the golden Chinese "
    "scam row above checks how far it carries, but the same team wrote both, so that figure is "
    "likely optimistic for fraud written elsewhere. Both tiers learn it (the encoder from a "
    "2,000-row sample, since session 15).",
    "Hate without slurs and plain insults: the labelled sets are slur-centred, so the bridge is "
    "`synthetic_abuse` (models/synthetic_abuse.py), written as slot templates from HateCheck's "
    "functional categories in English and Chinese, with contrasts that name the same groups or "
    "use the same words benignly; training rows only, none within trigram Jaccard 0.5 of a "
    "golden text. Unlike the fraud bridge it was written **after** the golden hate texts had "
    "been read (not the insult, benign or hard-benign ones), so the golden hate rows are not an "
    "independent measure of it; the labelled test sets (TweetEval hate, HateXplain, EDOS, "
    "Stormfront, SWSR) are.",
    "No training data for threats/violence, sexual content or self-harm: those labels are not "
    "claimed.",
    "`hate` is not annotated for German (GermEval) nor for COLD (Chinese offensive language): "
    "those sets teach `toxic` only.",
    "OLID's training file is never trained on (research-use licence); its test file is a "
    "benchmark only.",
]


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


# benchmarks whose positives may be flagged under the sibling label only (a miss there); UCI's
# and YouTube's spam class is judged as spam or scam, so they have no sibling to miss by
SIBLING_SETS = {
    "Mendeley smishing test": ("mendeley_smish", "scam"),
    "TweetEval hate test": ("tweeteval_hate", "hate"),
}


def _sibling_note(report: Report, target: dict[str, Any]) -> str:
    """How many of a missed benchmark's positives were flagged under the sibling label only."""
    if target["target"] not in SIBLING_SETS:
        return ""
    dataset, label = SIBLING_SETS[target["target"]]
    for r in report.confusions:
        key = (r["system"], r["dataset"], r["label"])
        if key == (target["system"], dataset, label) and r["sibling_only"]:
            return (
                f"{target['system']} flagged {r['sibling_only']} of {r['positives']} {label} "
                f"positives `{r['sibling']}` and not `{label}`"
            )
    return ""


def _set_size(report: Report, name: str) -> str:
    """The benchmark set's rows per split, from the data table."""
    dataset = next((b[2] for b in BENCHMARKS if b[0] == name), None)
    row = next((d for d in report.data if d["name"] == dataset), None)
    if row is None:
        return ""
    train = f"{row['train']} training, " if row["ships"] else "never trained on, "
    return f"the {dataset} set: {train}{row['dev']} dev and {row['test']} test rows"


def _capacity_note(report: Report, name: str) -> str:
    """Context for a missed capacity target: the machine's load, or which files count."""
    key = {"fast tier latency": "fast", "encoder tier latency": "encoder"}.get(name)
    if key is not None:
        row = next((r for r in report.latency if r["key"] == key), None)
        if row is None:
            return ""
        scale = 1000 if row["unit"] == "ms" else 1
        return (
            f"CPU time on one thread; measured at a 1-minute load average of "
            f"{row['load_avg']:.1f} on 2 cores (wall time per event: median "
            f"{row['median_us'] / scale:.2f}, best {row['best_us'] / scale:.2f} {row['unit']})"
        )
    if name == "model files":
        return "counted: " + ", ".join(
            f"{f['path']} {f['bytes'] / 1e6:.1f} MB"
            + ("" if f["committed"] else " (not committed yet)")
            + ("" if f["evaluated"] else " (committed, not evaluated)")
            for f in report.model_files
        )
    return ""


def _fpr_gap(report: Report, name: str, misses: list[dict[str, Any]]) -> str:
    lang, point = name.removeprefix("benign FPR ").split(" at ")
    n = misses[0]["n"]
    parts = []
    for t in misses:
        row = next(
            (
                r
                for r in report.benign_fpr
                if (r["kind"], r["system"], r["lang"], r["point"])
                == ("general", t["system"], lang, point)
            ),
            None,
        )
        fired = [f"{k} {v}" for k, v in (row["by_label"] if row else {}).items() if v]
        parts.append(
            f"{t['system']} {_pct(t['value'])}, over by {_pct(t['value'] - t['goal'])}"
            + (f" (texts per label: {', '.join(fired)})" if fired else "")
        )
    small = f"; only {n} texts, so one text is {_pct(1 / n)}" if 0 < n < 500 else ""
    return (
        f"Everyday {lang} text at the {point} point (goal ≤ {_pct(misses[0]['goal'])} of "
        f"{n} general-domain benign test texts): {'; '.join(parts)}{small}."
    )


def gaps(report: Report) -> list[str]:
    """Known gaps: what the measurements miss, then what the data cannot give."""
    out: list[str] = []
    by_target: dict[str, list[dict[str, Any]]] = {}
    for t in report.targets:
        by_target.setdefault(t["target"], []).append(t)
    for name, rows in by_target.items():
        unmeasured = [t["system"] for t in rows if t["met"] is None]
        if unmeasured:
            out.append(f"{name} was not measured in this run ({', '.join(unmeasured)}).")
        misses = [t for t in rows if t["met"] is False]
        if not misses:
            continue
        if name.startswith("benign FPR"):
            out.append(_fpr_gap(report, name, misses))
            continue
        figures = "; ".join(f"{t['system']} {format_value(t)}, {status(t)}" for t in misses)
        why = [WHY.get(name, ""), _capacity_note(report, name), _set_size(report, name)]
        why += [_sibling_note(report, t) for t in misses]
        reasons = "; ".join(w for w in why if w)
        out.append(
            f"{name} ({misses[0]['metric']}, goal {format_goal(misses[0])}): {figures}"
            f"{'. ' + reasons[0].upper() + reasons[1:] if reasons else ''}."
        )
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for g in report.golden:
        if g["share"] < GOLDEN_GROUP_FLOOR:
            by_group.setdefault((g["lang"], g["group"]), []).append(g)
    for (lang, group), rows in sorted(by_group.items()):
        figures = "; ".join(
            f"{g['system']} {g['right']}/{g['total']} ({_pct(g['share'])})" for g in rows
        )
        missed = rows[0]["missed"]
        ids = ", ".join(missed[:6]) + (", …" if len(missed) > 6 else "")
        out.append(
            f"Golden {lang} `{group}` under {_pct(GOLDEN_GROUP_FLOOR)} right: {figures} "
            f"({rows[0]['system']} misses e.g. {ids})."
        )
    out.extend(report.warnings)
    return out + FIXED_GAPS


def model_warnings(
    fast: TextModel, encoder: TextModel | None, corpus_fingerprint: str
) -> list[str]:
    """What a reader must know about the files evaluated (sample builds, stale exports)."""
    out = []
    if FAST_ARTEFACT.exists() and FAST_ARTEFACT.stat().st_mtime > fast.path.stat().st_mtime:
        out.append(
            f"`{FAST_ARTEFACT.name}` (a trained fast model) is newer than the evaluated "
            f"`{fast.path.name}`: this card measures the ONNX file, not the newer training run "
            "(export it, then evaluate again)."
        )
    for tier, model in (("fast", fast), ("encoder", encoder)):
        if model is None:
            continue
        if "-sample" in model.data_fingerprint:
            out.append(
                f"The {tier} model evaluated is a sample build (fingerprint "
                f"`{model.data_fingerprint}`): a development model, not one to ship."
            )
        elif model.data_fingerprint != corpus_fingerprint:
            out.append(
                f"The {tier} model was trained on corpus `{model.data_fingerprint}`; the data "
                f"directory builds `{corpus_fingerprint}` now (the data changed since)."
            )
        if BUILD_DIR in model.path.resolve().parents:
            out.append(
                f"The {tier} model evaluated is `{model.path.name}` from models/build/, not a "
                "committed model file."
            )
    return out


def run_evaluation(
    data_dir: Path,
    model_path: Path | None = None,
    accurate_path: Path | None = None,
    card_path: Path | None = None,
    *,
    baseline: bool = True,
    latency: bool = True,
    golden: bool = True,
    use_encoder: bool = True,
    max_per_set: int | None = None,
    encoder_dev_cap: int | None = None,
    cascade_band: tuple[float, float] | None = None,
    research_path: Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Report, Path]:
    """Evaluate the fast model and, when present, the encoder tier; write the card and report.

    ``accurate_path`` is the encoder (default: ``models/encoder/flagstream-encoder.onnx``, if
    it exists). A capped run (``max_per_set``) writes ``models/build/CARD.quick.md`` unless
    ``card_path`` says otherwise.
    """
    started = time.perf_counter()
    fast = load_model(model_path or FAST_PATH)
    encoder: TextModel | None = None
    candidate = accurate_path or ENCODER_PATH
    if use_encoder and candidate.exists():
        encoder = load_model(candidate, threads=1)  # one thread: the machine is shared
    elif use_encoder:
        log(f"no encoder model at {candidate}: evaluating the fast tier alone")
    corpus = build_corpus(data_dir)
    kwargs: dict[str, Any] = {}
    if encoder_dev_cap is not None:
        kwargs["encoder_dev_cap"] = encoder_dev_cap
    if cascade_band is not None:
        kwargs["cascade_band"] = cascade_band
    report = evaluate(
        data_dir,
        fast,
        encoder,
        corpus=corpus,
        baseline=baseline,
        latency=latency,
        golden=golden,
        max_per_set=max_per_set,
        log=log,
        **kwargs,
    )
    report.warnings = model_warnings(fast, encoder, corpus.fingerprint)
    research = RESEARCH_PATH if research_path is None else research_path
    if research.exists() and max_per_set is None:
        variant = load_model(research)
        if "olid" in variant.metadata.get("datasets", "").split(","):
            report.research = research_targets(corpus, variant)
    report.run["seconds"] = time.perf_counter() - started  # corpus build included
    quick = max_per_set is not None
    card_path = card_path or (QUICK_CARD_PATH if quick else CARD_PATH)
    card_path.parent.mkdir(parents=True, exist_ok=True)
    card_path.write_text(render(report, gaps(report)), encoding="utf-8")
    report_path = QUICK_REPORT_PATH if quick else REPORT_PATH
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_bytes(
        orjson.dumps(
            dataclasses.asdict(report), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
        )
    )
    return report, card_path


def rerender(report_path: Path = REPORT_PATH, card_path: Path = CARD_PATH) -> Path:
    """Write the card again from the last saved report (prose changes; no figure changes)."""
    fields = orjson.loads(report_path.read_bytes())
    report = Report(**fields)
    card_path.write_text(render(report, gaps(report)), encoding="utf-8")
    return card_path
