"""Identity binding rules: a CRM record is used only when the channel's verified identity matches it."""

from __future__ import annotations

import pytest

from supportflow.processors.identity import (
    IDENTITY_MISMATCH,
    IDENTITY_UNVERIFIED,
    SenderIdentity,
    bind_customer,
    record_matches,
    with_identity,
)
from supportflow.schemas.models import Band, CustomerContext, RouteDecision, Tier
from tests.unit.helpers import ticket

DANIEL = CustomerContext(
    customer_id="cus_0002", name="Daniel Okafor", email="daniel.okafor@example.net", phone="+12125550102"
)


def _api(email="", phone="", claim=None, asserted=""):
    """A ticket as the API parser builds it: email/phone vouched for by the integration."""
    return ticket(
        channel="api", sender=email or phone or claim or "x", customer_id=claim,
        verified_email=email, verified_phone=phone, verified_customer_id=asserted,
    )  # fmt: skip


# (ticket, the CRM record found) -> the sender names an account that is not theirs: no record.
MISMATCH = {
    # The CRM found Daniel only because an (old) lookup trusted the claim: the sender is not Daniel.
    "impostor-email-naming-other-customer-id": (_api(email="mallory@evil.example", claim="cus_0002"), DANIEL),
    "impostor-not-in-crm-naming-customer-id": (_api(email="mallory@evil.example", claim="cus_0002"), None),
    "lookalike-domain": (_api(email="daniel.okafor@example.net.evil.example", claim="cus_0002"), DANIEL),
    # Deliberate: "+tag" is not stripped (the local part is the receiving server's to interpret).
    "plus-address-not-folded": (_api(email="daniel.okafor+shop@example.net", claim="cus_0002"), DANIEL),
    "another-customers-phone": (_api(phone="+1 512 555 0140", claim="cus_0002"), DANIEL),
    # Found by the phone, contradicted by the email: both are the sender's word, both must agree.
    "impostor-email-with-victims-phone": (_api(email="mallory@evil.example", phone="+12125550102"), DANIEL),
    "privileged-key-asserted-id-with-other-email": (
        _api(email="mallory@evil.example", claim="cus_0002", asserted="cus_0002"), DANIEL
    ),
    "verified-sender-claiming-other-id": (_api(email="daniel.okafor@example.net", claim="cus_0009"), DANIEL),
    # "cus_0002" with U+017F LONG S casefolds to "cus_0002"; only ASCII case is ignored.
    "long-s-customer-id-claim": (_api(email="daniel.okafor@example.net", claim="cu\u017f_0002"), DANIEL),
}  # fmt: skip

# The channel vouched for nobody (or only for an address that may not be compared): no record.
UNVERIFIED = {
    "unprivileged-customer-id-only": _api(claim="cus_0002"),
    # Schema v2 tickets carry no verified identity: nothing is vouched for, so nothing is bound.
    "ticket-from-older-record": ticket(sender="daniel.okafor@example.net", customer_id="cus_0002"),
    "kelvin-sign-email-claiming-cus_0002": _api(email="daniel.o\u212aafor@example.net", claim="cus_0002"),
    # Unicode lower()/casefold()/NFKC would turn several of these into Daniel's address: never compared.
    **{
        f"non-ascii-lookalike-{name}": _api(email=lookalike)
        for name, lookalike in {
            "kelvin-sign": "daniel.o\u212aafor@example.net", "kelvin-sign-upper": "DANIEL.O\u212aAFOR@EXAMPLE.NET",
            "cyrillic-a": "d\u0430niel.okafor@example.net", "zero-width-space": "daniel.okafor@example.net\u200b",
            "nbsp": "daniel.okafor@example.net\u00a0", "fullwidth-e": "daniel.okafor@\uff45xample.net",
        }.items()
    },
}  # fmt: skip

