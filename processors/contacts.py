"""Canonical forms of contact identifiers, shared by ingress (ticket sender) and CRM lookups.

Both sides must agree, or a WhatsApp message from ``15125550140`` never finds the customer stored as
``+15125550140``: emails are compared lowercased, phones as E.164.

Emails are compared only in a form that folds nothing but ASCII case: ``normalize_email`` refuses any
address that is not plain ASCII (``daniel.o<U+212A>afor@example.net``, with a KELVIN SIGN, lowercases
to ``daniel.okafor@example.net`` under Unicode rules; a Cyrillic ``a`` looks like a Latin one), so a
look-alike never becomes the address it imitates. ``email_address`` keeps such an address as written,
for the ticket's sender (who to answer); it is never compared.

Phones: ``normalize_phone`` is for numbers people type (API ``phone`` fields, CRM records): a number
without a country code is read as a US number. ``normalize_international_phone`` is for fields that
are always international digits (WhatsApp's ``wa_id``): no default region, valid numbers only.
"""

from __future__ import annotations

import re
import string

import phonenumbers

# Phones without a country code are read as US numbers: the store's largest market. Only for numbers
# people type; a field documented as international never gets a default region.
DEFAULT_PHONE_REGION = "US"

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# RFC 5322 dot-atom local part and an LDH host name with at least one dot (punycode ``xn--`` labels
# included): the only shapes compared. Quoted local parts, domain literals, a trailing dot: never equal
# to a CRM address, so they are refused rather than compared.
_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
_INTERNATIONAL = re.compile(r"\+?[0-9]+")


def ascii_lower(text: str) -> str:
    """``text`` with ASCII letters lowercased and every other character unchanged (no Unicode folding)."""
    return text.translate(_ASCII_LOWER)


def email_address(raw: str | None) -> str | None:
    """A ticket sender's address as written: trimmed, ASCII letters lowercased, nothing else changed.

    None when it is not plausibly an address. Non-ASCII characters are kept as they are (never case
    folded), so a look-alike stays distinct. This is who to answer, not an identity: compare
    addresses with ``normalize_email`` only.
    """
    if not raw:
        return None
    email = ascii_lower(raw.strip().strip("<>").strip())
    local, sep, domain = email.partition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in email):
        return None
    return email


def normalize_email(raw: str | None) -> str | None:
    """The comparable form of an address (lowercased, trimmed), or None when it may not be compared.

    Only plain ASCII ``local@host.name`` addresses are compared: anything with a non-ASCII character
    (checked on the raw input, before trimming and lowercasing, so no Unicode case folding, whitespace
    or compatibility mapping can turn a look-alike into an ASCII address), a second ``@``, a quoted local part or a malformed domain is
    None. Used on both sides (ticket identity and CRM records, lookups included).
    """
    if not raw or not raw.isascii():
        return None
    email = email_address(raw)
    if email is None:
        return None
    local, _, domain = email.partition("@")
    if not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
        return None
    return email


def stored_email(raw: str | None) -> str | None:
    """A CRM record's address as stored: its comparable form, else (non-ASCII) as written.

    One kept as written equals no lookup (lookups are always ``normalize_email``'d) and no ticket's
    address, yet identity binding still sees that the record holds one.
    """
    return normalize_email(raw) or email_address(raw)


def normalize_customer_id(raw: str | None) -> str | None:
    """A customer id for comparison: trimmed, ASCII letters lowercased, or None when empty.

    No Unicode case folding: ``cus_0002`` spelled with a LONG S (U+017F) would fold to ``cus_0002``.
    """
    return ascii_lower((raw or "").strip()) or None


def normalize_phone(raw: str | None, default_region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 form (``+14155550101``) or None when the input is not a possible phone number.

    For numbers people type. A digit-only string of 11+ digits is read as international (``1`` + ten
    digits is the same number either way); shorter digit strings and formatted local numbers use
    ``default_region``. Fields that are always international use ``normalize_international_phone``.
    """
    if not raw:
        return None
    text = raw.strip()
    digits = "".join(c for c in text if c.isdigit())
    if not digits:
        return None
    if text.startswith("00"):
        text = "+" + digits[2:]
    elif not text.startswith("+") and text.isdigit() and len(digits) >= 11:
        text = "+" + digits
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_international_phone(raw: str | None) -> str | None:
    """E.164 of a number that is international by definition (WhatsApp ``wa_id``), or None.

    Digits with the country code and no ``+`` (``6465550124`` is +64 6 555 0124 in New Zealand, never
    a US number), an optional leading ``+``, nothing else. No default region: a number that does not
    parse as a valid number of some country is None, never guessed.
    """
    text = (raw or "").strip()
    if not _INTERNATIONAL.fullmatch(text):
        return None
    try:
        parsed = phonenumbers.parse("+" + text.lstrip("+"), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
