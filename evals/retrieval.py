"""Retrieval quality on a labelled query set: recall@1, recall@5 and MRR at the article level.

A query counts as answered at rank r when the r-th *distinct article* among the retrieved chunks is
the labelled one (several chunks of one article are one hit). Chunks are fetched deep enough
(``FETCH_K``) that five distinct articles are almost always present.

``intent_scoped=True`` searches each query within the articles declaring its *true* intent (the
labelled article's front-matter ``intents``), as the pipeline does with the *routed* intent. It is an
upper bound (a perfect router), reported separately: a query set carries no routed intent.
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from supportflow.processors.embedding import get_embedder
from supportflow.processors.knowledge.index import KnowledgeBase
from supportflow.schemas.errors import InvalidInputError

FETCH_K = 25
#: The query sets are Bitext instructions, written in English: they are searched as English tickets are.
QUERY_LANGUAGE = "en"


@dataclass(frozen=True)
class LabelledQuery:
    text: str
    article_id: str


@dataclass(frozen=True)
class RetrievalReport:
    queries: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    mode: str
    intent_scoped: bool  # True: upper bound, each query searched within its true intent's articles
    top1_score_correct: float  # mean Source.score of the first chunk when rank 1 is right
    top1_score_wrong: float  # ... and when it is wrong: the gap is what a score gate can use
    seconds: float
    misses: list[dict[str, str]]

    def as_dict(self, with_misses: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_misses:
            data.pop("misses")
        return data


def load_queries(path: Path) -> list[LabelledQuery]:
    try:
        with Path(path).open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"text", "article_id"} <= set(reader.fieldnames):
                raise InvalidInputError(f"{path}: expected CSV columns text,article_id")
            queries = [
                LabelledQuery(row["text"].strip(), row["article_id"].strip())
                for row in reader
                if row["text"].strip()
            ]
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    if not queries:
        raise InvalidInputError(f"{path}: no queries")
    return queries


def true_intents(kb: KnowledgeBase, queries: list[LabelledQuery]) -> list[list[str] | None]:
    """Per query, the intents its labelled article declares (None: the article declares none)."""
    declared = kb.article_intents()
    return [list(declared.get(q.article_id, ())) or None for q in queries]


def evaluate(kb: KnowledgeBase, queries: list[LabelledQuery], intent_scoped: bool = False) -> RetrievalReport:
    started = time.monotonic()
    scopes = true_intents(kb, queries) if intent_scoped else [None] * len(queries)
    # Embed once in a batch, like the router does for a batch of tickets; search reuses the vectors.
    vectors = get_embedder().encode([q.text for q in queries])
    reciprocal: list[float] = []
    correct_scores: list[float] = []
    wrong_scores: list[float] = []
    misses: list[dict[str, str]] = []
    for query, vector, scope in zip(queries, vectors, scopes, strict=True):
        sources = kb.search(query.text, k=FETCH_K, vector=vector, intents=scope, language=QUERY_LANGUAGE)
        ranking = list(dict.fromkeys(s.article_id for s in sources))
        rank = ranking.index(query.article_id) + 1 if query.article_id in ranking else 0
        reciprocal.append(1.0 / rank if rank else 0.0)
        if sources:
            (correct_scores if rank == 1 else wrong_scores).append(sources[0].score)
        if rank != 1:
            misses.append(
                {"text": query.text, "expected": query.article_id, "got": ranking[0] if ranking else ""}
            )
    ranks = np.array(reciprocal)
    return RetrievalReport(
        queries=len(queries),
        recall_at_1=round(float(np.mean(ranks == 1.0)), 4),
        recall_at_5=round(float(np.mean(ranks >= 0.2)), 4),
        mrr=round(float(np.mean(ranks)), 4),
        mode="hybrid" if kb.hybrid else "dense",
        intent_scoped=intent_scoped,
        top1_score_correct=round(float(np.mean(correct_scores)), 4) if correct_scores else 0.0,
        top1_score_wrong=round(float(np.mean(wrong_scores)), 4) if wrong_scores else 0.0,
        seconds=round(time.monotonic() - started, 3),
        misses=misses,
    )


@dataclass(frozen=True)
class DraftReport:
    """The offline drafter over the query set, and the scorer against deliberately corrupted drafts."""

    queries: int
    answered: float  # share of queries the drafter answered (it returns None when nothing is relevant)
    mean_groundedness: float
    above_floor: float  # share of answers at or above the groundedness floor
    corrupted: int  # drafts with a number we could change
    corrupted_caught: float  # share of corrupted drafts scored below the floor

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_drafts(
    kb: KnowledgeBase,
    queries: list[LabelledQuery],
    floor: float = 0.92,
    k: int = 4,
    intent_scoped: bool = False,
) -> DraftReport:
    """Draft an answer per query, score it, then change one number in it and score it again.

    The corruption (first digit run + 1, e.g. "5-10 business days" -> "6-10 business days") is the
    failure that matters: a fluent answer with one wrong fact. No customer is passed, so no CRM facts
    are added; these are help-center-only answers. With ``intent_scoped`` the search and the drafter
    get the query's true intent (as the pipeline gives them the routed one).
    """
    from supportflow.processors.knowledge import compose_answer, score_groundedness

    vectors = get_embedder().encode([q.text for q in queries])
    scopes = true_intents(kb, queries) if intent_scoped else [None] * len(queries)
    declared = kb.article_intents()
    scores: list[float] = []
    caught: list[bool] = []
    for query, vector, scope in zip(queries, vectors, scopes, strict=True):
        sources = kb.search(query.text, k=k, vector=vector, intents=scope, language=QUERY_LANGUAGE)
        intent = scope[0] if scope else "faq"
        answer = compose_answer(query.text, intent, sources, None, vector, declared)
        if answer is None:
            continue
        scores.append(answer.groundedness)
        corrupted = _bump_first_number(answer.text)
        if corrupted is not None:
            cited = [s for s in sources if s.chunk_id in answer.citations]
            caught.append(score_groundedness(corrupted, cited)[0] < floor)
    return DraftReport(
        queries=len(queries),
        answered=round(len(scores) / len(queries), 4),
        mean_groundedness=round(float(np.mean(scores)), 4) if scores else 0.0,
        above_floor=round(float(np.mean([s >= floor for s in scores])), 4) if scores else 0.0,
        corrupted=len(caught),
        corrupted_caught=round(float(np.mean(caught)), 4) if caught else 0.0,
    )


def _bump_first_number(text: str) -> str | None:
    import re

    # Skip list markers ("1. Sign in"): changing a step number is not a factual change.
    for match in re.finditer(r"\d+", text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if (
            re.fullmatch(r"\s*", text[line_start : match.start()])
            and text[match.end() : match.end() + 1] == "."
        ):
            continue
        return f"{text[: match.start()]}{int(match.group(0)) + 1}{text[match.end() :]}"
    return None
