"""MinHash signatures: similar texts are close, the estimate is unbiased, hashing is stable."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from streams.networks.minhash import (
    MinHasher,
    decode_signature,
    encode_signature,
    shingle_text,
    similarity,
)

HASHER = MinHasher()


def test_normalisation_removes_light_variation() -> None:
    assert shingle_text("You WON $1,500!! 🎉 Call now") == shingle_text("you won $9 call   now")
    assert shingle_text("恭喜！中奖１２３") == "恭喜中奖0"


def test_variants_are_similar_and_strangers_are_not() -> None:
    texts = [
        "Congratulations John! You have won $500 in the lottery, message our agent to claim it",
        "Congratulations Mary!! You have won $12000 in the lottery. Message our agent to claim it 💰",
        "the weather in the mountains was lovely, we walked for hours and had a picnic",
        "恭喜您中奖了！请添加客服微信领取您的5000元奖金，名额有限先到先得",
        "恭喜你中奖啦！请加客服微信领取8888元奖金，名额有限，先到先得哦",
    ]
    sigs, has = HASHER.signatures(texts)
    assert has.all()
    assert similarity(sigs[0], sigs[1]) >= 0.6
    assert similarity(sigs[3], sigs[4]) >= 0.4  # CJK: character bigrams
    assert similarity(sigs[0], sigs[2]) < 0.2
    assert similarity(sigs[0], sigs[3]) < 0.1


def test_batch_and_single_signatures_agree() -> None:
    texts = [
        "first text of the batch, long enough",
        "",
        "短",
        "第二个文本足够长了吧我觉得是的",
        "x" * 40,
    ]
    sigs, has = HASHER.signatures(texts)
    assert has.tolist() == [True, False, False, True, True]
    for i, text in enumerate(texts):
        one, one_has = HASHER.signatures([text])
        assert one_has[0] == has[i]
        assert np.array_equal(one[0], sigs[i])


def test_a_batch_may_end_with_a_text_that_folds_to_nothing() -> None:
    text = "a long enough text to hash here"
    for last in ("", "🎉", "!!!", "   "):
        sigs, has = HASHER.signatures([text, last])
        assert has.tolist() == [True, False]
        assert np.array_equal(sigs[0], HASHER.signatures([text])[0][0])


def test_estimate_tracks_true_jaccard() -> None:
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    errors = []
    for _ in range(60):
        base = "".join(rng.choice(alphabet, 200))
        other = base[:120] + "".join(rng.choice(alphabet, 80))
        a, b = shingle_text(base), shingle_text(other)
        sa = {a[i : i + 3] for i in range(len(a) - 2)}
        sb = {b[i : i + 3] for i in range(len(b) - 2)}
        true = len(sa & sb) / len(sa | sb)
        sigs, _ = HASHER.signatures([base, other])
        errors.append(similarity(sigs[0], sigs[1]) - true)
    assert abs(float(np.mean(errors))) < 0.03  # unbiased
    assert float(np.std(errors)) < 0.12  # ~ sqrt(J(1-J)/num_perm)


def test_band_keys_meet_exactly_when_bands_are_equal() -> None:
    sigs, _ = HASHER.signatures(["a long enough text to hash here", "another long enough text"])
    keys = HASHER.band_keys(sigs)
    assert keys.shape == (2, HASHER.bands)
    same = sigs.reshape(2, HASHER.bands, HASHER.rows)
    for band in range(HASHER.bands):
        assert (keys[0, band] == keys[1, band]) == bool((same[0, band] == same[1, band]).all())
    assert len(set(keys[0].tolist())) == HASHER.bands  # the band index is part of the key


def test_signatures_are_stable_across_processes() -> None:
    text = "Congratulations! You have won a prize, contact our agent today"
    sig, _ = HASHER.signatures([text])
    code = (
        "from streams.networks.minhash import MinHasher, encode_signature;"
        f"print(encode_signature(MinHasher().signatures([{text!r}])[0][0]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": sys.path[0] or "."},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == encode_signature(sig[0])
    assert np.array_equal(decode_signature(encode_signature(sig[0])), sig[0])
