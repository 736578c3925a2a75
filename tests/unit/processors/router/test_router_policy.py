"""Policy loading and validation: the shipped default is complete, bad files fail clearly."""

from pathlib import Path

import pytest

from supportflow.processors.router import PolicyError, load_policy
from supportflow.schemas.models import Band, Tier

BITEXT_INTENTS = [
    "cancel_order", "change_order", "change_shipping_address", "check_cancellation_fee", "check_invoice",
    "check_payment_methods", "check_refund_policy", "complaint", "contact_customer_service",
    "contact_human_agent", "create_account", "delete_account", "delivery_options", "delivery_period",
    "edit_account", "get_invoice", "get_refund", "newsletter_subscription", "payment_issue", "place_order",
    "recover_password", "registration_problems", "review", "set_up_shipping_address", "switch_account",
    "track_order", "track_refund",
]  # fmt: skip


def test_load_policy_default_covers_all_bitext_intents():
    policy = load_policy()
    assert len(BITEXT_INTENTS) == 27
    assert policy.missing_intents(BITEXT_INTENTS) == []


def test_load_policy_default_sends_sensitive_intents_to_people():
    policy = load_policy()
    assert policy.for_intent("delete_account").band == Band.ESCALATE
    assert policy.for_intent("contact_human_agent").band == Band.ESCALATE
    assert policy.for_intent("get_refund").tier == Tier.FRONTIER
    assert policy.for_intent("track_order").band == Band.AUTO
    assert policy.for_intent("never_seen_intent") == policy.defaults


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return p


def test_load_policy_minimal_file_uses_defaults(tmp_path):
    policy = load_policy(_write(tmp_path, "intents:\n  faq: {band: auto, tier: commodity}\n"))
    assert policy.for_intent("faq").band == Band.AUTO
    assert policy.rules.vip.action == "escalate"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("intents:\n  faq: {band: escallate}\n", "intents.faq.band"),
        ("intents:\n  faq: {band: auto, tier: premium}\n", "intents.faq.tier"),
        ("rules:\n  vip: {action: ignore}\n", "rules.vip.action"),
        ("rules:\n  legal: {phrases: ['/(unclosed/']}\n", "bad regex"),
        ("rules:\n  refund: {amount: -5}\n", "rules.refund.amount"),
        ("rulez: {}\n", "rulez"),
        ("intents: [a, b\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ],
)
def test_load_policy_bad_file_raises_clear_error(tmp_path, text, message):
    with pytest.raises(PolicyError, match=r"^policy ") as info:
        load_policy(_write(tmp_path, text))
    assert message in str(info.value)


def test_load_policy_missing_file_raises(tmp_path):
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy(tmp_path / "nope.yaml")
