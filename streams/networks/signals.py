"""Signal lists: known-bad indicators and text fingerprints shared between organisations.

A *signal* is one entry of a named list (a partner's, or the platform's own), in the spirit of
hash-list exchanges such as Meta's ThreatExchange / HMA: an indicator (a phone number, a
messenger id, a URL...), the hash of a normalised text (``text_exact``) or its MinHash signature
(``text_near``, matched at a Jaccard similarity). Its format is ``streams/schemas/signal.v1.json``;
this module builds, validates and keys records. Fingerprints can be exchanged without the text:
a row may carry the fingerprint itself instead of the text.

Kafka: key ``<list>|<kind>|<value>`` (stable: re-importing a signal overwrites it in the
compacted topic), value the JSON record; a null value (tombstone) removes the signal.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import orjson

from streams.networks import indicators as ind
from streams.networks.minhash import MinHasher, decode_signature, encode_signature

SCHEMA_VERSION: Final = 1
INDICATOR: Final = "indicator"
TEXT_EXACT: Final = "text_exact"
TEXT_NEAR: Final = "text_near"
KINDS: Final = (INDICATOR, TEXT_EXACT, TEXT_NEAR)
LABELS: Final = ("spam", "scam", "toxic", "hate")
ACTIONS: Final = ("review", "block")
#: how fingerprints are computed: a record of another algorithm is refused, not mismatched
EXACT_ALGORITHM: Final = "blake2b-128/nfkc-lower-alnum"
NEAR_ALGORITHM: Final = "minhash-10x4/flagstream-1"
LIST_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_TEXT_CHARS: Final = 12  # shorter normalised texts are too common to be a fingerprint
_NOT_WORD: Final = re.compile(r"[\W_]+")
_ASCII_NOT_ALNUM: Final = bytes(c for c in range(128) if not chr(c).isalnum())
_FIELDS: Final = frozenset(
    {
        "schema_version",
        "list",
        "kind",
        "indicator_type",
        "value",
        "text",
        "algorithm",
        "label",
        "action",
        "notes",
        "source",
        "added_at",
    }
)
_HASHER: Final = MinHasher()
_EXTRACTOR: Final = ind.IndicatorExtractor()


class SignalFormatError(ValueError):
    """A signal row or record is invalid; the message names the field and the fix."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal: ``value`` is normalised (indicator), a hex hash or a base64 signature."""

    list: str
    kind: str
    value: str
    label: str
    indicator_type: str | None = None
    action: str | None = None
    notes: str | None = None
    source: str | None = None
    added_at: str | None = None

    @property
    def key(self) -> str:
        """The Kafka key: list, kind and value (for indicators ``type:value``)."""
        value = f"{self.indicator_type}:{self.value}" if self.kind == INDICATOR else self.value
        return f"{self.list}|{self.kind}|{value}"

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "list": self.list,
            "kind": self.kind,
        }
        if self.indicator_type is not None:
            record["indicator_type"] = self.indicator_type
        record["value"] = self.value
        if self.kind == TEXT_EXACT:
            record["algorithm"] = EXACT_ALGORITHM
        elif self.kind == TEXT_NEAR:
            record["algorithm"] = NEAR_ALGORITHM
        record["label"] = self.label
        for name in ("action", "notes", "source", "added_at"):
            if (value := getattr(self, name)) is not None:
                record[name] = value
        return record

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_record())


def normalised_text(text: str) -> str:
    """The text an exact fingerprint hashes: NFKC, lower case, letters and digits only."""
    folded = text if text.isascii() else unicodedata.normalize("NFKC", text)
    return _NOT_WORD.sub("", folded.lower())


def text_hashes(texts: Sequence[str]) -> list[str | None]:
    """Exact fingerprints (hex) of a batch; None for a text too short to be one.

    The same result as hashing ``normalised_text`` of each text; ASCII text (most of it) takes
    a bytes ``translate`` instead of NFKC and a regex: a fifth of the cost.
    """
    blake = hashlib.blake2b
    out: list[str | None] = []
    for text in texts:
        if text.isascii():
            norm = text.lower().encode().translate(None, _ASCII_NOT_ALNUM)
            chars = len(norm)
        else:
            folded = normalised_text(text)
            chars, norm = len(folded), folded.encode()
        out.append(blake(norm, digest_size=16).hexdigest() if chars >= MIN_TEXT_CHARS else None)
    return out


def text_signature(text: str) -> str | None:
    """The near-duplicate fingerprint of a text (base64 MinHash), None if it is too short."""
    sigs, has = _HASHER.signatures([text])
    return encode_signature(sigs[0]) if has[0] else None


def normalise_indicator(kind: str, raw: str, region: str = "US") -> str:
    """An indicator as extraction writes it, or SignalFormatError saying what is expected."""
    raw = raw.strip()
    found: str | None = None
    if kind == ind.DOMAIN:
        host = raw.split("://", 1)[-1].split("/", 1)[0]
        found = ind.registered_domain(host)
    elif kind in (ind.PHONE, ind.WHATSAPP):
        digits = re.sub(r"[\s\-().·_/]", "", ind.nfkc(raw))
        found = ind.e164(digits, region)
    elif kind == ind.WALLET and raw[:4].lower() in ("btc:", "eth:", "trx:"):
        found = _extracted(raw[4:], ind.WALLET)
        found = found if found is not None and found[:4] == raw[:4].lower() else None
    else:
        # the messenger's name in front, so that extraction reads the id the way it does in text
        probe = {ind.WECHAT: "wechat: ", ind.QQ: "qq: ", ind.TELEGRAM: "telegram: "}.get(kind, "")
        found = _extracted(probe + raw.lstrip("@"), kind)
    if found is None:
        raise SignalFormatError(
            f"{raw!r} is not a valid {kind} indicator (expected e.g. "
            f"{_EXAMPLES.get(kind, 'a value as it appears in messages')})"
        )
    return found


