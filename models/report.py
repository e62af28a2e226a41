"""``flagstream model evaluate``: run :mod:`models.evaluate`, save the report, write the card."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson

from models.accurate import ACCURATE_PATH
from models.card import render
from models.data import build_corpus
from models.evaluate import Report, evaluate, research_targets
from models.export import BUILD_DIR, FAST_ARTEFACT, FAST_PATH, MODELS_DIR
from streams.model import TextModel, load_model

CARD_PATH = MODELS_DIR / "CARD.md"
REPORT_PATH = BUILD_DIR / "eval.json"
# written by `flagstream model train --research`; compared in the card, never shipped
RESEARCH_PATH = FAST_ARTEFACT.with_suffix(".research.onnx")

# Why each benchmark can fall short; shown next to the measured shortfall in the card.
WHY = {
    "OLID test subtask_a": (
        "the shipped model never trains on OLID (research-use licence), and the English "
        "offensive data it does train on (Davidson, HateXplain) is slur-centred, while much of "
        "OLID's OFF class is profanity and political insult without slurs. The research variant "
        "above shows that adding OLID's training file to this recipe does not close the gap "
        "either: one linear n-gram model over sets with different definitions of 'offensive' "
        "underfits OLID. The fine-tuned MiniLM of the cascade, trained on the same English sets, "
        "learns the same sets' notion of 'offensive': fine-tuning moved OLID by hundredths, not "
        "tenths (docs/model.md). The toxic threshold is set on the other sets' dev splits "
        "(precision 0.85 and the benign-FPR bound), where it lands far above what OLID's own "
        "scores would want: recall on OLID stays low. Closing it needs more varied licensable "
        "English offensive data (insults and profanity outside slur-centred sets), or OLID-like "
        "data under a licence that allows shipping"
    ),
    "TweetEval hate test": (
        "HatEval's test set is known for its shift from train (different targets and period); "
        "hate against immigrants and women without slurs is hard for n-grams, and the "
        "fine-tuned encoder's macro-F1 on TweetEval's dev split is far above its test figure "
        "(docs/model.md): the shift, not only the model"
    ),
    "COLD dev (zh)": "COLD marks implicit group attacks that n-grams alone miss",
    "youtube_spam held-back slice": (
        "only ~1,100 training comments from four videos (the fifth video is held back); "
        "self-promotion ('check out my channel') shares most n-grams with ordinary comments, "
        "and the one spam threshold is set for precision 0.95 over the SMS, Mendeley and "
        "YouTube dev sets together, which costs YouTube recall (see the per-set rows)"
    ),
    "mendeley_smish held-back slice": (
        "smishing vs other spam is a fine distinction learnt from ~440 smishing texts; the scam "
        "threshold is set for precision 0.90, and most misses are smishing texts scored as "
        "spam only (the spam F1 on the same slice is in the table above)"
    ),
}

FIXED_GAPS = [
    "No Chinese, German or Korean spam/scam training data: `spam`/`scam` are English-only.",
    "German toxicity comes from 5k GermEval tweets only; Korean from 7k entertainment comments.",
    "`hate` is not annotated for German (GermEval ABUSE mixes insults and group attacks) nor "
    "for COLD (Chinese offensive language): those sets teach `toxic` only; Chinese `hate` "
    "comes from SWSR's sexism labels.",
    "No data for threats, sexual content or self-harm: not claimed.",
    "Plain English insults without slurs are often missed: of ten hand-written ones ('you are "
    "an idiot', 'you are so stupid', 'fuck you', ...; docs/model.md) the fast model flags 5 and "
    "the cascade 5, not the same five. The licensable English offensive data (Davidson, "
    "HateXplain) is slur-centred; OLID, full of such insults, is research-use only.",
    "The accurate model reads English only; other languages are decided by the fast model.",
    "The accurate model's int8 graph quantises activations per batch (dynamic quantisation): "
    "a text's accurate score moves by up to ~0.04 with the texts batched beside it "
    "(tests/unit/test_model_accurate.py), so a cascade decision within that distance of a "
    "threshold can differ between two deliveries of the same event. The fast model's scores do "
    "not depend on their batch.",
    "Text in scripts other than Latin, CJK and Hangul is not scored (features are dropped); "
    "Latin-script languages other than English/German are scored with English/German n-grams.",
    "Word features cover Latin script only: Chinese and Korean are read through character "
    "n-grams alone.",
    "One threshold per label for every language: it is set on the dev sets of all languages "
    "together, so a language whose scores run lower (German toxic: see its recall) loses "
    "recall.",
]


def gaps(report: Report) -> list[str]:
    out = []
    for t in report.targets:
        if not t["met"]:
            why = WHY.get(t["target"], "see the per-set tables")
            out.append(
                f"{t['system']} misses {t['target']} ({t['metric']}): {t['value']:.3f} vs "
                f"{t['goal']:.2f}, short by {t['goal'] - t['value']:.3f}; {why}."
            )
    out.extend(
        f"{r['system']} flags {r['fpr']:.3f} of benign test texts (goal 0.02, over by "
        f"{r['fpr'] - 0.02:.3f}): most of these are the toxicity sets' hard negatives "
        "(texts sampled for offensive keywords and annotated not offensive, e.g. "
        "HateXplain 'normal' posts with reclaimed slurs); the rows for ordinary "
        "messages (SMS and Mendeley ham) show the rate on everyday text. The thresholds keep "
        "per-label benign-FPR bounds on dev (see Thresholds); a toxic bound low enough for "
        "2% overall would cost over 0.2 of mean dev F1 for toxic."
        for r in report.benign_fpr
        if r["group"] == "all benign test texts" and r["fpr"] > 0.02
    )
    return out + FIXED_GAPS


def run_evaluation(
    data_dir: Path,
    model_path: Path | None = None,
    accurate_path: Path | None = None,
    card_path: Path | None = None,
    *,
    baseline: bool = True,
    latency: bool = True,
    research_path: Path | None = None,
) -> tuple[Report, Path]:
    fast = load_model(model_path or FAST_PATH)
    accurate: TextModel | None = None
    candidate = accurate_path or ACCURATE_PATH
    if candidate.exists():
        accurate = load_model(candidate, threads=2)  # scoring only; latency is timed on 1
    report = evaluate(data_dir, fast, accurate, baseline=baseline, latency=latency)
    research = RESEARCH_PATH if research_path is None else research_path
    if research.exists():
        variant = load_model(research)
        if "olid" in variant.metadata.get("datasets", "").split(","):
            report.research = research_targets(build_corpus(data_dir), variant)
    card_path = card_path or CARD_PATH
    card_path.write_text(render(report, gaps(report)), encoding="utf-8")
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_bytes(
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