# The verified sender is Daniel: his record is bound, with no reason recorded.
BOUND = {
    "email-case-differs": _api(email="Daniel.Okafor@EXAMPLE.net", claim="CUS_0002"),
    "privileged-key-asserted-id": _api(claim="cus_0002", asserted="cus_0002"),
    "verified-sender-claiming-own-id": _api(email="daniel.okafor@example.net", claim="cus_0002"),
    **{
        f"phone-other-format-{phone}": _api(phone=phone)
        for phone in ["(212) 555-0102", "+1 212 555 0102", "001-212-555-0102", "12125550102"]
    },
}


@pytest.mark.parametrize("t, found", MISMATCH.values(), ids=MISMATCH.keys())
def test_bind_customer_names_other_account_mismatch(t, found):
    binding = bind_customer(t, found)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


@pytest.mark.parametrize("t", UNVERIFIED.values(), ids=UNVERIFIED.keys())
def test_bind_customer_nothing_vouched_for_unverified(t):
    binding = bind_customer(t, DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_UNVERIFIED


@pytest.mark.parametrize("t", BOUND.values(), ids=BOUND.keys())
def test_bind_customer_verified_sender_own_record_bound(t):
    binding = bind_customer(t, DANIEL)
    assert binding.customer == DANIEL and binding.reason is None


@pytest.mark.parametrize(
    "lookalike",
    ["daniel.okafor@example.net.evil.example", "daniel.okafor@evil-example.net", "daniel.okafor@example.ne",
     "xdaniel.okafor@example.net", "daniel.okafor@sub.example.net"],
)  # fmt: skip
def test_record_matches_lookalike_address_false(lookalike):
    assert not record_matches(SenderIdentity(email=lookalike), DANIEL)


def test_bind_customer_verified_sender_unknown_to_crm_no_reason():
    binding = bind_customer(_api(email="new.customer@example.org"), None)
    assert binding.customer is None and binding.reason is None


def test_record_matches_identifier_missing_on_record_neutral():
    no_phone = DANIEL.model_copy(update={"phone": ""})
    assert record_matches(SenderIdentity(email="daniel.okafor@example.net", phone="+15125550140"), no_phone)
    assert not record_matches(SenderIdentity(phone="+15125550140"), no_phone)


def _decision(intent="track_order", band=Band.AUTO):
    return RouteDecision(intent=intent, confidence=0.97, band=band, tier=Tier.COMMODITY)


def test_with_identity_mismatch_any_intent_never_auto():
    d = with_identity(_decision("payment_methods"), IDENTITY_MISMATCH)
    assert d.band == Band.SUGGEST and d.reasons == [IDENTITY_MISMATCH]


def test_with_identity_unverified_order_intent_drafts():
    d = with_identity(_decision("track_order"), IDENTITY_UNVERIFIED)
    assert d.band == Band.SUGGEST and d.reasons == [IDENTITY_UNVERIFIED]


def test_with_identity_unverified_general_intent_stays_auto():
    d = with_identity(_decision("payment_methods"), IDENTITY_UNVERIFIED)
    assert d.band == Band.AUTO and d.reasons == [IDENTITY_UNVERIFIED]


def test_with_identity_applied_twice_reason_once_escalation_kept():
    d = with_identity(with_identity(_decision(band=Band.ESCALATE), IDENTITY_MISMATCH), IDENTITY_MISMATCH)
    assert d.band == Band.ESCALATE and d.reasons == [IDENTITY_MISMATCH]


def test_record_matches_non_ascii_record_email_contradicts_other_email():
    # A record address that may not be compared still counts as held: it is not "no email on file",
    # so an impostor's address plus the record's phone does not bind it.
    record = DANIEL.model_copy(update={"email": "dani\u00e9l.okafor@example.net"})
    assert not record_matches(SenderIdentity(email="mallory@evil.example", phone="+12125550102"), record)
    assert record_matches(SenderIdentity(phone="+12125550102"), record)
