"""Redaction of PII in the formats customers type, and no over-redaction of ordinary commerce text.

Property-based: hypothesis generates valid cards (Luhn) with the separators people type, non-ASCII
digits and zero-width characters; IBANs (mod 97) in any case with spaces or dashes; US SSNs; IPv4
addresses before punctuation; URL-encoded emails. The secret's digits must never survive, and the
text around it must come back exactly as written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from supportflow.processors.redact import Redaction, redact
from supportflow.processors.redact_ids import IBAN_LENGTHS, issuer_ok, luhn_ok
from supportflow.processors.redact_normalize import normalize
from supportflow.settings import RedactionSettings

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SEPARATORS = [" ", "  ", "\u00a0", "\u202f", "\u3000", ".", "-", "/", "_", " - ", " / ", "\t"]
DIGIT_ZEROS = {"ascii": "0", "fullwidth": "\uff10", "arabic-indic": "\u0660", "devanagari": "\u0966"}

_words = st.lists(st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=10), max_size=5).map(" ".join)


def _compact_digits(text: str) -> str:
    """Every digit of ``text`` as ASCII, in order, after NFKC (what a reader could recover)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(c)) for c in folded if unicodedata.category(c) == "Nd")


def _compact(text: str) -> str:
    """Letters and digits of ``text`` after NFKC, upper case."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if c.isalnum()).upper()


def _assert_replaced_in_place(
    before: str, typed: str, after: str, kind: str, secret: str, compact: Callable[[str], str]
) -> Redaction:
    """``typed`` between two runs of words: ``secret`` gone from ``compact(output)``, one ``[kind]``
    in its place and the rest of the text exactly as written."""
    result = redact(f"{before} {typed} {after}")
    assert secret not in compact(result.text)
    assert result.text == f"{before} [{kind}] {after}"
    return result


def _luhn_complete(partial: str) -> str:
    return next(partial + d for d in "0123456789" if luhn_ok(partial + d))


@st.composite
def _cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "2221", "2720", "34", "37", "6011", "35", "62"]))
    length = 15 if prefix in ("34", "37") else draw(st.sampled_from([16, 16, 19]))
    body = draw(
        st.text(alphabet="0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1)
    )
    return _luhn_complete(prefix + body)


def _grouped(number: str, sep: str) -> str:
    sizes = (
        [4, 6, 5]
        if len(number) == 15
        else [4] * (len(number) // 4) + ([len(number) % 4] if len(number) % 4 else [])
    )
    groups, at = [], 0
    for size in sizes:
        groups.append(number[at : at + size])
        at += size
    return sep.join(groups)


@st.composite
def _typed_card(draw: st.DrawFn) -> tuple[str, str]:
    """(number, how a customer typed it): separators, a digit script, zero-width characters inside."""
    number = draw(_cards())
    shown = _grouped(number, draw(st.sampled_from(SEPARATORS))) if draw(st.booleans()) else number
    scripts = draw(st.lists(st.sampled_from(sorted(DIGIT_ZEROS)), min_size=1, max_size=2))
    chars = [
        chr(ord(DIGIT_ZEROS[draw(st.sampled_from(scripts))]) + int(c)) if c.isdigit() else c for c in shown
    ]
    for _ in range(draw(st.integers(0, 3))):  # inside the number, never at its edges
        chars.insert(draw(st.integers(1, len(chars) - 1)), draw(st.sampled_from(ZERO_WIDTH)))
    return number, "".join(chars)


@settings(max_examples=300, deadline=None)
@given(before=_words, after=_words, card=_typed_card())
def test_redact_typed_card_with_any_separator_script_or_zero_width_never_survives(
    before: str, after: str, card: tuple[str, str]
) -> None:
    number, typed = card
    result = _assert_replaced_in_place(before, typed, after, "CARD", number, _compact_digits)
    assert result.found == {"CARD": 1}


@settings(max_examples=200, deadline=None)
@given(
    before=_words,
    body=st.text(alphabet="0123456789", min_size=15, max_size=15),
    sep=st.sampled_from(SEPARATORS),
)
def test_redact_luhn_invalid_number_with_typed_separators_is_not_a_card(
    before: str, body: str, sep: str
) -> None:
    number = "4" + body
    if luhn_ok(number):
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert "CARD" not in redact(f"{before} ref {_grouped(number, sep)} thanks").found


def _iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    return f"{country}{check:02d}{bban}"


@st.composite
def _typed_iban(draw: st.DrawFn) -> tuple[str, str]:
    country = draw(st.sampled_from(["DE", "GB", "ES", "FR", "NL", "IT", "BE", "AT", "CH", "PL"]))
    bban = draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=IBAN_LENGTHS[country] - 4,
                        max_size=IBAN_LENGTHS[country] - 4))  # fmt: skip
    iban = _iban(country, bban)
    case = draw(st.sampled_from(["upper", "lower", "mixed"]))
    if case == "lower":
        shown = iban.lower()
    elif case == "mixed":
        shown = "".join(c.lower() if draw(st.booleans()) else c for c in iban)
    else:
        shown = iban
    sep = draw(st.sampled_from(["", " ", "  ", "-", "\u00a0", " - "]))
    return iban, sep.join(shown[i : i + 4] for i in range(0, len(shown), 4))


@settings(max_examples=300, deadline=None)
@given(before=_words, after=_words, iban=_typed_iban())
def test_redact_iban_in_any_case_with_spaces_or_dashes_never_survives(
    before: str, after: str, iban: tuple[str, str]
) -> None:
    compact, typed = iban
    _assert_replaced_in_place(before, typed, after, "IBAN", compact, _compact)


@settings(max_examples=200, deadline=None)
@given(
    before=_words,
    area=st.integers(1, 899).filter(lambda n: n != 666),
    group=st.integers(1, 99),
    serial=st.integers(1, 9999),
    sep=st.sampled_from(["-", " ", "."]),
    lead=st.sampled_from(["", "my ssn is ", "SSN: ", "social security number "]),
    end=st.sampled_from(["", ".", ",", " thanks"]),
)
def test_redact_us_ssn_with_dashes_spaces_or_dots_never_survives(
    before: str, area: int, group: int, serial: int, sep: str, lead: str, end: str
) -> None:
    digits = f"{area:03d}{group:02d}{serial:04d}"
    typed = sep.join((digits[:3], digits[3:5], digits[5:]))
    result = redact(f"{before} {lead}{typed}{end}")
    assert digits not in _compact_digits(result.text)
    assert result.found == {"SSN": 1}


@pytest.mark.parametrize("lead", ["SSN ", "ssn: ", "Social Security No. "])
def test_redact_bare_nine_digits_after_ssn_word_redacted_elsewhere_kept(lead: str) -> None:
    assert redact(f"{lead}536224187 thanks").text == f"{lead}[SSN] thanks"
    assert redact("invoice 536224187 thanks").found == {}


@settings(max_examples=300, deadline=None)
@given(
    before=_words,
    octets=st.lists(st.integers(0, 255), min_size=4, max_size=4),
    punct=st.sampled_from([".", ",", "!", "?", ";", ":", ")", "..."]),
    after=st.sampled_from(["", " thanks", "\nnext line"]),
)
def test_redact_ipv4_followed_by_punctuation_never_survives(
    before: str, octets: list[int], punct: str, after: str
) -> None:
    ip = ".".join(map(str, octets))
    result = redact(f"{before} my ip is {ip}{punct}{after}")
    assert ip not in result.text
    assert result.text == f"{before} my ip is [IP]{punct}{after}"


@settings(max_examples=300, deadline=None)
@given(
    before=_words,
    user=st.from_regex(r"[a-z][a-z0-9]{0,6}(?:[._+][a-z0-9]{1,6})?", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(com|de|es|co\.uk)", fullmatch=True),
    encode_all=st.booleans(),
    end=st.sampled_from(["", ".", ",", " please", "&next=1"]),
)
def test_redact_url_encoded_email_never_survives(
    before: str, user: str, domain: str, encode_all: bool, end: str
) -> None:
    encoded_user = user.replace("+", "%2B").replace(".", "%2E") if encode_all else user.replace("+", "%2B")
    typed = f"{encoded_user}%40{domain}"
    result = redact(f"{before} login={typed}{end}")
    assert typed not in result.text and f"{user}@{domain}" not in result.text
    assert domain not in result.text
    assert result.text == f"{before} login=[EMAIL]{end}"


@pytest.mark.parametrize(
    "text",
    [
        "q=hello%20jane.doe%40example.com&x=1",
        "mailto:jane.doe%40example.com",
        "write to jane.doe [at] example.com",
        "write to ｊａｎｅ.doe＠example.com",
    ],
)
def test_redact_encoded_or_spelled_out_at_sign_email_in_context_is_removed(text: str) -> None:
    result = redact(text)
    assert "jane.doe" not in result.text and "ｊａｎｅ" not in result.text
    assert result.found == {"EMAIL": 1}


# Ordinary commerce text: none of it may be redacted.
_order_ids = st.integers(100000, 999999).map(lambda n: f"NW-{n}")
_ups = st.text(alphabet="0123456789ABCDEFGHJKLMNPRSTUVWXYZ", min_size=16, max_size=16).map(
    lambda s: f"UPS 1Z{s}"
)
_tracking = st.tuples(
    st.sampled_from(["tracking", "USPS tracking", "DPD parcel", "shipment", "tracking number:"]),
    st.text(alphabet="0123456789", min_size=20, max_size=22),
).map(" ".join)
_amounts = st.one_of(
    st.integers(1, 9_999_999).map(lambda c: f"${c // 100:,}.{c % 100:02d}"),
    st.integers(1, 99_999).map(lambda c: f"{c // 100}.{c % 100:02d} USD"),
    st.integers(1, 99_999).map(lambda c: f"€{c // 100},{c % 100:02d}"),
)
_dates = st.tuples(
    st.integers(1, 28), st.integers(1, 12), st.integers(2000, 2030), st.sampled_from(["/", ".", "-"])
).map(lambda t: f"{t[0]:02d}{t[3]}{t[1]:02d}{t[3]}{t[2]}" if t[3] != "-" else f"{t[2]}-{t[1]:02d}-{t[0]:02d}")
_times = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]}:{t[1]:02d}")
_order_lines = st.tuples(st.integers(1, 9), st.integers(1000, 9999), st.integers(1, 99)).map(
    lambda t: f"{t[0]} x SKU {t[1]}, qty {t[2]}"
)
_ending = st.integers(0, 9999).map(lambda n: f"card ending {n:04d}")
_commerce = st.lists(
    st.one_of(_order_ids, _ups, _tracking, _amounts, _dates, _times, _order_lines, _ending),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(tokens=_commerce, joiner=st.sampled_from([", ", "; ", " and ", "\n"]))
def test_redact_order_ids_tracking_amounts_dates_and_order_lines_are_not_redacted(
    tokens: list[str], joiner: str
) -> None:
    text = "Order status: " + joiner.join(tokens)
    result = redact(text)
    assert result.text == text
    assert result.found == {}


@pytest.mark.parametrize(
    "text",
    [
        "placed 2024-03-25 2024-03-26 2024-03-27, shipped 2024-03-28",
        "between 25.03.2024 26.03.2024 and 27/03/2024 28/03/2024",
        "servers 40.112.72.205 10.0.0.12",
        "version 1.2.3.4.5 of the app",
        "ref 1234-4111-1111-1111-1111",
        "NW-4000000000000002 is my order",
    ],
)
def test_redact_dates_ips_versions_and_glued_ids_do_not_add_up_to_a_card(text: str) -> None:
    assert "CARD" not in redact(text).found


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(["order", "NW-100231", "shipped", "$68.00", "2024-03-15", "café", "Ｔｈａｎｋｓ"]),
        max_size=8,
    ),
    marks=st.lists(st.tuples(st.integers(0, 200), st.sampled_from(ZERO_WIDTH)), max_size=4),
)
def test_redact_text_with_zero_width_and_fullwidth_letters_but_no_pii_is_unchanged(
    words: list[str], marks: list[tuple[int, str]]
) -> None:
    chars = list(" ".join(words))
    for at, mark in marks:
        chars.insert(min(at, len(chars)), mark)
    text = "".join(chars)
    assert redact(text).text == text


def test_normalize_maps_view_spans_back_to_original_offsets() -> None:
    text = "card ４１１１\u200b1111 e\u0301 x"
    view = normalize(text)
    assert view.text == "card 41111111 é x"
    start = view.text.index("4")
    assert view.original_span(start, start + 8) == (5, 14)
    assert normalize("plain ascii").starts is None and normalize("café").starts is None


def test_redact_spans_are_offsets_in_the_original_text() -> None:
    text = "mail ｊａｎｅ@example.com or card 4111\u00a01111\u00a01111\u00a01111."
    result = redact(text)
    assert [kind for *_, kind in result.spans] == ["EMAIL", "CARD"]
    assert [text[s:e] for s, e, _ in result.spans] == [
        "ｊａｎｅ@example.com",
        "4111\u00a01111\u00a01111\u00a01111",
    ]


def test_redact_configured_id_pattern_and_national_ids_setting() -> None:
    config = RedactionSettings(
        national_ids=("NINO", "DNI"), id_patterns={"MEMBER": r"member (?P<id>M-[0-9]{6})"}
    )
    result = redact("member M-123456, NI JG 10 37 59 A, DNI 12345678Z, ssn 536-22-4187", settings=config)
    assert result.text == "member [MEMBER], NI [NINO], DNI [DNI], ssn 536-22-4187"
    assert redact("DNI 12345678A", settings=config).found == {}  # wrong check letter


@pytest.mark.parametrize(
    ("patterns", "message"),
    [({"member": "x"}, "must be A-Z"), ({"MEMBER": "(unclosed"}, "not a valid regex")],
)
def test_redaction_settings_bad_id_pattern_raises_clear_error(patterns: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RedactionSettings(id_patterns=patterns)


def test_issuer_and_luhn_helpers_agree_with_known_test_numbers() -> None:
    for number in ("4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"):
        assert issuer_ok(number) and luhn_ok(number)
