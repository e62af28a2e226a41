"""MinHash signatures and LSH band keys of a batch of texts, computed together in numpy.

Texts are normalised so that light variation disappears before hashing: NFKC, lower case, every
run of digits becomes ``0`` (amounts, phone numbers, dates), and everything that is not a letter
or digit goes (spaces, punctuation, emoji). The signature is the MinHash of the set of character
``shingle``-grams of what is left, under ``num_perm`` hash functions of the family x -> a*x + b mod
2**32 (odd a) over a 64-bit mix of each shingle; the estimated Jaccard similarity of two texts is the share of
equal signature positions.

Why not ``datasketch.MinHash``: it hashes one set at a time, each shingle through SHA-1 in
Python; here a whole batch is one vectorised pass (a few microseconds per event, measured by
``bench/networks_cost.py``), and the hashing is stable across processes and restarts (no
``PYTHONHASHSEED``), which the state and the signal lists depend on.

LSH: ``bands`` bands of ``rows`` positions each; two texts whose estimated similarity is ``s``
share at least one band key with probability ``1 - (1 - s**rows) ** bands``.
"""

from __future__ import annotations

import base64
import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_ASCII_WORD = np.zeros(128, np.bool_)
_ASCII_WORD[[ord(c) for c in "0123456789abcdefghijklmnopqrstuvwxyz"]] = True


