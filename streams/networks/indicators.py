"""Indicators: the contact points and links a message carries, normalised so that copies meet.

What spammers write to get past exact matching is undone first: full-width characters and
digits (NFKC), Chinese numerals in long digit runs, "dot"/"点"/"[.]" between name parts,
"(at)"/"[at]" in e-mail addresses, and separators between digits. Then:

- ``url``: scheme-less lower-case host and path (no query, no fragment); ``domain``: its
  registered domain (the public suffix plus one label), from the bundled Public Suffix List
  snapshot of ``publicsuffixlist`` (no network). Bare domains count only with a known suffix.
- ``phone``: E.164 (``phonenumbers``, valid numbers only); a run without ``+`` is read in the
  region the text suggests (CJK text: ``CN``, else ``default_region``).
- ``email``: lower-case address.
- ``wechat`` / ``qq`` / ``telegram`` / ``whatsapp``: the id after a messenger's name, written
  the ways spammers write it (微信, 威信, 薇, V信, VX, WX, 加V; QQ, 扣扣, 企鹅; TG, 电报, 飞机,
  t.me/; WhatsApp, wa.me/). A WhatsApp id is its E.164 number.
- ``wallet``: Bitcoin (base58check or bech32), Ethereum (0x + 40 hex, lower-cased) and Tron
  (base58check, ``T``...), prefixed by the chain: ``btc:...``, ``eth:...``, ``trx:...``.

Extraction is pure. The common text, with none of what the patterns need (7 digits, a run of
26 letters and digits, a "x.y", a "dot", a messenger's name), is told apart with one regex search
and a few C-speed counts, in a couple of microseconds (``python -m bench.indicators_cost``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Final

import phonenumbers
from publicsuffixlist import PublicSuffixList

URL: Final = "url"
DOMAIN: Final = "domain"
PHONE: Final = "phone"
EMAIL: Final = "email"
WECHAT: Final = "wechat"
QQ: Final = "qq"
TELEGRAM: Final = "telegram"
WHATSAPP: Final = "whatsapp"
WALLET: Final = "wallet"
TYPES: Final = (URL, DOMAIN, PHONE, EMAIL, WECHAT, QQ, TELEGRAM, WHATSAPP, WALLET)

_LENIENCY: Final = phonenumbers.Leniency.VALID
_E164: Final = phonenumbers.PhoneNumberFormat.E164
MAX_PER_TEXT: Final = 16  # a text listing hundreds of links is spam anyway; bound the work


@dataclass(frozen=True, slots=True, order=True)
class Indicator:
    """One normalised indicator; ``key`` is what state and signal lists are keyed by."""

    type: str
    value: str

    @property
    def key(self) -> str:
        return f"{self.type}:{self.value}"


_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_DIGIT = re.compile(r"[0-9〇零一二三四五六七八九]")  # the digits a phone number is read from
_ASCII_DIGITS = b"0123456789"
_CJK = re.compile(r"[\u3400-\u9fff]")
# cheap gates: most texts carry no indicator, and one search tells which patterns can match
_URL_HINT = re.compile(r"[a-z0-9]\.[a-z]|://")
_AT_HINT = re.compile(r"\sat\s|[\(\[\{<]\s*at\s*[\)\]\}>]|@|＠")
_MESSENGER_HINT = re.compile(
    r"(?<![a-z])(?:v(?![a-z])|vx|wx|qq|tg|weixin|wechat|telegram|whats|wsp|wa\.me|t\.me)"
    r"|微|威|薇|徽|维|扣扣|企鹅|电报|飞机|q\s*q|加\s*v|\+\s*v"
)
# how every match of _WECHAT, _QQ, _TELEGRAM and _WHATSAPP begins (a bare "v" only as they read
# it: "v信", "v:", "v 138..."), and nothing more: not a lone 微, 威 or 维 (微笑, 权威, 思维), which
# _MESSENGER_HINT lets through. Each alternative starts with a literal character (so that the
# search skips from one candidate to the next at C speed), a rare one where it can: "tg" and
# "telegram" are found at their "g" (English has a "t" in every other word)
_MESSENGER_NAMES = (
    r"w(?:x|sp|hats|eixin|echat)|v(?:信|x|\s*[:：=]|\s+\d)|g(?<=tg)|g(?<=teleg)ram|q\s*q"
    r"|\.me/|\+\s*v|微(?:信|\s*x)|威信|徽信|维信|薇|加\s*v|扣扣|企鹅|电报|飞机"
)
_MESSENGER_NAME = re.compile(_MESSENGER_NAMES)
# what else an indicator needs, in the text before dots are undone: a url, a "x.y" or a "://"
# (_URL_HINT), an e-mail address, a "x.yz" in its host; or what undoing dots makes one of
# ("dot", "点", a "." in brackets: _DOT); or a messenger's name. A text with none of them and
# without 7 digits or a wallet's run carries no indicator
_MAY_CARRY = re.compile(r"\.(?:(?<=[a-z0-9-]\.)[a-z]|\s*[\)\]\}>])|://|dot|点|" + _MESSENGER_NAMES)
# a wallet needs a run of 26 ASCII letters and digits ([0-9A-Za-z]{26}); in UTF-8 each of them
# is one byte below 0x80 and every other character is bytes from 0x80 up, so the run is one of
# 26 "a" in the text's UTF-8 with those bytes made "a" and all others " " (C speed, no regex)
_ALNUM_BYTES: Final = bytes(
    ord("a") if chr(b).isascii() and chr(b).isalnum() else ord(" ") for b in range(256)
)
_ALNUM_RUN: Final = b"a" * 26
# obfuscated separators: "example dot com", "example(dot)com", "example[.]com", "example 点 com"
_DOT = re.compile(
    r"(?<=[a-z0-9])\s*(?:[\(\[\{<]\s*(?:dot|点|\.)\s*[\)\]\}>]|\s(?:dot|点)\s|点)\s*(?=[a-z0-9])"
)
_AT = re.compile(r"(?<=[a-z0-9])\s*(?:[\(\[\{<]\s*(?:at|@)\s*[\)\]\}>]|\sat\s|＠)\s*(?=[a-z0-9])")
# separators a phone number may be written with, between two digits
_DIGIT_SEP = re.compile(r"(?<=\d)[\s\-\.·_/]{1,3}(?=\d)")
_DIGIT_RUN = re.compile(r"(?<![0-9a-z_+])(\+?\d{7,15})(?!\d)")
# what phonenumbers' matcher can read as a number: 6+ digits with at most 4 of its separators
# (punctuation, spaces, "x") between two of them (no valid number has fewer digits); a text
# without such a run is not handed to it (its scan costs ~0.5 ms a text with digits)
_PHONE_SHAPE = re.compile(r"\d(?:[\W_x]{0,4}\d){5,}")

_URL = re.compile(
    r"(?:(?:https?://)|(?:www\.))[^\s<>\"'，。、）)]+"
    r"|(?<![@\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}"
    r"(?:/[^\s<>\"'，。、）)]*)?"
)
_EMAIL = re.compile(r"(?<![\w.+-])([a-z0-9][a-z0-9._%+-]{0,63})@((?:[a-z0-9-]+\.)+[a-z]{2,63})")

_SEP = r"\s*(?:号|號|id|账号|帐号)?\s*[:：=\-]?\s*"
_WECHAT = re.compile(
    r"(?<![a-z])(?:(?:微信|威信|薇信|徽信|维信|微\s*x\s*i\s*n|weixin|wechat|v信|vx|wx|加\s*v|\+\s*v)"
    + _SEP
    # a bare "v" or "薇" only with a separator: "v: lucky2026", "v 13800138000", "薇 lucky"
    + r"|(?:v|薇)\s*[:：=]\s*|v\s+(?=\d)|薇\s*)"
    + r"([a-z][-_a-z0-9]{5,19}|\+?\d{6,15})(?![\w])"
)
_QQ = re.compile(r"(?<![a-z])(?:qq|扣扣|企鹅|q\s*q群|qq群)" + _SEP + r"([1-9]\d{4,11})(?!\d)")
_TELEGRAM = re.compile(
    r"(?:t\.me/|telegram\.me/)@?([a-z][a-z0-9_]{4,31})"
    r"|(?<![a-z])(?:telegram|tg|电报|纸飞机|飞机)" + _SEP + r"@?([a-z][a-z0-9_]{4,31})(?![\w])"
)
_WHATSAPP = re.compile(
    r"wa\.me/(\+?\d{7,15})|(?<![a-z])(?:whatsapp|whats\s*app|wsp)" + _SEP + r"(\+?\d{7,15})"
)

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_BASE58)}
# wallets are matched on the NFKC text before lower-casing: base58 is case-sensitive
_WALLET = re.compile(
    r"(?<![0-9A-Za-z])(?:(0x[0-9a-fA-F]{40})|(bc1[02-9ac-hj-np-z]{11,71})"
    r"|([13][1-9A-HJ-NP-Za-km-z]{25,34})|(T[1-9A-HJ-NP-Za-km-z]{33}))(?![0-9A-Za-z])"
)


@cache
def _psl() -> PublicSuffixList:
    # the snapshot bundled with the package: no download at run time
    return PublicSuffixList(accept_unknown=False)


# full-width punctuation of Chinese text, each with its compatibility decomposition: the comma
# first, as the one most texts carry
_WIDE_COMMA: Final = ("，", unicodedata.normalize("NFKD", "，"))
_WIDE_PUNCT: Final = tuple((c, unicodedata.normalize("NFKD", c)) for c in "！？：；（）")


def nfkc(text: str) -> str:
    """NFKC (full-width to ASCII...); ASCII text is its own NFKC, and most text is ASCII.

    Everyday Chinese text is NFKC but for its full-width punctuation, which would send it to
    the full normalisation. A character replaced by its compatibility decomposition leaves the
    NFKC of the text as it is: once that punctuation is replaced, a text the quick check finds
    normalised is its own NFKC, at a fifth of the cost of normalising it.
    """
    if text.isascii():
        return text
    narrow = text.replace(*_WIDE_COMMA)
    if unicodedata.is_normalized("NFKC", narrow):
        return narrow
    for wide, plain in _WIDE_PUNCT:
        narrow = narrow.replace(wide, plain)
    if unicodedata.is_normalized("NFKC", narrow):
        return narrow
    return unicodedata.normalize("NFKC", narrow)


def normalise_dots(text: str) -> str:
    """NFKC, lower case, obfuscated dots undone (the text the patterns read)."""
    return _undo_dots(nfkc(text).lower())


def _undo_dots(folded: str) -> str:
    if "dot" in folded or "点" in folded or "[" in folded or "(" in folded:
        folded = _DOT.sub(".", folded)
    return folded


def normalise_ats(folded: str) -> str:
    """Obfuscated ats undone, for e-mail addresses only: " at " is also plain English."""
    if "at" in folded or "＠" in folded:
        return _AT.sub("@", folded)
    return folded


@functools.lru_cache(maxsize=65_536)  # the same few domains come back again and again
def registered_domain(host: str) -> str | None:
    """``a.b.example.co.uk`` → ``example.co.uk``; None for an unknown suffix or a bare suffix."""
    host = host.strip(".").lower()
    if not host or "." not in host:
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    found: str | None = _psl().privatesuffix(host)
    return found


def _wallet_run(normal: str) -> bool:
    """Whether ``normal`` has a run of 26 ASCII letters and digits (what _WALLET needs)."""
    if len(normal) < 26:
        return False
    return _ALNUM_RUN in normal.encode("utf-8", "surrogatepass").translate(_ALNUM_BYTES)


def _named(text: str) -> bool:
    """Whether the messenger patterns can match ``text`` and have always been tried on it.

    _MESSENGER_NAME is where a match can begin; _MESSENGER_HINT, the gate the patterns have
    always sat behind, asks in places for more ("t.me/" with no letter in front, which
    _TELEGRAM does not ask for): both must pass, for every text to keep its indicators.
    """
    return _MESSENGER_NAME.search(text) is not None and _MESSENGER_HINT.search(text) is not None


def _base58check(address: str) -> bytes | None:
    number = 0
    for char in address:
        number = number * 58 + _B58_INDEX[char]
    raw = number.to_bytes(25, "big") if number.bit_length() <= 200 else b""
    if len(raw) != 25:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return payload


def _wallets(nfkc: str, out: set[Indicator]) -> None:
    for eth, bech, legacy, tron in _WALLET.findall(nfkc):
        if eth:
            out.add(Indicator(WALLET, f"eth:{eth.lower()}"))
        elif bech:
            out.add(Indicator(WALLET, f"btc:{bech.lower()}"))
        elif legacy and _base58check(legacy) is not None:
            out.add(Indicator(WALLET, f"btc:{legacy}"))
        elif tron and (payload := _base58check(tron)) is not None and payload[0] == 0x41:
            out.add(Indicator(WALLET, f"trx:{tron}"))


def e164(number: str, region: str | None) -> str | None:
    """A valid phone number in E.164, or None."""
    try:
        parsed = phonenumbers.parse(number, None if number.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    formatted: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def _urls(text: str, out: set[Indicator]) -> None:
    for match in _URL.finditer(text):
        raw = match.group(0).rstrip(".,;:!?")
        rest = raw.split("://", 1)[-1]
        host, _, path = rest.partition("/")
        host = host.rsplit("@", 1)[-1].split(":", 1)[0]
        domain = registered_domain(host)
        if domain is None:
            continue
        if host.startswith("www."):
            host = host[4:]
        path = path.split("#", 1)[0].split("?", 1)[0].rstrip("/")
        out.add(Indicator(DOMAIN, domain))
        out.add(Indicator(URL, f"{host}/{path}" if path else host))


class IndicatorExtractor:
    """Extracts the indicators of texts; ``default_region`` reads numbers written without ``+``."""

    __slots__ = ("_region",)

    def __init__(self, default_region: str = "US") -> None:
        self._region = default_region

    def extract(self, text: str) -> list[Indicator]:
        """The distinct indicators of ``text``, sorted, at most ``MAX_PER_TEXT``."""
        if not text:
            return []
        normal = nfkc(text)
        lowered = normal.lower()
        # a phone number needs at least 7 digits (Chinese numerals count); undoing the dots
        # adds and removes none, so the normal text's count is the folded text's. Every wallet
        # has an ASCII digit ("0x", "bc1", "1...", "3...") or is Tron's ("T...")
        if normal.isascii():
            digits = len(normal) - len(normal.encode().translate(None, _ASCII_DIGITS))
            may_wallet = digits > 0
        else:
            found = _DIGIT.findall(normal)
            digits = len(found)
            may_wallet = digits > 0 and min(found) <= "9"  # Chinese numerals sort after
        has_digit = digits >= 7
        has_wallet = (may_wallet or "T" in normal) and _wallet_run(normal)
        if not (has_digit or has_wallet or _MAY_CARRY.search(lowered)):
            return []  # the common text: nothing any pattern needs
        folded = _undo_dots(lowered)
        out: set[Indicator] = set()
        if ("." in folded or "/" in folded) and _URL_HINT.search(folded):
            _urls(folded, out)
        if "." in folded:  # an e-mail address has a dot in its host, and undoing ats adds none
            at_folded = normalise_ats(folded) if _AT_HINT.search(folded) else folded
            if "@" in at_folded:
                for user, host in _EMAIL.findall(at_folded):
                    if registered_domain(host) is not None:
                        out.add(Indicator(EMAIL, f"{user}@{host}"))
        if has_digit:
            region = self._region_of(folded)
            digits_text = folded.translate(_CN_DIGITS)
            # numbers as people write them ("+1 (415) 555-2671"), then as spammers do
            # ("1 3 8 0 0 1 3 8 0 0 0", "138-0013-8000"): separators between digits removed
            if _PHONE_SHAPE.search(digits_text):
                for match in phonenumbers.PhoneNumberMatcher(digits_text, region, _LENIENCY):
                    matched: str = phonenumbers.format_number(match.number, _E164)
                    out.add(Indicator(PHONE, matched))
            compact = _DIGIT_SEP.sub("", digits_text)
            for run in _DIGIT_RUN.findall(compact):
                if (number := e164(run, region)) is not None:
                    out.add(Indicator(PHONE, number))
            if _named(compact):
                self._messengers(compact, region, out)
        elif _named(folded):
            self._messengers(folded, self._region_of(folded), out)
        if has_wallet:
            _wallets(normal, out)
        return sorted(out)[:MAX_PER_TEXT] if out else []

    def _region_of(self, folded: str) -> str:
        return "CN" if _CJK.search(folded) else self._region

    def _messengers(self, text: str, region: str, out: set[Indicator]) -> None:
        for wid in _WECHAT.findall(text):
            out.add(Indicator(WECHAT, wid.lstrip("+")))
        for qid in _QQ.findall(text):
            out.add(Indicator(QQ, qid))
        for link, named in _TELEGRAM.findall(text):
            out.add(Indicator(TELEGRAM, link or named))
        for link, named in _WHATSAPP.findall(text):
            # wa.me/ links carry the international number without its "+"
            number = e164("+" + link.lstrip("+"), region) if link else e164(named, region)
            if number is not None:
                out.add(Indicator(WHATSAPP, number))
