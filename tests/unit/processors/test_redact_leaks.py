"""Red-team findings on redaction: formats that leaked, and commerce ids that were over-redacted.

Property-based where the format is generative: IBANs of every registry country typed with any
separator and followed by a word; cards with unicode dashes, line breaks, encoded spaces and glued
to words or URL paths; French phones with dots; emails with RFC 5322 characters in the user part;
SSNs after "SSN is"/"ssn="; CRM names typed without accents or umlauts; valid phone numbers after a
commerce word (kept) and after "call me" (redacted).
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportflow.processors.redact import redact, redact_customer_terms
from supportflow.processors.redact_ids import IBAN_LENGTHS, luhn_ok
from supportflow.schemas.models import CustomerContext

_words = st.lists(st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=10), max_size=4).map(" ".join)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _compact(text: str) -> str:
    """Letters and digits of ``text`` after NFKC, upper case: what a reader could recover."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if c.isalnum()).upper()


# --- M2: IBANs ------------------------------------------------------------------------------------


def _iban(country: str, bban: str) -> str:
    check = 98 - int((bban + country + "00").translate({ord(c): str(int(c, 36)) for c in _ALNUM[:26]})) % 97
    return f"{country}{check:02d}{bban}"


@st.composite
def _typed_iban(draw: st.DrawFn) -> tuple[str, str]:
    """(IBAN, as typed): any registry country, grouped by 4 with any separator, or a slash after the
    country code, or compact; upper or lower case; maybe glued to a leading "IBAN" or line-wrapped."""
    country = draw(st.sampled_from(sorted(IBAN_LENGTHS)))
    length = IBAN_LENGTHS[country] - 4
    iban = _iban(country, draw(st.text(alphabet=_ALNUM, min_size=length, max_size=length)))
    shown = iban.lower() if draw(st.booleans()) else iban
    layout = draw(st.sampled_from(["groups", "slash", "compact", "wrapped"]))
    if layout == "groups":
        sep = draw(st.sampled_from([" ", "  ", "-", "\u2013", "\u2010", "\u00a0", " - ", ".", "\u2212"]))
        shown = sep.join(shown[i : i + 4] for i in range(0, len(shown), 4))
    elif layout == "slash":
        shown = f"{shown[:4]}/{shown[4:]}"
    elif layout == "wrapped":
        groups = [shown[i : i + 4] for i in range(0, len(shown), 4)]
        shown = " ".join(groups[:3]) + "\n" + " ".join(groups[3:])
    return iban, ("IBAN" + shown if draw(st.booleans()) else shown)


@settings(max_examples=400, deadline=None)
@given(
    before=_words, iban=_typed_iban(), after=st.sampled_from(["thanks", "please", "ok.", "gracias", "merci"])
)
def test_ibans_any_registry_country_and_separator_followed_by_a_word_never_survive(
    before: str, iban: tuple[str, str], after: str
) -> None:
    compact, typed = iban
    result = redact(f"{before} {typed} {after}")
    assert compact[4:] not in _compact(result.text)
    label = "IBAN" if typed.startswith("IBAN") else ""
    assert result.text == f"{before} {label}[IBAN] {after}"  # the word after it stays


def test_ibans_registry_table_has_every_swift_registry_country() -> None:
    assert len(IBAN_LENGTHS) == 89
    leaked_before = {"SA": 24, "AE": 23, "QA": 29, "RU": 33, "IL": 23, "KZ": 20, "EG": 29, "VA": 22, "XK": 20}
    assert {country: IBAN_LENGTHS.get(country) for country in leaked_before} == leaked_before


def test_ibans_unregistered_country_code_is_checked_at_each_group_boundary() -> None:
    # Algeria (iban.com experimental list, not in the SWIFT registry): upper case, then a word.
    iban = _iban("DZ", "0002100001113000000570")
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert redact(f"virement sur {grouped} merci").text == "virement sur [IBAN] merci"


