"""Hard rules in ``decide`` on realistic tickets, including the negatives that must not fire."""

import pytest

from supportflow.processors.router import Prediction, decide, load_policy
from supportflow.schemas.models import Band, Channel, CustomerContext, Order, Ticket, Tier
from supportflow.settings import Thresholds

POLICY = load_policy()
THRESHOLDS = Thresholds()  # min_confidence 0.70, refund escalation above 200
AUTO_T = 0.93
SURE = Prediction("track_order", 0.99)

ORDERS = [
    Order(order_id="NW-100201", status="delivered", total=89.5, placed_at="2026-01-10T10:00:00Z"),
    Order(order_id="NW-100202", status="shipped", total=950.0, placed_at="2026-03-02T10:00:00Z"),
]
REGULAR = CustomerContext(customer_id="cus_2", name="Daniel", tier="standard", orders=ORDERS)


def ticket(text: str, subject: str = "") -> Ticket:
    return Ticket(
        ticket_id="t1", conversation_id="c1", channel=Channel.EMAIL, sender="d@example.net",
        subject=subject, text=text, received_at_ms=0, ingested_at_ms=0, trace_id="tr",
    )  # fmt: skip


def route(text, prediction=SURE, customer=None, languages=("en",), subject=""):
    return decide(ticket(text, subject), prediction, customer, POLICY, THRESHOLDS, AUTO_T, languages)


def test_decide_confident_faq_ticket_is_auto_with_no_reasons():
    d = route("Hi, where is my order? It was supposed to arrive on Monday.")
    assert d.band == Band.AUTO and d.reasons == [] and d.tier == Tier.COMMODITY and d.language == "en"


@pytest.mark.parametrize(
    "text",
    [
        "If this isn't fixed by Friday my lawyer will be in touch.",
        "I am going to take you to court over this jacket.",
        "Refund me or I will sue.",
        "I've filed a complaint with consumer protection about your store.",
    ],
)
def test_decide_legal_language_escalates(text):
    d = route(text)
    assert d.band == Band.ESCALATE and "rule:legal" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "There is an issue with my order, can you pursue it with the courier?",
        "Do you sell a suede jacket in size M?",
    ],
)
def test_decide_words_containing_sue_do_not_fire_legal(text):
    assert "rule:legal" not in route(text).reasons


@pytest.mark.parametrize(
    "text",
    [
        "Please close my account, I no longer shop here.",
        "Delete my personal data from your systems under GDPR.",
        "I want to delete my Northwind account.",
    ],
)
def test_decide_account_closure_or_data_deletion_escalates(text):
    d = route(text, Prediction("edit_account", 0.99))
    assert d.band == Band.ESCALATE and "rule:account_closure" in d.reasons


def test_decide_closing_something_else_is_not_account_closure():
    d = route("How do I close the size guide popup on your website?", Prediction("edit_account", 0.99))
    assert "rule:account_closure" not in d.reasons


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("I want a refund of $900 for the broken tent.", "900.00"),
        ("Please refund 900 USD to my card.", "900.00"),
        ("Ich möchte eine Rückerstattung, refund €1.200,50 please", "1200.50"),
        ("I was double charged 1,200 dollars, I will dispute it with my bank.", "1200.00"),
    ],
)
def test_decide_refund_over_threshold_from_text_escalates(text, amount):
    d = route(text, Prediction("get_refund", 0.99))
    assert d.band == Band.ESCALATE
    assert f"rule:refund_over_threshold:{amount}>200.00" in d.reasons


def test_decide_small_refund_from_calm_customer_fires_nothing_hard():
    d = route("I'm not angry, just asking about a refund of $20", Prediction("get_refund", 0.99))
    assert not [r for r in d.reasons if r.startswith(("rule:anger", "rule:refund"))]
    assert d.band == Band.SUGGEST and d.reasons == ["policy:intent_band=suggest"]


def test_decide_refund_amount_from_order_named_by_id():
    d = route("Please refund order NW-100202, it arrived broken.", Prediction("get_refund", 0.99), REGULAR)
    assert "rule:refund_over_threshold:950.00>200.00" in d.reasons


def test_decide_refund_amount_from_latest_order_when_text_says_my_order():
    d = route("I want my money back for my order, it never came.", Prediction("get_refund", 0.99), REGULAR)
    assert "rule:refund_over_threshold:950.00>200.00" in d.reasons


def test_decide_refund_on_small_named_order_does_not_fire():
    d = route("Refund for NW-100201 please, wrong colour.", Prediction("get_refund", 0.99), REGULAR)
    assert not [r for r in d.reasons if r.startswith("rule:refund")]


def test_decide_refund_policy_question_with_amount_is_not_a_claim():
    d = route("What is your refund policy for items over $500?", Prediction("check_refund_policy", 0.99))
    assert not [r for r in d.reasons if r.startswith("rule:refund")]


