"""Load an ONNX text model and score batches of texts with it.

A flagstream model is one self-describing ONNX file: its metadata names the labels, version,
per-label thresholds, the training data's fingerprint, the creation time and the front end that
turns texts into the graph's inputs (hashed character and word n-grams for the fast model, a
WordPiece tokenizer for the accurate one). Nothing else is needed at run time: no torch, no
vocab files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import orjson
from tokenizers import Tokenizer

from streams.errors import ModelError
from streams.features import FeatureConfig, featurize

LABELS: tuple[str, ...] = ("spam", "scam", "toxic", "hate")  # column order of scores

META_PREFIX = "flagstream."
REQUIRED_META = ("name", "version", "labels", "thresholds", "created_at", "data_fingerprint")
MICRO_BATCH = 8  # texts per accurate-model run, sorted by length
_FIX = "run `flagstream model export` or set FLAGSTREAM_MODEL_PATH to a flagstream model"

Scorer = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def pad_rows(
    token_ids: Sequence[Sequence[int]], rows: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The given rows padded to the longest of them: (input_ids, attention_mask)."""
    width = max(len(token_ids[int(i)]) for i in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, i in enumerate(rows):
        seq = token_ids[int(i)]
        ids[r, : len(seq)] = seq
        mask[r, : len(seq)] = 1
    return ids, mask


def padded_batches(
    token_ids: Sequence[Sequence[int]], batch: int
) -> Iterator[tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Length-sorted micro-batches of token ids: (row indices, padded ids, attention mask)."""
    order = np.argsort([len(t) for t in token_ids], kind="stable")
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        yield (idx, *pad_rows(token_ids, idx))


def row_shares(lengths: Sequence[int], workers: int) -> list[list[int]]:
    """Split rows among ``workers`` so each gets about the same number of tokens.

    Longest first, each to the share with the fewest tokens so far (cost grows with length);
    empty shares are dropped, so one row gives one share.
    """
    shares: list[list[int]] = [[] for _ in range(max(1, min(workers, len(lengths))))]
    load = [0] * len(shares)
    for i in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        j = load.index(min(load))
        shares[j].append(i)
        load[j] += lengths[i] + 1
    return [s for s in shares if s]


class TextModel:
    """One ONNX model and its front end; :meth:`score` is safe to call from a worker thread."""

    __slots__ = (
        "_each",
        "_pool",
        "_scorer",
        "_session",
        "block_thresholds",
        "cascade",
        "created_at",
        "data_fingerprint",
        "labels",
        "languages",
        "metadata",
        "name",
        "path",
        "row_workers",
        "script_points",
        "sha256",
        "thresholds",
        "version",
    )

    def __init__(self, path: Path, *, threads: int = 1, row_workers: int = 1) -> None:
        if row_workers < 1:
            raise ValueError(f"row_workers {row_workers} must be at least 1")
        self.path = path
        # row-at-a-time scoring (score_each) runs this many rows at once, each in its own
        # model run: onnxruntime releases the GIL, and a row's scores do not depend on it
        self.row_workers = row_workers
        self._pool: ThreadPoolExecutor | None = None
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"{path}: no such file; {_FIX}") from None
        except OSError as exc:
            raise ModelError(f"{path}: cannot be read ({exc.strerror}); {_FIX}") from None
        self.sha256 = hashlib.sha256(raw).hexdigest()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: not a valid ONNX model ({first[:200]}); {_FIX}") from None
        meta = self._session.get_modelmeta().custom_metadata_map
        self.metadata = {
            k.removeprefix(META_PREFIX): v for k, v in meta.items() if k.startswith(META_PREFIX)
        }
        missing = [k for k in REQUIRED_META if k not in self.metadata]
        if missing:
            raise ModelError(
                f"{path}: ONNX file lacks flagstream metadata {', '.join(missing)}; "
                f"it was not exported by `flagstream model export`; {_FIX}"
            )
        try:
            self.labels = tuple(self.metadata["labels"].split(","))
            thresholds = orjson.loads(self.metadata["thresholds"])
            self.thresholds = {label: float(thresholds[label]) for label in self.labels}
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{path}: invalid labels/thresholds metadata ({exc}); {_FIX}"
            ) from None
        try:  # optional: models before the block point was calibrated do not carry it
            block = orjson.loads(self.metadata.get("block_thresholds", "{}"))
            self.block_thresholds = {k: float(v) for k, v in block.items() if k in self.labels}
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{path}: invalid block_thresholds metadata ({exc}); {_FIX}") from None
        try:  # optional: per-script-group operating points (streams/calibration.py)
            self.script_points: dict[str, dict[str, dict[str, float]]] = _script_points(
                orjson.loads(self.metadata.get("script_points", "{}"))
            )
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"{path}: invalid script_points metadata ({exc}); {_FIX}") from None
        try:  # an encoder tier's calibrated cascade points (models/cascade.py), if any
            self.cascade: dict[str, Any] | None = (
                orjson.loads(self.metadata["cascade"]) if "cascade" in self.metadata else None
            )
        except orjson.JSONDecodeError as exc:
            raise ModelError(f"{path}: invalid cascade metadata ({exc}); {_FIX}") from None
        self.name = self.metadata["name"]
        self.version = self.metadata["version"]
        self.created_at = self.metadata["created_at"]
        self.data_fingerprint = self.metadata["data_fingerprint"]
        self.languages = tuple(self.metadata.get("languages", "").split(","))
        self._each: Scorer | None = None  # row-at-a-time scorer, where batching changes scores
        self._scorer = self._front_end()

    def _front_end(self) -> Scorer:
        kind = self.metadata.get("features", "")
        session = self._session
        n_labels = len(self.labels)
        if kind.startswith("char-"):
            try:
                config = FeatureConfig.from_meta(kind)
            except (ValueError, KeyError) as exc:
                raise ModelError(f"{self.path}: bad features metadata ({exc}); {_FIX}") from None

            def score_ngrams(texts: Sequence[str]) -> npt.NDArray[np.float32]:
                out = session.run(None, featurize(texts, config).feeds())[0]
                return np.asarray(out, dtype=np.float32).reshape(len(texts), n_labels)

            return score_ngrams
        if kind.startswith(("wordpiece:", "sentencepiece:")):
            return self._wordpiece_scorer(kind)
        raise ModelError(f"{self.path}: unknown front end {kind!r} in metadata; {_FIX}")

    def _wordpiece_scorer(self, kind: str) -> Scorer:
        max_len = int(kind.split("max_len=", 1)[1]) if "max_len=" in kind else 128
        try:
            tokenizer = Tokenizer.from_str(self.metadata["tokenizer"])
        except (KeyError, Exception) as exc:
            raise ModelError(f"{self.path}: bad tokenizer metadata ({exc}); {_FIX}") from None
        tokenizer.enable_truncation(max_len)
        tokenizer.no_padding()
        session = self._session
        n_labels = len(self.labels)
        feeds = {i.name for i in session.get_inputs()}
        prefix = self.metadata.get("text_prefix", "")  # e5 reads "query: " + text

        def score_rows(
            rows: Sequence[int], encoded: Sequence[list[int]], out: npt.NDArray[np.float32]
        ) -> None:
            for i in rows:
                ids = np.asarray([encoded[i]], dtype=np.int64)
                feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
                if "token_type_ids" in feeds:
                    feed["token_type_ids"] = np.zeros_like(ids)
                out[i] = np.asarray(session.run(None, feed)[0], dtype=np.float32).reshape(n_labels)

        def score_each(texts: Sequence[str]) -> npt.NDArray[np.float32]:
            # one text per run: dynamic int8 quantisation picks its activation scales per run,
            # so a row scored alone gets the same scores whatever else is being scored, and
            # however many rows run at once
            batch = [prefix + t for t in texts] if prefix else list(texts)
            encoded = [e.ids for e in tokenizer.encode_batch_fast(batch)]
            out = np.zeros((len(texts), n_labels), dtype=np.float32)
            shares = row_shares([len(ids) for ids in encoded], self.row_workers)
            if len(shares) <= 1:
                score_rows(range(len(encoded)), encoded, out)
                return out
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.row_workers - 1, thread_name_prefix=f"{self.name}-rows"
                )
            others = [self._pool.submit(score_rows, s, encoded, out) for s in shares[1:]]
            score_rows(shares[0], encoded, out)  # the calling thread takes a share too
            for job in others:
                job.result()
            return out

        self._each = score_each

        def score_wordpiece(texts: Sequence[str]) -> npt.NDArray[np.float32]:
            batch = [prefix + t for t in texts] if prefix else list(texts)
            encodings = tokenizer.encode_batch_fast(batch)
            out = np.zeros((len(texts), n_labels), dtype=np.float32)
            # length-sorted micro-batches: padding a tweet to a paragraph's length costs more
            # than the batching saves (measured: 10 ms/event alone, 26 ms in padded 32s)
            for idx, ids, mask in padded_batches([e.ids for e in encodings], MICRO_BATCH):
                feed = {"input_ids": ids, "attention_mask": mask}
                if "token_type_ids" in feeds:
                    feed["token_type_ids"] = np.zeros_like(ids)
                result = session.run(None, feed)[0]
                out[idx] = np.asarray(result, dtype=np.float32).reshape(len(idx), n_labels)
            return out

        return score_wordpiece

    def score(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Independent per-label probabilities, float32 ``[len(texts), len(labels)]``."""
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self._scorer(texts)

    def score_each(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Like :meth:`score`, but every row's scores independent of the other rows."""
        if len(texts) == 0 or self._each is None:
            return self.score(texts)
        return self._each(texts)

    def __repr__(self) -> str:
        return f"TextModel({self.name} {self.version}, {self.path}, sha256={self.sha256[:12]})"


def _script_points(raw: Any) -> dict[str, dict[str, dict[str, float]]]:
    """``{group: {"thresholds": {label: t}, "block_thresholds": {label: t}}}``, validated."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for group, entry in dict(raw).items():
        out[str(group)] = {}
        for kind in ("thresholds", "block_thresholds"):
            values = {str(k): float(v) for k, v in dict(entry.get(kind, {})).items()}
            if any(not 0.0 <= v <= 1.0 for v in values.values()):
                raise ValueError(f"group {group!r} {kind} outside 0..1")
            out[str(group)][kind] = values
    return out


def load_model(path: Path, *, threads: int = 1, row_workers: int = 1) -> TextModel:
    """Load a flagstream ONNX model; raise :class:`ModelError` naming the file and the fix."""
    return TextModel(Path(path), threads=threads, row_workers=row_workers)