# --- M3: cards ------------------------------------------------------------------------------------


@st.composite
def _visa(draw: st.DrawFn) -> str:
    body = "4" + draw(st.text(alphabet="0123456789", min_size=14, max_size=14))
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


_CARD_SEPARATORS = [
    "\u2013", "\u2010", "\u2014", "\u2212", "    ", "%20", "=20", "&nbsp;", "\n", " \n", "-\n", "=\n",
]  # fmt: skip
_GLUED = [
    ("card-", ""),
    ("card_", ""),
    ("n\u00ba", ""),
    ("no.", ""),
    ("/cards/", "/edit"),
    ("", "exp"),
    ("x", ","),
]


@settings(max_examples=300, deadline=None)
@given(
    before=_words,
    after=_words,
    number=_visa(),
    sep=st.sampled_from(_CARD_SEPARATORS),
    glued=st.sampled_from(_GLUED),
    grouped=st.booleans(),
)
def test_cards_unicode_dash_wrapped_encoded_or_glued_never_survive(
    before: str, after: str, number: str, sep: str, glued: tuple[str, str], grouped: bool
) -> None:
    shown = sep.join(number[i : i + 4] for i in range(0, 16, 4)) if grouped else number
    prefix, suffix = glued
    result = redact(f"{before} {prefix}{shown}{suffix} {after}")
    assert number not in "".join(c for c in result.text if c.isdigit())
    assert result.text == f"{before} {prefix}[CARD]{suffix} {after}"


def test_cards_glued_after_letters_that_read_as_an_iban_stay_cards() -> None:
    # Found by the property test above: "no" + the card's first 13 digits is a valid Norwegian IBAN.
    result = redact(" n\u00ba4191062764617008 ")
    assert result.text == " n\u00ba[CARD] " and result.found == {"CARD": 1}


# --- M4: phones -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    digits=st.integers(0, 99_999_999),
    style=st.sampled_from(["0{}", "+33.{}", "+33 {}"]),
    mobile=st.sampled_from(["6.12", "6.45", "7.81"]),
)
def test_phones_french_numbers_with_dots_are_redacted_not_protected_as_dates(
    digits: int, style: str, mobile: str
) -> None:
    rest = f"{digits:08d}"[2:]
    national = f"{mobile}.{rest[:2]}.{rest[2:4]}.{rest[4:]}"
    typed = style.format(national if style != "+33 {}" else national.replace(".", " "))
    result = redact(f"appelez-moi au {typed} svp")
    assert result.text == "appelez-moi au [PHONE] svp"


@pytest.mark.parametrize(
    "text",
    ["https://wa.me/4915123456789", "chat on api.whatsapp.com/send?phone=4915123456789&text=hi"],
)
def test_phones_whatsapp_link_number_without_plus_is_redacted(text: str) -> None:
    result = redact(text)
    assert "4915123456789" not in result.text and result.found == {"PHONE": 1}


# --- M5: SSN and emails ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    area=st.integers(1, 899).filter(lambda n: n != 666),
    group=st.integers(1, 99),
    serial=st.integers(1, 9999),
    lead=st.sampled_from(["my SSN is ", "ssn=", "SSN#", "social security number is ", "SSN was: "]),
    dashed=st.booleans(),
)
def test_national_ids_ssn_after_is_equals_or_with_en_dashes_never_survives(
    area: int, group: int, serial: int, lead: str, dashed: bool
) -> None:
    digits = f"{area:03d}{group:02d}{serial:04d}"
    typed = "\u2013".join((digits[:3], digits[3:5], digits[5:])) if dashed else digits
    result = redact(f"{lead}{typed} thanks")
    assert result.text == f"{lead}[SSN] thanks"