def test_decide_policy_refund_amount_override_is_used():
    policy = POLICY.model_copy(
        update={
            "rules": POLICY.rules.model_copy(
                update={"refund": POLICY.rules.refund.model_copy(update={"amount": 10.0})}
            )
        }
    )
    d = decide(
        ticket("refund of $20 please"), Prediction("get_refund", 0.99), None, policy, THRESHOLDS, AUTO_T
    )
    assert "rule:refund_over_threshold:20.00>10.00" in d.reasons


@pytest.mark.parametrize("customer", [
    CustomerContext(customer_id="cus_1", vip=True),
    CustomerContext(customer_id="cus_1", tier="VIP"),
])  # fmt: skip
def test_decide_vip_customer_escalates(customer):
    d = route("Where is my order?", customer=customer)
    assert d.band == Band.ESCALATE and "rule:vip" in d.reasons


@pytest.mark.parametrize(
    "text",
    [
        "This is RIDICULOUS, I want to talk to your MANAGER NOW",
        "Absolutely unacceptable. Third time the parcel is lost, worst service ever!!",
        "WHERE IS MY ORDER I HAVE BEEN WAITING FOR THREE WEEKS",
        "I'm fed up with this useless company, you are a scam",
    ],
)
def test_decide_angry_customer_escalates(text):
    d = route(text)
    assert d.band == Band.ESCALATE
    assert any(r.startswith("rule:anger") for r in d.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "I'm not angry, just asking about a refund of $20",
        "Your store manager in Berlin was lovely, thanks!",
        "Can I get a PDF invoice for order NW-100201? Thanks",
        "The zipper broke after one day, a bit disappointing. Can I exchange it?",
    ],
)
def test_decide_calm_or_mildly_negative_ticket_is_not_anger(text):
    assert not any(r.startswith("rule:anger") for r in route(text).reasons)


@pytest.mark.parametrize(
    "text",
    [
        "Can I speak to a person please?",
        "I want a real human, not a bot",
        "agent please",
        "Let me talk to someone",
    ],
)
def test_decide_customer_asking_for_human_escalates(text):
    d = route(text)
    assert d.band == Band.ESCALATE and "rule:human_request" in d.reasons


def test_decide_past_conversation_with_agent_is_not_a_human_request():
    d = route("I spoke to an agent yesterday who said the refund takes 5 days. Is it on its way?")
    assert "rule:human_request" not in d.reasons


def test_decide_low_confidence_never_auto():
    d = route("hmm the thing with the stuff", Prediction("track_order", 0.55))
    assert d.band == Band.SUGGEST
    assert "threshold:confidence<0.70" in d.reasons and "threshold:auto<0.93" in d.reasons


def test_decide_below_auto_threshold_but_confident_suggests():
    d = route("Where is my parcel?", Prediction("track_order", 0.85))
    assert d.band == Band.SUGGEST and d.reasons == ["threshold:auto<0.93"]


def test_decide_out_of_scope_is_never_auto():
    d = route("What's the weather in Lisbon tomorrow?", Prediction("oos", 0.99))
    assert d.band != Band.AUTO and "rule:out_of_scope" in d.reasons


def test_decide_uncovered_language_is_recorded_and_not_auto():
    d = route("Wo ist meine Bestellung? Ich warte seit zwei Wochen darauf.")
    assert d.language == "de" and d.band == Band.SUGGEST and "language:de_not_covered" in d.reasons


def test_decide_covered_language_not_calibrated_drafts():
    d = route("Wo ist meine Bestellung? Ich warte seit zwei Wochen darauf.", languages=("en", "de"))
    assert d.language == "de" and d.band == Band.SUGGEST and "language:de_not_calibrated" in d.reasons


def test_decide_short_text_falls_back_to_english():
    assert route("ok thx").language == "en"


def test_decide_policy_band_and_tier_per_intent():
    d = route("I'd like my money back for the shoes", Prediction("get_refund", 0.99))
    assert d.band == Band.SUGGEST and d.tier == Tier.FRONTIER and d.reasons == ["policy:intent_band=suggest"]


def test_decide_escalate_beats_suggest_and_all_reasons_are_kept():
    vip = CustomerContext(customer_id="cus_1", vip=True)
    d = route("Where is it?? speak to a human", Prediction("track_order", 0.5), vip)
    assert d.band == Band.ESCALATE
    assert {"rule:vip", "rule:human_request", "threshold:confidence<0.70"} <= set(d.reasons)


def test_decide_records_model_version():
    d = decide(
        ticket("where is my order"), SURE, None, POLICY, THRESHOLDS, AUTO_T, model_version="minilm-lr-abc"
    )
    assert d.model == "minilm-lr-abc"