def _is_cjk(cps: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
    # kana, CJK ideographs, hangul: scripts written without spaces, shingled by 2
    return (
        ((cps >= 0x3040) & (cps <= 0x30FF))
        | ((cps >= 0x3400) & (cps <= 0x9FFF))
        | ((cps >= 0xAC00) & (cps <= 0xD7AF))
    ).astype(np.int64)


_MASK63 = np.uint64(0x7FFF_FFFF_FFFF_FFFF)


def shingle_text(text: str) -> str:
    """The text as the shingles see it (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("\0", "")
    return _fold(np.frombuffer(folded.encode("utf-32-le"), np.uint32)).tobytes().decode("utf-32-le")


@functools.cache
def _params(seed: int, num_perm: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, num_perm, dtype=np.uint32) | np.uint32(1)  # odd
    b = rng.integers(0, 2**32, num_perm, dtype=np.uint32)
    return a, b


def _fold(cps: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Drop what is not a letter or digit (NULs, the texts' separators, stay); a run of digits
    becomes one ``0``. In numpy over code points: the regex module costs ten times more."""
    ascii_word = _ASCII_WORD[np.minimum(cps, 127)]
    non_ascii = cps >= 128
    symbol = non_ascii & (
        ((cps >= 0x2000) & (cps <= 0x2BFF))  # punctuation, arrows, maths, dingbats, symbols
        | ((cps >= 0x3000) & (cps <= 0x303F))  # CJK punctuation
        | ((cps >= 0xFE00) & (cps <= 0xFE0F))  # variation selectors
        | ((cps >= 0xFF01) & (cps <= 0xFF0F))  # full-width punctuation left by NFKC
        | (cps >= 0x1F000)  # emoji and pictographs
        | (cps < 0xC0)  # Latin-1 punctuation and symbols
        | (cps == 0xD7)
        | (cps == 0xF7)
    )
    digit = (cps >= 48) & (cps <= 57)
    # "1,500" and "1.5" are one number: a comma or point between digits belongs to the run
    before = np.concatenate(([False], digit[:-1]))
    after = np.concatenate((digit[1:], [False]))
    digit |= ((cps == 44) | (cps == 46)) & before & after
    repeat_digit = digit & np.concatenate(([False], digit[:-1]))
    keep = ((ascii_word & ~non_ascii) | (non_ascii & ~symbol) | (cps == 0)) & ~repeat_digit
    out = cps[keep]
    out[(out >= 48) & (out <= 57)] = 48
    return out


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64's finaliser: spreads every input bit over the output (wrapping uint64 maths)
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@dataclass(frozen=True, slots=True)
class MinHasher:
    """Signatures and band keys; the parameters are part of the state's format (and of the
    signal lists' fingerprints): changing them makes earlier signatures incomparable."""

    bands: int = 10
    rows: int = 4
    shingle: int = 3  # characters per shingle; CJK texts use 2 (a character is a word or more)
    min_chars: int = 12  # shorter normalised texts get no signature: too little to compare
    max_chars: int = 1_000  # a text is hashed up to this many characters
    seed: int = 0x5EED_F1A6

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def _params(self) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        return _params(self.seed, self.num_perm)

    def signatures(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
        """``[n, num_perm]`` signatures and a mask of the texts that have one."""
        k = self.shingle
        cjk_k = min(2, k)
        n = len(texts)
        sigs = np.zeros((n, self.num_perm), np.uint32)
        has = np.zeros(n, np.bool_)
        if not n:
            return sigs, has
        # the whole batch is normalised and turned into code points in one pass each, with NUL
        # between texts (NUL is not a word character, so it is kept apart below)
        folded = unicodedata.normalize("NFKC", "\0".join(t[: self.max_chars] for t in texts))
        cps32 = _fold(np.frombuffer(folded.lower().encode("utf-32-le"), np.uint32))
        ends = np.append(np.flatnonzero(cps32 == 0), len(cps32))
        starts = np.concatenate(([0], ends[:-1] + 1))
        lens = ends - starts
        if len(lens) != n:  # a text held a NUL of its own: fall back to one text at a time
            return self._one_by_one(texts)
        # CJK characters per text from a running sum: add.reduceat fails on a batch whose last
        # text folds to nothing (its start is past the end)
        cjk_sum = np.concatenate(([0], np.cumsum(_is_cjk(cps32))))
        cjk_chars = cjk_sum[ends] - cjk_sum[starts]
        is_cjk = cjk_chars * 2 > lens
        has[:] = lens >= self.min_chars
        if not has.any():
            return sigs, has
        cps = np.concatenate((cps32, np.zeros(k - 1, np.uint32))).astype(np.uint64)
        total = len(cps32)
        # polynomial hash of every k-gram, and of every 2-gram for CJK texts; shingles that
        # cross a text's end are not kept
        h = np.zeros(total, np.uint64)
        h_cjk = h
        for j in range(k):
            h = h * np.uint64(0x100000001B3) + cps[j : j + total]
            if j + 1 == cjk_k:
                h_cjk = h
        lengths = np.where(is_cjk, lens - cjk_k + 1, lens - k + 1)[has]
        seg_starts = starts[has]
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        # the index of every kept shingle: a run of `length` positions from its text's start
        keep = np.arange(int(lengths.sum())) + np.repeat(seg_starts - offsets, lengths)
        use_cjk = np.repeat(is_cjk[has], lengths)
        # 32 well-mixed bits per shingle, then x -> a*x + b mod 2**32 (odd a: a permutation of
        # the 32-bit values) per position: uint32 maths is what keeps this cheap; the estimates
        # are unbiased (tests/unit/networks/test_minhash.py)
        mixed = _mix(np.where(use_cjk, h_cjk[keep], h[keep]))
        h32 = (mixed >> np.uint64(32)).astype(np.uint32)
        a, b = self._params()
        # [num_perm, shingles]: the minimum runs along contiguous rows (twice as fast as columns)
        perm = a[:, None] * h32[None, :]
        perm += b[:, None]  # in place: one array of [num_perm, shingles], not two
        sigs[has] = np.minimum.reduceat(perm, offsets, axis=1).T
        return sigs, has

    def _one_by_one(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
        parts = [self.signatures([t.replace("\0", " ")]) for t in texts]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def band_keys(self, sigs: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
        """``[n, bands]`` band keys (63-bit, band index mixed in: equal keys mean equal bands)."""
        n = sigs.shape[0]
        grouped = sigs.reshape(n, self.bands, self.rows).astype(np.uint64)
        acc: npt.NDArray[np.uint64] = np.broadcast_to(
            np.arange(self.bands, dtype=np.uint64), (n, self.bands)
        ).copy()
        for r in range(self.rows):
            acc = _mix(acc * np.uint64(0x9E3779B97F4A7C15) + grouped[:, :, r])
        return (acc & _MASK63).astype(np.int64)

    def bands_of(self, sig: npt.NDArray[np.uint32]) -> list[int]:
        """The band keys of one signature."""
        keys: list[int] = self.band_keys(sig.reshape(1, -1))[0].tolist()
        return keys


def similarity(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


def encode_signature(sig: npt.NDArray[np.uint32]) -> str:
    """A signature as text (state values and signal-list fingerprints are JSON)."""
    return base64.b64encode(sig.astype("<u4").tobytes()).decode("ascii")


def decode_signature(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(base64.b64decode(text), "<u4").astype(np.uint32)
