"""Canonical forms of contact identifiers, shared by ingress (ticket sender) and CRM lookups.

Both sides must agree, or a WhatsApp message from ``15125550140`` never finds the customer stored as
``+15125550140``: emails are compared lowercased, phones as E.164.
"""

from __future__ import annotations

import phonenumbers

# Phones without a country code are read as US numbers: the store's largest market.
DEFAULT_PHONE_REGION = "US"


def normalize_email(raw: str | None) -> str | None:
    """Lowercased, trimmed address, or None when it is not plausibly an email address."""
    if not raw:
        return None
    email = raw.strip().strip("<>").strip().lower()
    local, sep, domain = email.partition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in email):
        return None
    return email


def normalize_phone(raw: str | None, default_region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 form (``+14155550101``) or None when the input is not a possible phone number.

    WhatsApp sends ``wa_id`` as bare international digits (``14155550101``), so a digit-only string of
    11+ digits is read as international; shorter digit strings and formatted local numbers use
    ``default_region``.
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
