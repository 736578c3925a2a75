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


def test_bind_customer_impostor_email_naming_other_customer_id_mismatch():
    # The CRM found Daniel only because an (old) lookup trusted the claim: the sender is not Daniel.
    binding = bind_customer(_api(email="mallory@evil.example", claim="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


def test_bind_customer_impostor_not_in_crm_naming_customer_id_mismatch():
    binding = bind_customer(_api(email="mallory@evil.example", claim="cus_0002"), None)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


def test_bind_customer_lookalike_domain_mismatch():
    binding = bind_customer(_api(email="daniel.okafor@example.net.evil.example", claim="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


@pytest.mark.parametrize(
    "lookalike",
    ["daniel.okafor@example.net.evil.example", "daniel.okafor@evil-example.net", "daniel.okafor@example.ne",
     "xdaniel.okafor@example.net", "daniel.okafor@sub.example.net"],
)  # fmt: skip
def test_record_matches_lookalike_address_false(lookalike):
    assert not record_matches(SenderIdentity(email=lookalike), DANIEL)


def test_bind_customer_email_case_differs_bound():
    binding = bind_customer(_api(email="Daniel.Okafor@EXAMPLE.net", claim="CUS_0002"), DANIEL)
    assert binding.customer == DANIEL and binding.reason is None


def test_bind_customer_plus_address_not_folded_mismatch():
    # Deliberate: "+tag" is not stripped (the local part is the receiving server's to interpret).
    binding = bind_customer(_api(email="daniel.okafor+shop@example.net", claim="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


@pytest.mark.parametrize("phone", ["(212) 555-0102", "+1 212 555 0102", "001-212-555-0102", "12125550102"])
def test_bind_customer_phone_other_format_same_number_bound(phone):
    binding = bind_customer(_api(phone=phone), DANIEL)
    assert binding.customer == DANIEL and binding.reason is None


def test_bind_customer_another_customers_phone_mismatch():
    binding = bind_customer(_api(phone="+1 512 555 0140", claim="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


def test_bind_customer_impostor_email_with_victims_phone_mismatch():
    # Found by the phone, contradicted by the email: both are the sender's word, both must agree.
    binding = bind_customer(_api(email="mallory@evil.example", phone="+12125550102"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


def test_bind_customer_privileged_key_asserted_id_bound():
    binding = bind_customer(_api(claim="cus_0002", asserted="cus_0002"), DANIEL)
    assert binding.customer == DANIEL and binding.reason is None


def test_bind_customer_privileged_key_asserted_id_with_other_email_mismatch():
    binding = bind_customer(_api(email="mallory@evil.example", claim="cus_0002", asserted="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


def test_bind_customer_unprivileged_customer_id_only_unverified():
    binding = bind_customer(_api(claim="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_UNVERIFIED


def test_bind_customer_verified_sender_claiming_own_id_bound():
    binding = bind_customer(_api(email="daniel.okafor@example.net", claim="cus_0002"), DANIEL)
    assert binding.customer == DANIEL and binding.reason is None


def test_bind_customer_verified_sender_claiming_other_id_mismatch():
    binding = bind_customer(_api(email="daniel.okafor@example.net", claim="cus_0009"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


def test_bind_customer_verified_sender_unknown_to_crm_no_reason():
    binding = bind_customer(_api(email="new.customer@example.org"), None)
    assert binding.customer is None and binding.reason is None


def test_bind_customer_ticket_from_older_record_unverified():
    # Schema v2 tickets carry no verified identity: nothing is vouched for, so nothing is bound.
    binding = bind_customer(ticket(sender="daniel.okafor@example.net", customer_id="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_UNVERIFIED


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


@pytest.mark.parametrize(
    "lookalike",
    ["daniel.o\u212aafor@example.net", "DANIEL.O\u212aAFOR@EXAMPLE.NET", "d\u0430niel.okafor@example.net",
     "daniel.okafor@example.net\u200b", "daniel.okafor@example.net\u00a0", "daniel.okafor@\uff45xample.net"],
    ids=["kelvin-sign", "kelvin-sign-upper", "cyrillic-a", "zero-width-space", "nbsp", "fullwidth-e"],
)  # fmt: skip
def test_bind_customer_non_ascii_lookalike_email_unverified(lookalike):
    # Unicode lower()/casefold()/NFKC would turn several of these into Daniel's address: never compared.
    binding = bind_customer(_api(email=lookalike), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_UNVERIFIED


def test_bind_customer_kelvin_sign_email_claiming_cus_0002_unverified():
    binding = bind_customer(_api(email="daniel.o\u212aafor@example.net", claim="cus_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_UNVERIFIED


def test_bind_customer_long_s_customer_id_claim_mismatch():
    # "cus_0002" with U+017F LONG S casefolds to "cus_0002"; only ASCII case is ignored.
    binding = bind_customer(_api(email="daniel.okafor@example.net", claim="cu\u017f_0002"), DANIEL)
    assert binding.customer is None and binding.reason == IDENTITY_MISMATCH


def test_record_matches_non_ascii_record_email_contradicts_other_email():
    # A record address that may not be compared still counts as held: it is not "no email on file",
    # so an impostor's address plus the record's phone does not bind it.
    record = DANIEL.model_copy(update={"email": "dani\u00e9l.okafor@example.net"})
    assert not record_matches(SenderIdentity(email="mallory@evil.example", phone="+12125550102"), record)
    assert record_matches(SenderIdentity(phone="+12125550102"), record)
