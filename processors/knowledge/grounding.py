"""Groundedness: how much of an answer its cited sources (and the customer's CRM record) actually say.

Per content sentence (greetings and sign-offs are neutral and not scored):

1. Hard facts — amounts, percentages, dates, durations, times, order/tracking ids, emails, URLs,
   phone numbers, bare numbers, capitalised names — must each appear in the evidence (see
   :mod:`.facts` for the normalisation). One unsupported fact makes the sentence score 0: a wrong
   refund window is a promise, however fluent the sentence around it. Quantities (amounts, numbers,
   dates, durations, times) must appear in the evidence sentences that match *this* sentence (the
   best match and any within ``LOCAL_WINDOW`` of it), not just anywhere: "Saturday 9:00" is wrong
   even if "9:00" is the EU opening time two lines further down. Identifiers and names are
   checked against all of the evidence.
2. Semantic support — the highest cosine similarity between the sentence and any evidence sentence
   (MiniLM), mapped linearly from [SEMANTIC_FLOOR, SEMANTIC_FULL] to [0, 1]. A verbatim extract scores
   1; a paraphrase ~0.8-1; an unrelated claim 0.

The answer's score is the mean over content sentences, capped at ``HARD_FACT_CAP`` when any sentence
has an unsupported hard fact (so twenty faithful sentences cannot dilute one invented refund amount
past the auto-send floor); 0 when nothing is cited.
"""

from __future__ import annotations

import re

import numpy as np

from supportflow.processors.knowledge.facts import (
    customer_fact_lines,
    extract_facts,
    fact_keys,
)
from supportflow.processors.knowledge.phrasing import DEFAULT_LANGUAGE, NEUTRAL_LINE
from supportflow.processors.knowledge.sentences import sentence_embeddings, split_sentences
from supportflow.schemas.models import CustomerContext, Source

# MiniLM cosine between a sentence and its closest evidence sentence: paraphrases of the same policy
# land around 0.75-0.95, same-topic-but-different claims around 0.4-0.6, unrelated text below 0.3.
SEMANTIC_FLOOR = 0.35
SEMANTIC_FULL = 0.75
WEAK_SUPPORT = 0.5  # sentences below this are reported as unsupported claims too
LOCAL_WINDOW = 0.06  # evidence sentences this close to the best match also count as "this sentence's source"
LOCAL_MAX = 4
_QUANTITIES = frozenset({"money", "percent", "time", "duration", "number", "date", "phone"})
HARD_FACT_CAP = 0.5  # ceiling for an answer with any unsupported hard fact: far below any auto-send floor

_NEUTRAL = re.compile(
    r"^(?:(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^.!?\n]{0,40}[,.!]?"
    r"|(?:best|kind|warm)?\s*regards[,.!]?|thanks?(?: you)?(?: for [^.!?]{0,60})?[,.!]?|sincerely[,.]?"
    r"|cheers[,.!]?|(?:the )?northwind outfitters(?: support| team| customer (?:service|care))?[.!]?"
    r"|(?:please )?let us know if [^.!?]{0,80}[.!]?|is there anything else [^.!?]{0,60}[?.!]?"
    r"|(?:we(?:'re| are) )?happy to help[.!]?"
    r"|if anything is unclear, just reply to this (?:message|email)\.?)$",
    re.IGNORECASE,
)


def is_neutral(sentence: str) -> bool:
    """Greetings, thanks and sign-offs claim nothing, so they neither help nor hurt the score."""
    line = sentence.strip()
    return bool(_NEUTRAL.match(line) or NEUTRAL_LINE.match(line))


def score_groundedness(
    answer_text: str,
    cited: list[Source],
    customer: CustomerContext | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> tuple[float, list[str]]:
    """``(score in [0, 1], unsupported claims)`` for ``answer_text`` against ``cited`` and CRM facts
    (written in ``language`` too, when the answer is)."""
    if not cited:
        return 0.0, ["the answer cites no help-center source"]
    content = [s for s in split_sentences(answer_text) if not is_neutral(s)]
    if not content:
        return 0.0, ["the answer makes no statement to check"]

    crm_lines = customer_fact_lines(customer, language)
    evidence = "\n".join([*(f"{s.title}\n{s.section}\n{s.text}" for s in cited), *crm_lines])
    keys = fact_keys(evidence)
    haystack = evidence.lower()
    evidence_sentences = list(
        dict.fromkeys(
            [
                *(sentence for s in cited for sentence in split_sentences(s.text)),
                *crm_lines,
                *(s.title for s in cited),
            ]
        )
    )
    similarity = sentence_embeddings.encode(content) @ sentence_embeddings.encode(evidence_sentences).T
    best = similarity.max(axis=1)

    scores: list[float] = []
    unsupported: list[str] = []
    for i, (sentence, cosine) in enumerate(zip(content, best, strict=True)):
        order = np.argsort(-similarity[i])[:LOCAL_MAX]
        local = "\n".join(evidence_sentences[j] for j in order if similarity[i, j] >= cosine - LOCAL_WINDOW)
        local_keys = fact_keys(local)
        missing = [
            f.text
            for f in extract_facts(sentence)
            if not f.supported_by(local_keys if f.kind in _QUANTITIES else keys, haystack)
        ]
        if missing:
            scores.append(0.0)
            unsupported.append(f"not in sources: {', '.join(missing)} — {sentence}")
            continue
        support = float(np.clip((cosine - SEMANTIC_FLOOR) / (SEMANTIC_FULL - SEMANTIC_FLOOR), 0.0, 1.0))
        scores.append(support)
        if support < WEAK_SUPPORT:
            unsupported.append(f"weak support ({support:.2f}) — {sentence}")
    score = float(np.mean(scores))
    if any(claim.startswith("not in sources") for claim in unsupported):
        score = min(score, HARD_FACT_CAP)
    return round(score, 4), unsupported