_EXAMPLES: Final = {
    ind.URL: "'https://scam.example.com/pay'",
    ind.DOMAIN: "'scam.example.co.uk'",
    ind.PHONE: "'+14155552671' (E.164; a number without + is read in region US)",
    ind.EMAIL: "'payouts@scam.example.com'",
    ind.WECHAT: "'lucky2026'",
    ind.QQ: "'123456789'",
    ind.TELEGRAM: "'@quickcash_bot'",
    ind.WHATSAPP: "'+8613800138000'",
    ind.WALLET: "'eth:0x...' or a BTC/ETH/TRON address",
}


def _extracted(text: str, kind: str) -> str | None:
    values = [i.value for i in _EXTRACTOR.extract(text) if i.type == kind]
    return values[0] if len(values) == 1 else None


def _text_field(row: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise SignalFormatError(f"'{name}' must be a string of at most {limit} characters")
    return value


def parse_signal(
    row: Mapping[str, Any], default_list: str | None = None, now: datetime | None = None
) -> Signal:
    """A validated signal from an import row or a topic record.

    Import rows may give ``text`` instead of ``value`` for text kinds (the fingerprint is
    computed here) and a raw indicator (normalised here). Raises SignalFormatError.
    """
    extra = set(row) - _FIELDS
    if extra:
        raise SignalFormatError(
            f"unknown field(s) {sorted(extra)}; allowed: {', '.join(sorted(_FIELDS))}"
        )
    version = row.get("schema_version", SCHEMA_VERSION)
    if version not in (SCHEMA_VERSION, str(SCHEMA_VERSION)):
        raise SignalFormatError(f"schema_version {version!r} is not supported; use 1")
    name = row.get("list") or default_list
    if not isinstance(name, str) or not LIST_NAME.match(name):
        raise SignalFormatError(
            f"list {name!r} is missing or invalid: give a 'list' column or --list NAME "
            "(lower-case letters, digits, '.', '_', '-'; at most 64)"
        )
    kind = row.get("kind")
    if kind not in KINDS:
        raise SignalFormatError(f"kind {kind!r} must be one of {', '.join(KINDS)}")
    label = row.get("label")
    if label not in LABELS:
        raise SignalFormatError(f"label {label!r} must be one of {', '.join(LABELS)}")
    action = row.get("action") or None
    if action is not None and action not in ACTIONS:
        raise SignalFormatError(f"action {action!r} must be review or block (or empty)")
    value = _text_field(row, "value", 2_000)
    text = _text_field(row, "text", 100_000)
    itype: str | None = None
    if kind == INDICATOR:
        itype = row.get("indicator_type") or None
        if itype not in ind.TYPES:
            raise SignalFormatError(
                f"indicator_type {itype!r} must be one of {', '.join(ind.TYPES)}"
            )
        if value is None:
            raise SignalFormatError("an indicator needs 'value' (the phone, id, URL...)")
        value = normalise_indicator(itype, value)
    else:
        if row.get("indicator_type"):
            raise SignalFormatError(f"indicator_type is only for kind indicator, not {kind}")
        value = _fingerprint(kind, value, text, row.get("algorithm"))
    added_at = _text_field(row, "added_at", 64)
    if added_at is not None:
        try:
            datetime.fromisoformat(added_at.replace("Z", "+00:00"))
        except ValueError:
            raise SignalFormatError(
                f"added_at {added_at!r} is not an ISO 8601 time (e.g. 2026-12-01T10:00:00Z)"
            ) from None
    else:
        added_at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Signal(
        list=name,
        kind=kind,
        value=value,
        label=label,
        indicator_type=itype,
        action=action,
        notes=_text_field(row, "notes", 2_000),
        source=_text_field(row, "source", 200),
        added_at=added_at,
    )


def _fingerprint(kind: str, value: str | None, text: str | None, algorithm: Any) -> str:
    if (value is None) == (text is None):
        raise SignalFormatError(f"a {kind} signal needs either 'text' or 'value' (its fingerprint)")
    expected = EXACT_ALGORITHM if kind == TEXT_EXACT else NEAR_ALGORITHM
    if algorithm not in (None, "", expected):
        raise SignalFormatError(
            f"algorithm {algorithm!r} is not {expected!r}: recompute the fingerprint from the "
            "text, or give 'text'"
        )
    if text is not None:
        found = text_hashes([text])[0] if kind == TEXT_EXACT else text_signature(text)
        if found is None:
            raise SignalFormatError(
                f"text is too short to fingerprint: at least {MIN_TEXT_CHARS} letters or digits"
            )
        return found
    assert value is not None
    if kind == TEXT_EXACT:
        if not re.fullmatch(r"[0-9a-f]{32}", value):
            raise SignalFormatError("a text_exact value is 32 lower-case hex digits (blake2b-128)")
        return value
    try:
        sig = decode_signature(value)
    except ValueError:
        sig = np.zeros(0, np.uint32)
    if len(sig) != _HASHER.num_perm:
        raise SignalFormatError(
            f"a text_near value is the base64 of {_HASHER.num_perm} little-endian uint32 "
            "(flagstream's MinHash); give 'text' to compute it"
        )
    return value
