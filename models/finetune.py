"""Fine-tune all-MiniLM-L6-v2 end to end on flagstream's labels: the accurate model's training.

The encoder, mean pooling and a linear head over the labels are trained together with a masked
multi-label loss (a label a set does not annotate does not count), AdamW with linear warm-up and
decay, on length-bucketed batches (dynamic padding: a batch is as wide as its longest text). The
checkpoint with the best mean dev PR-AUC is kept. Everything is seeded; torch runs on one thread by default.

The data side (which rows, in which batches) needs no torch and is what the unit tests pin;
torch is imported inside the functions that train, so run time never needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from streams.model import pad_rows, padded_batches

if TYPE_CHECKING:
    from pathlib import Path

    import torch


@dataclass(frozen=True, slots=True)
class FineTuneConfig:
    """The recipe; its defaults build the shipped model (chosen on the dev splits)."""

    max_len: int = 64  # tokens: covers the 95th percentile of every English training set
    batch: int = 32
    lr: float = 5e-5  # encoder
    head_lr: float = 1e-3  # the freshly initialised head learns faster
    weight_decay: float = 0.01
    warmup: float = 0.06  # share of the steps with a linear warm-up, then linear decay to 0
    # may be fractional: the last epoch stops early. Dev mean PR-AUC (fp32): 0.840 after one
    # epoch of a one-epoch schedule, 0.855 after two of a two-epoch schedule
    epochs: float = 2.0
    pos_weight_cap: float = 3.0  # per-label pos_weight = min(sqrt(neg/pos), cap)
    # at most this many training rows per set, so that no one set (Davidson is 83% offensive)
    # decides what "toxic" means; smaller sets are kept whole
    cap_per_set: dict[str, int] = field(
        default_factory=lambda: {"davidson": 7000, "hatexplain": 10000}
    )
    evals: int = 4  # dev evaluations over the run (the last at the end); the best one is kept
    seed: int = 0
    # two intra-op threads on an idle 2-core machine: 57 texts/s, 22 min for the two epochs.
    # With another busy process on the machine, one thread is faster (measured: 1.3 s per batch
    # on one thread, 5+ s on two); the thread count can change the last bits of the result.
    threads: int = 2
    max_steps: int | None = None  # stop early (smoke runs and throughput measurements)
    # the lowest encoder layers kept frozen with the embeddings: their backward pass is skipped
    # (the e5 tier: 6 of 12 frozen cut a step by about a third on 2 cores)
    frozen_layers: int = 0
    # keep only the lowest ``layers`` transformer layers (None: all): a shallower student of the
    # same encoder, initialised from its own lower layers, that costs proportionally less per event
    layers: int | None = None
    # finish at this step even though the schedule is longer (the learning rate has not reached
    # 0): a run resumed from its checkpoint with stop_at at or below the saved step goes straight
    # to the best evaluation so far. For runs the machine cannot finish in the time there is.
    stop_at: int | None = None


def bucketed_batches(
    lengths: Sequence[int], batch: int, seed: int, window: int = 50
) -> list[npt.NDArray[np.intp]]:
    """Row indices per batch: shuffled, then sorted by length within windows of ``window`` batches.

    Rows of similar length share a batch (little padding) while the order of batches stays
    random; the same ``seed`` gives the same batches.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    lens = np.asarray(lengths)
    batches: list[npt.NDArray[np.intp]] = []
    span = batch * window
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lens[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch] for i in range(0, len(chunk), batch))
    return [batches[int(i)] for i in rng.permutation(len(batches))]


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup * total`` steps, then linear decay to 0 at ``total``."""
    warm = max(1, round(warmup * total))
    if step < warm:
        return (step + 1) / warm
    return max(0.0, (total - step) / max(1, total - warm))


def pos_weights(labels: npt.NDArray[np.int8], cap: float) -> npt.NDArray[np.float32]:
    """``min(sqrt(negatives / positives), cap)`` per label over the known entries."""
    pos = (labels == 1).sum(axis=0).astype(np.float64)
    neg = (labels == 0).sum(axis=0).astype(np.float64)
    return np.minimum(np.sqrt(neg / np.maximum(pos, 1.0)), cap).astype(np.float32)


def mean_pr_auc(
    scores: npt.NDArray[np.float32], labels: npt.NDArray[np.int8], groups: npt.NDArray[np.str_]
) -> float:
    """Mean PR-AUC over every (set, label) pair with both classes: the model-selection metric."""
    from sklearn.metrics import average_precision_score  # noqa: PLC0415 - training-only

    values = []
    for group in np.unique(groups):
        in_group = groups == group
        for j in range(labels.shape[1]):
            known = in_group & (labels[:, j] >= 0)
            y = labels[known, j] == 1
            if 0 < y.sum() < len(y):
                values.append(float(average_precision_score(y, scores[known, j])))
    return float(np.mean(values)) if values else float("nan")


def _network(
    encoder: Path, n_labels: int, prior: npt.NDArray[np.float32], layers: int | None = None
) -> torch.nn.Module:
    import torch  # noqa: PLC0415 - training-only
    from transformers import AutoModel  # noqa: PLC0415 - training-only

    class EncoderClassifier(torch.nn.Module):
        """Encoder -> masked mean pooling -> dropout -> linear: logits ``[N, labels]``."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(encoder), add_pooling_layer=False)
            if layers is not None:
                depth = self.bert.config.num_hidden_layers
                if not 1 <= layers <= depth:
                    raise ValueError(f"layers={layers}: the encoder has 1..{depth} layers")
                self.bert.encoder.layer = self.bert.encoder.layer[:layers]
                self.bert.config.num_hidden_layers = layers
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, n_labels)
            with torch.no_grad():  # start at each label's base rate, not at 0.5
                self.head.bias.copy_(torch.from_numpy(np.log(prior / (1 - prior))))

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            logits: torch.Tensor = self.head(self.dropout(pooled))
            return logits

    return EncoderClassifier()


