"""Indicators in English and Chinese, as spammers write them."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
import pytest

from streams.networks.indicators import IndicatorExtractor, _wallet_run, nfkc, registered_domain


@pytest.fixture(scope="module")
def extract() -> IndicatorExtractor:
    return IndicatorExtractor(default_region="US")


def keys(extractor: IndicatorExtractor, text: str) -> list[str]:
    return [i.key for i in extractor.extract(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me at +1 (415) 555-2671", "phone:+14155552671"),
        ("call 415 555 2671 today", "phone:+14155552671"),  # default region, spaces
        ("call me +1 415 555 2671 (3)", "phone:+14155552671"),  # a number next to it
        ("call 1 4 1 5 5 5 5 2 6 7 1", "phone:+14155552671"),  # a space between every digit
        ("电话 138 0013 8000", "phone:+8613800138000"),  # CJK text: read in CN
        ("打 １３８００１３８０００ 咨询", "phone:+8613800138000"),  # full-width digits
        ("电话 一三八 零零一三 八零零零", "phone:+8613800138000"),  # Chinese numerals
        ("whatsapp +44 7911 123456", "whatsapp:+447911123456"),
        ("wa.me/447911123456", "whatsapp:+447911123456"),
    ],
)
def test_phones(extract: IndicatorExtractor, text: str, expected: str) -> None:
    assert expected in keys(extract, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加微信 abc_12345 领取红包", "wechat:abc_12345"),
        ("VX：wx_scam888", "wechat:wx_scam888"),
        ("薇：lucky2026 免费送", "wechat:lucky2026"),
        ("威信号: Money_Tree8", "wechat:money_tree8"),
        ("add me on wechat: jobs_online", "wechat:jobs_online"),
        ("+V 13800138000 领奖", "wechat:13800138000"),
        ("加v: lucky_star 送礼", "wechat:lucky_star"),
        ("v 13800138000", "wechat:13800138000"),
        ("QQ号：１２３４５６７８９", "qq:123456789"),
        ("扣扣 88886666 进群", "qq:88886666"),
        ("telegram: @cryptoking", "telegram:cryptoking"),
        ("join t.me/freegift_bot now", "telegram:freegift_bot"),
        ("纸飞机 @money_maker 联系", "telegram:money_maker"),
        ("TG：@Airdrop_Boss", "telegram:airdrop_boss"),
    ],
)
def test_messengers(extract: IndicatorExtractor, text: str, expected: str) -> None:
    assert expected in keys(extract, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "see https://www.Example.co.uk/path/x?utm=1#top",
            {"domain:example.co.uk", "url:example.co.uk/path/x"},
        ),
        ("visit bit dot ly/abc now", {"domain:bit.ly", "url:bit.ly/abc"}),
        ("go to scam-site(dot)com", {"domain:scam-site.com", "url:scam-site.com"}),
        ("go to scam-site[.]com", {"domain:scam-site.com"}),
        ("打开 gift点shop 领取", {"domain:gift.shop"}),
        (
            "ｈｔｔｐｓ：／／ｐａｙ．ｅｘａｍｐｌｅ．ｃｏｍ／ｘ",
            {"domain:example.com", "url:pay.example.com/x"},
        ),
        ("login at secure.paypal.com.verify-account.net/", {"domain:verify-account.net"}),
    ],
)
def test_urls_reduce_to_registered_domains(
    extract: IndicatorExtractor, text: str, expected: set[str]
) -> None:
    assert expected <= set(keys(extract, text))


def test_emails_with_obfuscated_at_and_dot(extract: IndicatorExtractor) -> None:
    assert "email:john.doe@gmail.com" in keys(extract, "mail john.doe (at) gmail dot com")
    assert "email:win@prize.cn" in keys(extract, "联系 WIN＠prize.cn")
    assert "email:a.b@example.org" in keys(extract, "write to a.b@example.org.")


def test_wallets_are_checksummed(extract: IndicatorExtractor) -> None:
    assert keys(extract, "send 0x52908400098527886E0F7030069857D2E4169EE7") == [
        "wallet:eth:0x52908400098527886e0f7030069857d2e4169ee7"
    ]
    assert keys(extract, "btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa") == [
        "wallet:btc:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    ]
    assert keys(extract, "USDT TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t") == [
        "wallet:trx:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    ]
    assert "wallet:btc:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" in keys(
        extract, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    )
    # one character changed: the checksum fails, nothing is extracted
    assert keys(extract, "btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb") == []


@pytest.mark.parametrize(
    "text",
    [
        "happy new year everyone!",
        "I review: abcdef12 and the polka dot dress",
        "I love vacations and very good food, v nice",
        "that is what I said at the meeting",
        "新年快乐，万事如意",
        "the meeting is at 10.30 in room 4",
        "my order 12345 arrived",
        "",
    ],
)
def test_benign_texts_carry_no_indicator(extract: IndicatorExtractor, text: str) -> None:
    assert keys(extract, text) == []


def test_the_same_contact_written_differently_meets(extract: IndicatorExtractor) -> None:
    variants = [
        "电话13800138000",
        "電話: 138-0013-8000",
        "tel +86 138 0013 8000",
        "１３８ ００１３ ８０００ 微",
    ]
    found = [set(keys(extract, v)) for v in variants]
    assert all("phone:+8613800138000" in f for f in found)


def test_registered_domain() -> None:
    assert registered_domain("a.b.example.co.uk") == "example.co.uk"
    assert registered_domain("user.github.io") == "user.github.io"  # a private suffix
    assert registered_domain("co.uk") is None
    assert registered_domain("example.notatld") is None


ETH = "0x52908400098527886E0F7030069857D2E4169EE7"
ETH_KEY = "wallet:eth:0x52908400098527886e0f7030069857d2e4169ee7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the 7-digit gate: below it messengers are read in the folded text, from it in the
        # compact one; Chinese numerals and full-width digits count
        ("qq 123456", ["qq:123456"]),
        ("qq 1234567", ["qq:1234567"]),
        ("扣扣 一二三四五六七", ["qq:1234567"]),
        ("扣扣 一二三四五六", []),  # six Chinese numerals are not read as digits
        ("ＱＱ １２３４５６７", ["qq:1234567"]),
        # the wallet gate: a run of 26 ASCII letters and digits, wherever it ends
        (f"转账{ETH}谢谢", [ETH_KEY]),
        (ETH, [ETH_KEY]),
        (f"send {ETH[:24]}é{ETH[24:]}", []),  # a non-ASCII letter breaks the run
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", ["wallet:trx:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"]),
        # no "." nor "/" until dots are undone
        ("go to scam-site dot com", ["domain:scam-site.com", "url:scam-site.com"]),
        ("example[.]com", ["domain:example.com", "url:example.com"]),
        ("ｇｉｆｔ．ｓｈｏｐ", ["domain:gift.shop", "url:gift.shop"]),
        ("write to a@my-.shop", ["email:a@my-.shop"]),  # a host label ending in "-"
        (
            "mail john (at) gmail dot com",
            ["domain:gmail.com", "email:john@gmail.com", "url:gmail.com"],
        ),
    ],
)
def test_texts_at_the_gates_boundaries(
    extract: IndicatorExtractor, text: str, expected: list[str]
) -> None:
    assert keys(extract, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every way a messenger's name is written, in a text without digits or dots
        ("微 x i n lucky_star", "wechat:lucky_star"),
        ("微信号：lucky_star", "wechat:lucky_star"),
        ("薇lucky_star", "wechat:lucky_star"),
        ("v=lucky_star", "wechat:lucky_star"),
        ("v：lucky_star", "wechat:lucky_star"),
        ("v信 lucky_star", "wechat:lucky_star"),
        ("加 V lucky_star", "wechat:lucky_star"),
        ("tg cryptoking", "telegram:cryptoking"),
        ("Telegram: @Cryptoking", "telegram:cryptoking"),
        ("电报 @cryptoking", "telegram:cryptoking"),
        ("q q群 12345", "qq:12345"),
    ],
)
def test_messenger_names_without_digits_or_dots(
    extract: IndicatorExtractor, text: str, expected: str
) -> None:
    assert keys(extract, text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        # 微, 威 and 维 in everyday words, a bare "v" that is no name
        "微笑着说 lucky_star",
        "思维 lucky_star",
        "权威 lucky_star",
        "v lucky_star",
        "I said: v = good",
    ],
)
def test_messenger_lookalikes_carry_no_indicator(extract: IndicatorExtractor, text: str) -> None:
    assert keys(extract, text) == []


def test_links_inside_a_word_are_no_messenger(extract: IndicatorExtractor) -> None:
    # "t.me/" and "wa.me/" count only at the start of a word: the links stay urls
    assert keys(extract, "see chat.me/abcdef") == ["domain:chat.me", "url:chat.me/abcdef"]
    assert keys(extract, "twa.me/447911123456") == ["domain:twa.me", "url:twa.me/447911123456"]
    assert "whatsapp:+447911123456" in keys(extract, "wa.me/447911123456")


@pytest.mark.parametrize(
    "text",
    [
        "今天早上我妈妈做了一锅红烧肉，心情特别好",
        "新年快乐！万事如意",
        "你好？（真的）：是；",
        "电话：１３８００１３８０００，谢谢！",  # full-width digits after the punctuation
        "，\u0301",  # a combining mark after a full-width comma
        "Ａ\u030a，",  # composes once narrowed
        "ｶﾞｷﾞ，",  # half-width kana compose
        "\u1100\u1161，",  # Hangul jamo compose
        "ﬁ ① ㎝ ²，",
        "happy new year 🎉",
        "\ud800，",  # a lone surrogate
    ],
)
def test_nfkc_is_unicode_nfkc(text: str) -> None:
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 25,
        "a" * 26,
        "x " + "a" * 25 + " y",
        "x " + "a" * 26,
        "é" + "A1" * 13 + "é",
        "é" + "A1" * 12 + "Aé",
        "\ud800" + "a" * 26,
        "ａ" * 30,  # full-width: no ASCII
        "中" * 26,
    ],
)
def test_wallet_run_is_a_run_of_26_ascii_letters_and_digits(text: str) -> None:
    assert _wallet_run(text) == (re.search("[0-9A-Za-z]{26}", text) is not None)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("niue: +683 888 4012", "+6838884012"),  # 7 digits of number after its country code
        ("ring (415) 555-0134 today", "+14155550134"),
        ("+1 (415) 555 - 0134", "+14155550134"),  # four separators between two digits
        ("tel:+683-888-4012 x123", "+6838884012"),
    ],
)
def test_numbers_the_matcher_reads_pass_its_gate(text: str, phone: str) -> None:
    assert f"phone:{phone}" in {i.key for i in IndicatorExtractor("US").extract(text)}


def test_digits_that_cannot_be_a_number_skip_the_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> None:
        raise AssertionError("the matcher was asked")

    monkeypatch.setattr(phonenumbers, "PhoneNumberMatcher", fail)
    # 7 digits in all, no run of 6: "text WIN to 80085", a price, a year
    assert IndicatorExtractor("US").extract("text WIN to 80085 for $5000 in 2026") == []
