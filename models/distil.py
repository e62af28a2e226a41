"""Teacher scores: the encoder tier's probabilities on the fast tier's training texts.

The fast tier is distilled from the encoder (``docs/model.md``, "Distilling the encoder into
the fast tier"): its targets are ``ALPHA * gold + (1 - ALPHA) * teacher`` where a row's set
annotates the label, and the teacher's score where it does not. The encoder scores each text
alone (one row per run, as the cascade does), so a score does not depend on its batch-mates.

Scoring ~260k texts takes ~10 min on two cores. It is cached under ``models/build/teacher/``,
keyed by the encoder file's sha256 and the texts, in chunks written as they finish: an
interrupted run resumes at the first missing chunk.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.export import BUILD_DIR

TEACHER_DIR = BUILD_DIR / "teacher"
CHUNK = 512
# The gold label's share of a distilled target where the row's set annotates the label,
# chosen on dev (docs/model.md: 0.2 / 0.5 / gold only)
ALPHA = 0.5
Floats = npt.NDArray[np.float32]

_worker_model: object = None


def texts_key(encoder_sha256: str, texts: Sequence[str]) -> str:
    h = hashlib.sha256(encoder_sha256.encode())
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def _init(path: str) -> None:
    global _worker_model  # noqa: PLW0603 - one model per worker process
    from streams.model import load_model  # noqa: PLC0415

    _worker_model = load_model(Path(path), threads=1)


def _score_chunk(job: tuple[Path, list[str]]) -> Path:
    from streams.model import TextModel  # noqa: PLC0415

    out, texts = job
    assert isinstance(_worker_model, TextModel)
    scores = _worker_model.score_each(texts)
    tmp = out.with_suffix(".tmp.npy")
    np.save(tmp, scores.astype(np.float32))
    tmp.replace(out)
    return out


def teacher_scores(
    texts: Sequence[str],
    encoder: Path,
    *,
    workers: int = 2,
    cache: Path = TEACHER_DIR,
    log: Callable[[str], None] | None = print,
) -> Floats:
    """The encoder's scores ``[len(texts), 4]`` on ``texts``, cached and resumable."""
    from streams.model import load_model  # noqa: PLC0415

    model = load_model(encoder)
    key = texts_key(model.sha256, texts)
    whole = cache / f"{key}.npy"
    if whole.exists():
        return np.load(whole)
    parts = cache / key
    parts.mkdir(parents=True, exist_ok=True)
    jobs = [
        (parts / f"{start // CHUNK:06d}.npy", list(texts[start : start + CHUNK]))
        for start in range(0, len(texts), CHUNK)
    ]
    todo = [job for job in jobs if not job[0].exists()]
    if todo and log:
        log(
            f"teacher scores: {len(texts)} texts with {encoder.name} on {workers} processes "
            f"({len(jobs) - len(todo)} of {len(jobs)} chunks cached)"
        )
    started = time.perf_counter()
    if todo:
        with mp.get_context("spawn").Pool(workers, _init, (str(encoder),)) as pool:
            for done, _ in enumerate(pool.imap_unordered(_score_chunk, todo), 1):
                if log and (done % 20 == 0 or done == len(todo)):
                    rate = (time.perf_counter() - started) / (done * CHUNK)
                    log(f"  {done}/{len(todo)} chunks, {rate * 1e3:.2f} ms per text (wall)")
    scores = np.concatenate([np.load(path) for path, _ in jobs]).astype(np.float32)
    np.save(whole, scores)
    shutil.rmtree(parts)
    return scores


def soft_targets(gold: npt.NDArray[np.int8], teacher: Floats, alpha: float = ALPHA) -> Floats:
    """``alpha * gold + (1 - alpha) * teacher`` where gold is known (0/1), the teacher elsewhere."""
    if gold.shape != teacher.shape:
        raise ValueError(f"gold {gold.shape} and teacher {teacher.shape} scores differ in shape")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha {alpha} must be in [0, 1]")
    known = gold >= 0
    mixed = alpha * gold.astype(np.float32) + (1.0 - alpha) * teacher
    return np.clip(np.where(known, mixed, teacher), 0.0, 1.0).astype(np.float32)