def probabilities(net: torch.nn.Module) -> torch.nn.Module:
    """The trained network with a sigmoid on top (what the ONNX graph returns), in eval mode."""
    import torch  # noqa: PLC0415 - training-only

    class Scores(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.net(input_ids, attention_mask))

    return Scores().eval()


def predict(
    net: torch.nn.Module, token_ids: Sequence[Sequence[int]], batch: int = 128
) -> npt.NDArray[np.float32]:
    """Sigmoid scores ``[N, labels]`` of a trained network (eval mode, length-sorted batches)."""
    import torch  # noqa: PLC0415 - training-only

    net.eval()
    out: npt.NDArray[np.float32] | None = None
    with torch.no_grad():
        for idx, ids, mask in padded_batches(token_ids, batch):
            s = torch.sigmoid(net(torch.from_numpy(ids), torch.from_numpy(mask))).numpy()
            if out is None:
                out = np.zeros((len(token_ids), s.shape[1]), dtype=np.float32)
            out[idx] = s
    assert out is not None
    return out


@dataclass(slots=True)
class FineTuneResult:
    net: Any  # torch.nn.Module with the best dev checkpoint loaded, in eval mode
    dev_scores: npt.NDArray[np.float32]
    history: list[dict[str, float]]
    seconds: float


def fine_tune(
    encoder: Path,
    train_ids: Sequence[Sequence[int]],
    train_labels: npt.NDArray[np.int8],
    dev_ids: Sequence[Sequence[int]],
    dev_labels: npt.NDArray[np.int8],
    dev_groups: npt.NDArray[np.str_],
    config: FineTuneConfig,
    log: Callable[[str], None] = print,
    checkpoint: Path | None = None,
    checkpoint_every: int = 200,
) -> FineTuneResult:
    """Train encoder + head end to end; keep the checkpoint with the best mean dev PR-AUC.

    With ``checkpoint``, the whole training state (weights, optimiser, step, best so far) is
    written there every ``checkpoint_every`` steps and at each dev evaluation, and a run that
    finds one resumes from it: batches are a pure function of (seed, epoch), so the resumed run
    skips the batches already taken and continues on the same schedule.
    """
    import torch  # noqa: PLC0415 - training-only

    start = time.perf_counter()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    known = train_labels >= 0
    prior = np.clip(
        ((train_labels == 1) & known).sum(0) / np.maximum(known.sum(0), 1), 0.01, 0.99
    ).astype(np.float32)
    net = _network(encoder, train_labels.shape[1], prior, config.layers)
    # the word-embedding table is 12M of the 23M weights: training it triples the step time on
    # 2 cores (measured: 0.6 s -> 2+ s per batch of 32x32 tokens) for little gain on short texts
    net.get_submodule("bert.embeddings.word_embeddings").weight.requires_grad_(False)
    if config.frozen_layers:
        net.get_submodule("bert.embeddings").requires_grad_(False)
        for i in range(config.frozen_layers):
            net.get_submodule(f"bert.encoder.layer.{i}").requires_grad_(False)
    head_params = list(net.get_submodule("head").parameters())
    head_ids = {id(p) for p in head_params}
    encoder_params = [p for p in net.parameters() if p.requires_grad and id(p) not in head_ids]
    opt = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": config.lr},
            {"params": head_params, "lr": config.head_lr},
        ],
        weight_decay=config.weight_decay,
    )
    base_lrs = [config.lr, config.head_lr]
    lengths = [len(t) for t in train_ids]
    per_epoch = -(-len(train_ids) // config.batch)
    total = max(1, round(config.epochs * per_epoch))
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    eval_at = {round(total * (k + 1) / config.evals) for k in range(config.evals)}
    pw = torch.from_numpy(pos_weights(train_labels, config.pos_weight_cap))
    y_all = torch.from_numpy(np.maximum(train_labels, 0).astype(np.float32))
    m_all = torch.from_numpy(known.astype(np.float32))
    log(
        f"fine-tune: {len(train_ids)} texts, {total} steps of {config.batch} "
        f"({total / per_epoch:.2f} epochs), pos_weight {np.round(pw.numpy(), 2).tolist()}"
    )
    history: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor], npt.NDArray[np.float32]] | None = None
    step, epoch, running, tick = 0, 0, 0.0, time.perf_counter()
    skip = 0  # batches of the current epoch already taken before a resume
    if checkpoint is not None and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        if saved["total"] != total or saved["n_train"] != len(train_ids):
            raise ValueError(
                f"{checkpoint}: a checkpoint of another run ({saved['n_train']} texts, "
                f"{saved['total']} steps; this one: {len(train_ids)}, {total}); delete it to "
                "start over"
            )
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        step, epoch, skip, history = saved["step"], saved["epoch"], saved["skip"], saved["history"]
        if saved["best"] is not None:
            best = saved["best"]
        log(f"  resumed from {checkpoint} at step {step} (epoch {epoch}, batch {skip})")

    def save_checkpoint(taken: int) -> None:
        if checkpoint is None:
            return
        tmp = checkpoint.with_suffix(".tmp")
        state = {
            "net": net.state_dict(),
            "opt": opt.state_dict(),
            "step": step,
            "epoch": epoch,
            "skip": taken,
            "history": history,
            "best": best,
            "total": total,
            "n_train": len(train_ids),
        }
        torch.save(state, tmp)
        tmp.replace(checkpoint)

    end = total if config.stop_at is None else min(total, config.stop_at)
    if end < total:
        log(f"  stopping at step {end} of the {total}-step schedule")
    while step < end:
        for taken, rows in enumerate(bucketed_batches(lengths, config.batch, config.seed + epoch)):
            if taken < skip:
                continue
            if step >= end:
                break
            net.train()
            factor = lr_factor(step, total, config.warmup)
            for group, base in zip(opt.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor
            ids, mask = pad_rows(train_ids, rows)
            logits = net(torch.from_numpy(ids), torch.from_numpy(mask))
            y, m = y_all[rows], m_all[rows]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y, weight=m, pos_weight=pw, reduction="sum"
            ) / m.sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            running += float(loss.detach())
            step += 1
            if step % 50 == 0:
                rate = 50 * config.batch / (time.perf_counter() - tick)
                log(
                    f"  step {step}/{total} loss {running / 50:.4f} {rate:.0f} texts/s "
                    f"({time.perf_counter() - start:.0f} s)"
                )
                running, tick = 0.0, time.perf_counter()
            if step in eval_at:
                scores = predict(net, dev_ids)
                auc = mean_pr_auc(scores, dev_labels, dev_groups)
                history.append({"step": step, "dev_mean_pr_auc": auc})
                log(f"  dev mean PR-AUC {auc:.4f} at step {step}")
                if best is None or auc > best[0]:
                    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    best = (auc, state, scores)
                save_checkpoint(taken + 1)
                tick = time.perf_counter()
            elif step % checkpoint_every == 0:
                save_checkpoint(taken + 1)
        epoch += 1
        skip = 0
    if best is None or history[-1]["step"] != step:  # stopped between two evaluations
        scores = predict(net, dev_ids)
        auc = mean_pr_auc(scores, dev_labels, dev_groups)
        history.append({"step": step, "dev_mean_pr_auc": auc})
        log(f"  dev mean PR-AUC {auc:.4f} at step {step} (the last)")
        if best is None or auc > best[0]:
            best = (auc, {k: v.detach().clone() for k, v in net.state_dict().items()}, scores)
    net.load_state_dict(best[1])
    net.eval()
    return FineTuneResult(net, best[2], history, time.perf_counter() - start)


def export_onnx(net: torch.nn.Module, out: Path) -> Path:
    """One graph: (input_ids, attention_mask) -> sigmoid scores ``[N, labels]``."""
    import torch  # noqa: PLC0415 - training-only

    module = probabilities(net)
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["scores"],
            dynamic_axes={
                "input_ids": {0: "N", 1: "T"},
                "attention_mask": {0: "N", 1: "T"},
                "scores": {0: "N"},
            },
            opset_version=17,
            dynamo=False,
        )
    return out