@settings(max_examples=300, deadline=None)
@given(
    before=_words,
    user=st.from_regex(r"[a-z]{1,6}(?:[.'!#$%*+^_`{|}~-][a-z]{1,6}){0,2}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(com|ie|de|co\.uk)", fullmatch=True),
    at=st.sampled_from(["@", " @ "]),
)
def test_emails_rfc5322_user_part_or_spaced_at_never_survives(
    before: str, user: str, domain: str, at: str
) -> None:
    result = redact(f"{before} {user}{at}{domain}, thanks")
    assert result.text == f"{before} [EMAIL], thanks"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.o'neil@example.ie", "write to [EMAIL]"),
        ("'jane@example.com'", "'[EMAIL]'"),
        (
            "https://x.example/reset?email=jane.doe@example.com&t=1",
            "https://x.example/reset?email=[EMAIL]&t=1",
        ),
    ],
)
def test_emails_apostrophe_inside_user_part_redacted_quotes_and_url_around_it_kept(
    text: str, expected: str
) -> None:
    assert redact(text).text == expected


# --- M6: CRM names --------------------------------------------------------------------------------

_ACCENTED = "áàâäãåéèêëíìîïóòôöõúùûüñçý"


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from("BCDFGLMNPRST"),
            st.text(alphabet="aeiou" + _ACCENTED + "lnrst", min_size=3, max_size=8),
        ).map("".join),
        min_size=2,
        max_size=3,
    ),
    upper=st.booleans(),
)
def test_known_names_typed_without_accents_are_redacted(parts: list[str], upper: bool) -> None:
    crm_name = " ".join(parts)
    typed = "".join(c for c in unicodedata.normalize("NFD", crm_name) if not unicodedata.combining(c))
    typed = typed.upper() if upper else typed
    customer = CustomerContext(customer_id="c", name=crm_name)
    assert redact(f"Name: {typed}.", redact_customer_terms(customer)).text == "Name: [NAME]."


@pytest.mark.parametrize(
    ("crm_name", "typed", "expected"),
    [
        ("Lucía Fernández", "Hola, soy Lucia Fernandez", "Hola, soy [NAME]"),
        ("Liam O'Connor", "This is Liam O\u2019Connor", "This is [NAME]"),
        ("Liam O'Connor", "This is Liam OConnor", "This is [NAME]"),
        ("Thomas Müller", "Thomas Mueller hier", "[NAME] hier"),
        ("Thomas Müller", "Thomas Muller hier, Herr Mueller", "[NAME] hier, Herr [NAME]"),
        ("Thomas Mueller", "Thomas Müller hier", "[NAME] hier"),
        ("Jürgen Groß", "JUERGEN GROSS", "[NAME]"),
    ],
)
def test_known_names_accent_apostrophe_or_umlaut_spelling_is_redacted_whole(
    crm_name: str, typed: str, expected: str
) -> None:
    result = redact(typed, redact_customer_terms(CustomerContext(customer_id="c", name=crm_name)))
    assert result.text == expected


# --- M12: commerce ids after a keyword ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "invoice 2024/000123",
        "DHL Express 1234567890",
        "ZIP 94107-1234",
        "ref 1234567890",
        "RMA 7700123456",
        "UPC 036000291452",
        "SKU 12345-678-90",
        "order number: 4155550132",
    ],
)
def test_protected_commerce_id_after_keyword_is_kept(text: str) -> None:
    result = redact(text)
    assert result.text == text and result.found == {}


@settings(max_examples=100, deadline=None)
@given(
    keyword=st.sampled_from(["ref", "invoice", "RMA", "order", "SKU", "UPC", "ZIP", "reference no."]),
    line=st.integers(100, 199),
)
def test_protected_valid_phone_after_commerce_word_kept_after_call_me_redacted(
    keyword: str, line: int
) -> None:
    number = f"415555{line:04d}"  # a valid US number: without the keyword it is a phone
    result = redact(f"{keyword} {number}, or call me {number}")
    assert result.text == f"{keyword} {number}, or call me [PHONE]"
