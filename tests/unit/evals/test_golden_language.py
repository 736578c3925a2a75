"""Golden figures by language on synthetic outcomes, with the product's real language detector."""

import pytest

from supportflow.evals.golden import GoldenCase, GoldenTicket
from supportflow.evals.golden_language import (
    case_language,
    language_figures,
    language_markdown,
    product_detector,
    wrong_language,
)
from supportflow.evals.golden_report import scorecard_markdown
from supportflow.evals.golden_score import bad_answer_reasons, case_results, score
from supportflow.schemas.models import Band, Channel, Decision, Outcome, Tier

ES_ANSWER = (
    "Hola Carmen: los reembolsos con tarjeta tardan de 5 a 10 días hábiles en aparecer en su extracto. "
    "Un saludo, el equipo de Northwind Outfitters."
)
EN_ANSWER = (
    "Hi Carmen, card refunds take 5-10 business days to appear on your statement. "
    "Best regards, the Northwind Outfitters team."
)


@pytest.fixture(scope="module")
def detect():
    return product_detector()


def case(cid, lang=None, band=Band.AUTO, facts=(), articles=("track-your-refund-es",)):
    tags = [f"lang:{lang}"] if lang else []
    return GoldenCase(id=cid, channel=Channel.API, ticket=GoldenTicket(text="t", customer_id="cus_0013"),
                      expected_intent="track_refund", expected_band=band, expected_articles=list(articles),
                      required_facts=list(facts), tags=["hand", *tags])  # fmt: skip


def outcome(decision, answer="", language="es", citations=("track-your-refund-es#a",)):
    band = {Decision.AUTO_RESOLVED: Band.AUTO, Decision.SUGGESTED: Band.SUGGEST,
            Decision.ESCALATED: Band.ESCALATE}[decision]  # fmt: skip
    return Outcome(ticket_id="tkt", conversation_id="c", channel=Channel.API, decision=decision,
                   intent="track_refund", confidence=0.9, band=band, tier=Tier.COMMODITY, answer=answer,
                   citations=list(citations), groundedness=1.0, trace_id="t", latency_ms=100.0,
                   language=language)  # fmt: skip


def test_case_language_tag_gives_code_and_untagged_is_english():
    assert case_language(case("a", lang="pt")) == "pt"
    assert case_language(case("a")) == "en"


def test_wrong_language_english_answer_to_spanish_case_is_reported(detect):
    assert wrong_language(case("a", lang="es"), outcome(Decision.AUTO_RESOLVED, EN_ANSWER), detect) == [
        "wrong_language:en_not_es"
    ]


def test_wrong_language_answer_in_the_case_language_is_not_reported(detect):
    assert wrong_language(case("a", lang="es"), outcome(Decision.AUTO_RESOLVED, ES_ANSWER), detect) == []
    assert wrong_language(case("b"), outcome(Decision.AUTO_RESOLVED, EN_ANSWER, "en"), detect) == []


def test_wrong_language_draft_in_another_language_is_not_an_answer(detect):
    # A draft in English for a Spanish ticket goes to an agent, not to the customer.
    assert wrong_language(case("a", lang="es"), outcome(Decision.SUGGESTED, EN_ANSWER), detect) == []


def test_bad_answer_reasons_wrong_language_counts_alongside_missing_facts(detect):
    es_case = case("a", lang="es", facts=["de 5 a 10 días hábiles"])
    reasons = bad_answer_reasons(es_case, outcome(Decision.AUTO_RESOLVED, EN_ANSWER), detect)
    assert reasons == ["missing_fact:de 5 a 10 días hábiles", "wrong_language:en_not_es"]
    assert bad_answer_reasons(es_case, outcome(Decision.AUTO_RESOLVED, ES_ANSWER), detect) == []


def _mixed_run(detect):
    cases = [
        case("en-ok", articles=("track-your-refund",)),
        case("es-ok", lang="es"),
        case("es-wrong-lang", lang="es"),
        case("es-esc-hit", lang="es", band=Band.ESCALATE),
        case("es-esc-miss", lang="es", band=Band.ESCALATE),
        case("de-lost", lang="de", band=Band.SUGGEST),
    ]
    outcomes = {
        "en-ok": outcome(Decision.AUTO_RESOLVED, EN_ANSWER, "en", ("track-your-refund#a",)),
        "es-ok": outcome(Decision.AUTO_RESOLVED, ES_ANSWER),
        # The ticket was read as Portuguese: that is how an English answer could get past the gate.
        "es-wrong-lang": outcome(Decision.AUTO_RESOLVED, EN_ANSWER, language="pt"),
        "es-esc-hit": outcome(Decision.ESCALATED),
        "es-esc-miss": outcome(Decision.SUGGESTED),
    }
    return case_results(cases, outcomes, detect)


def test_language_figures_spanish_group_counts_deflection_bad_recall_and_wrong_language(detect):
    by_language = language_figures(_mixed_run(detect))
    assert list(by_language) == ["en", "de", "es"]
    es = by_language["es"]
    assert (es["cases"], es["auto_resolved"], es["escalated"], es["suggested"]) == (4, 2, 1, 1)
    assert es["deflection_rate"] == 0.5 and es["expected_auto"] == 2
    assert (es["bad_answers"], es["bad_answer_rate"], es["bad_answer_cases"]) == (1, 0.5, ["es-wrong-lang"])
    assert es["escalation_recall"] == 0.5
    assert es["wrong_language_answers"] == 1 and es["ticket_language_misdetected"] == 1
    assert by_language["en"]["bad_answers"] == 0 and by_language["en"]["escalation_recall"] is None
    de = by_language["de"]
    assert (de["cases"], de["missing"], de["deflection_rate"], de["bad_answer_rate"]) == (1, 1, 0.0, None)


def test_score_wrong_language_is_a_bad_answer_and_a_headline_count(detect):
    m = score(_mixed_run(detect), groundedness_floor=0.92)
    assert m["wrong_language_answers"] == 1
    assert m["bad_answers"] == 1 and m["bad_answer_kinds"] == {"wrong_language": 1}
    assert m["by_language"]["es"]["wrong_language_answers"] == 1


def test_language_markdown_one_row_per_language_with_dashes_for_no_answers(detect):
    lines = language_markdown(language_figures(_mixed_run(detect)))
    assert lines[0] == "## By language"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[4:]}
    assert set(rows) == {"en", "de", "es"}
    assert rows["es"] == "| es | 4 | 2 | 2 (50.0%) | 50.0% (1) | 50.0% | 1 | 1 |"
    assert rows["de"] == "| de | 1 | 0 | 0 (0.0%) | - (0) | - | 0 | 0 |"


def test_scorecard_markdown_includes_the_language_table(detect):
    m = score(_mixed_run(detect), groundedness_floor=0.92)
    assert "## By language" in scorecard_markdown(m, [], "supportflow eval golden")
