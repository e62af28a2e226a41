"""Signal records: validation, normalisation, stable keys, and the JSON Schema."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest

from streams.events import load_schema
from streams.networks.signals import (
    SignalFormatError,
    normalise_indicator,
    normalised_text,
    parse_signal,
    text_hashes,
    text_signature,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SCAM = "Congratulations! You have won a $1000 gift card, click the link to claim it today"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = load_schema("signal.v1.json")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("phone", "+1 (415) 555-2671", "+14155552671"),
        ("phone", "＋８６ １３８ ００１３ ８０００", "+8613800138000"),
        ("wechat", "Lucky2026", "lucky2026"),
        ("telegram", "@QuickCash_bot", "quickcash_bot"),
        ("qq", "123456789", "123456789"),
        ("url", "https://Scam.Example.com/pay?ref=1#x", "scam.example.com/pay"),
        ("domain", "https://a.b.scam.example.co.uk/x", "example.co.uk"),
        ("email", "Pay(at)Scam.example dot com", "pay@scam.example.com"),
        ("whatsapp", "+86 138-0013-8000", "+8613800138000"),
        (
            "wallet",
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "eth:0x52908400098527886e0f7030069857d2e4169ee7",
        ),
    ],
)
def test_indicators_are_normalised_as_extraction_writes_them(
    kind: str, raw: str, expected: str
) -> None:
    assert normalise_indicator(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"), [("phone", "12"), ("email", "nobody"), ("wallet", "0x12"), ("qq", "abc")]
)
def test_an_invalid_indicator_says_what_is_expected(kind: str, raw: str) -> None:
    with pytest.raises(SignalFormatError, match=f"not a valid {kind} indicator.*expected"):
        normalise_indicator(kind, raw)


def test_exact_fingerprints_ignore_case_width_spacing_and_punctuation() -> None:
    variants = [
        SCAM,
        SCAM.upper(),
        SCAM.replace(" ", "  ") + " !!",
        "Ｃｏｎｇｒａｔｕｌａｔｉｏｎｓ" + SCAM[15:],
    ]
    assert len({normalised_text(v) for v in variants}) == 1
    hashes = text_hashes([*variants, SCAM.replace("1000", "2000"), "hi there"])
    assert len(set(hashes[:4])) == 1
    assert hashes[4] != hashes[0]  # digits count in an exact fingerprint
    assert hashes[5] is None  # too short to be a fingerprint


def test_keys_are_stable_and_name_list_kind_and_value(
    validator: jsonschema.Draft7Validator,
) -> None:
    a = parse_signal(
        {
            "list": "acme",
            "kind": "indicator",
            "indicator_type": "phone",
            "value": "+1 415 555 2671",
            "label": "scam",
        },
        now=NOW,
    )
    b = parse_signal(
        {
            "list": "acme",
            "kind": "indicator",
            "indicator_type": "phone",
            "value": "+14155552671",
            "label": "spam",
            "notes": "relabelled",
        },
        now=NOW,
    )
    assert a.key == b.key == "acme|indicator|phone:+14155552671"
    c = parse_signal({"kind": "text_exact", "text": SCAM, "label": "scam"}, "other", NOW)
    assert c.key.startswith("other|text_exact|")
    assert c.added_at == "2026-12-01T10:00:00Z"
    for signal in (a, b, c):
        assert not list(validator.iter_errors(signal.to_record()))


def test_a_fingerprint_can_be_shared_without_its_text(
    validator: jsonschema.Draft7Validator,
) -> None:
    from_text = parse_signal({"list": "p", "kind": "text_near", "text": SCAM, "label": "scam"})
    from_value = parse_signal(
        {"list": "p", "kind": "text_near", "value": text_signature(SCAM), "label": "scam"}
    )
    assert from_text.key == from_value.key
    record = from_value.to_record()
    assert record["algorithm"] == "minhash-10x4/flagstream-1"
    assert not list(validator.iter_errors(record))
    assert parse_signal(record).key == from_text.key  # a topic record reads back


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {
                "kind": "indicator",
                "indicator_type": "phone",
                "value": "+14155552671",
                "label": "scam",
            },
            "give a 'list' column or --list",
        ),
        ({"list": "Bad Name", "kind": "text_exact", "text": SCAM, "label": "scam"}, "lower-case"),
        (
            {"list": "p", "kind": "hash", "text": SCAM, "label": "scam"},
            "kind 'hash' must be one of",
        ),
        ({"list": "p", "kind": "text_exact", "text": SCAM, "label": "fraud"}, "label 'fraud'"),
        (
            {"list": "p", "kind": "text_exact", "text": SCAM, "label": "scam", "action": "ban"},
            "review or block",
        ),
        ({"list": "p", "kind": "text_exact", "label": "scam"}, "either 'text' or 'value'"),
        ({"list": "p", "kind": "text_exact", "text": "short", "label": "scam"}, "too short"),
        ({"list": "p", "kind": "text_exact", "value": "xyz", "label": "scam"}, "32 lower-case hex"),
        ({"list": "p", "kind": "text_near", "value": "AAAA", "label": "scam"}, "base64 of 40"),
        (
            {"list": "p", "kind": "text_near", "text": SCAM, "label": "scam", "algorithm": "pdq"},
            "recompute the fingerprint",
        ),
        (
            {
                "list": "p",
                "kind": "indicator",
                "indicator_type": "fax",
                "value": "1",
                "label": "scam",
            },
            "indicator_type 'fax'",
        ),
        (
            {"list": "p", "kind": "text_exact", "text": SCAM, "label": "scam", "colour": "red"},
            "unknown field",
        ),
        (
            {
                "list": "p",
                "kind": "text_exact",
                "text": SCAM,
                "label": "scam",
                "added_at": "yesterday",
            },
            "ISO 8601",
        ),
    ],
)
def test_bad_rows_name_the_field_and_the_fix(row: dict[str, str], message: str) -> None:
    with pytest.raises(SignalFormatError, match=message):
        parse_signal(row)


def test_batch_fingerprints_equal_one_text_at_a_time() -> None:
    texts = [
        SCAM,
        "Ｆｕｌｌ　ｗｉｄｔｈ ＴＥＸＴ 12345 here",
        "恭喜您获得本月幸运大奖，奖金一万元",
        "a_b",
        "nul\0inside text ok",
        "",
    ]
    one_by_one = [text_hashes([t])[0] for t in texts]
    assert text_hashes(texts) == one_by_one
    assert one_by_one[3] is None
    assert one_by_one[1] == text_hashes(["fullwidthtext12345here"])[0]
