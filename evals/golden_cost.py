"""Cost per resolution: what the configured hosted tiers would charge for the golden set's real prompts.

The offline default answers with the extractive drafter and spends $0. To price the hosted
configuration, each case is replayed in-process through the same stage functions the workers run
(normalize, route, retrieve), and the exact messages the LiteLLM tier client would send are built with
the resolve stage's own prompt builder (redacted ticket text, retrieved chunks, CRM facts). Input
tokens are counted with ``litellm.token_counter`` for each reference model; output tokens are the
token count of the reply the model must produce (the JSON ``{"answer", "citations"}`` object holding
the pipeline's actual answer). Prices come from LiteLLM's bundled price map, never the network.

- routed: the cases the pipeline would send to a model (band not ``escalate``, at least one source),
  each priced at the tier the router chose (commodity or frontier reference model);
- frontier only: every case sent to the frontier reference model, no routing and no escalation
  short-cut. Cases with no answer in the run (escalations) are priced with the offline draft the
  resolve stage would have produced, so their output tokens are real too.

Cost per resolution = total cost / auto-resolved cases of the run (the same denominator for both, so
the ratio compares the spend for the same resolutions). Re-asks after an invalid reply are not priced.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from supportflow.evals.golden import GoldenCase, render_event
from supportflow.processors.knowledge import compose_answer
from supportflow.processors.llm.prompt import build_messages
from supportflow.processors.redact import redact, redact_customer_terms
from supportflow.processors.resolve import customer_facts
from supportflow.schemas import wire
from supportflow.schemas.errors import InvalidInputError
from supportflow.schemas.models import Band, Outcome, PipelineRecord, Tier


def litellm_offline() -> ModuleType:
    """LiteLLM with its bundled price map (it would otherwise fetch one from the internet at import)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


@dataclass(frozen=True)
class PromptCase:
    """One case's prompt as the resolve stage would send it, and the reply it would get back."""

    case_id: str
    band: Band
    tier: Tier
    has_sources: bool
    messages: list[dict[str, str]]
    reply: str

    @property
    def routed_call(self) -> bool:
        return self.band != Band.ESCALATE and self.has_sources


@dataclass(frozen=True)
class Pricing:
    commodity_model: str
    frontier_model: str
    cost: Callable[[str, int, int], float]
    count_messages: Callable[[str, list[dict[str, str]]], int]
    count_text: Callable[[str, str], int]


def litellm_pricing(commodity_model: str, frontier_model: str) -> Pricing:
    litellm = litellm_offline()
    for model in (commodity_model, frontier_model):
        if model not in litellm.model_cost:
            raise InvalidInputError(f"{model!r} is not in LiteLLM's bundled price map; pick a listed model")

    def cost(model: str, tokens_in: int, tokens_out: int) -> float:
        prompt, completion = litellm.cost_per_token(model=model, prompt_tokens=tokens_in,
                                                    completion_tokens=tokens_out)  # fmt: skip
        return float(prompt) + float(completion)

    return Pricing(
        commodity_model, frontier_model, cost,
        lambda model, messages: int(litellm.token_counter(model=model, messages=messages)),
        lambda model, text: int(litellm.token_counter(model=model, text=text)),
    )  # fmt: skip


def reply_json(answer: str, citations: Sequence[str]) -> str:
    """The reply the prompt demands: one JSON object with the answer and its citations."""
    return json.dumps({"answer": answer, "citations": list(citations)}, ensure_ascii=False)


def build_prompt_cases(
    cases: Sequence[GoldenCase], outcomes: Mapping[str, Outcome], runtime: Any
) -> list[PromptCase]:
    """Replay each case through normalize/route/retrieve in-process and build its resolve prompt.

    ``runtime`` is a :class:`supportflow.streams.runtime.Runtime` (typed loosely so unit tests can pass
    a small stand-in); cases that do not parse are skipped (the run dead-letters them too).
    """
    records: list[tuple[GoldenCase, PipelineRecord]] = []
    for case in cases:
        for record in runtime.normalize(wire.encode(render_event(case))):
            records.append((case, record))
    routed = runtime.route([r for _, r in records])
    retrieved = runtime.retrieve(routed)
    prompts = []
    for (case, _), record in zip(records, retrieved, strict=True):
        prompts.append(_prompt_case(case, record, outcomes.get(case.id)))
    return prompts


def _prompt_case(case: GoldenCase, record: PipelineRecord, outcome: Outcome | None) -> PromptCase:
    route = record.route
    if route is None:
        raise ValueError(f"case {case.id} was not routed")
    terms = redact_customer_terms(record.customer)
    text = redact(f"{record.ticket.subject}\n{record.ticket.text}".strip(), terms).text
    facts = [redact(f, terms).text for f in customer_facts(record.customer)]
    messages = build_messages(text, record.sources, facts)
    if outcome is not None and outcome.answer:
        reply = reply_json(outcome.answer, outcome.citations)
    else:
        draft = compose_answer(record.ticket.text, route.intent, list(record.sources), record.customer)
        reply = reply_json(draft.text, draft.citations) if draft else reply_json("", [])
    return PromptCase(case.id, route.band, route.tier, bool(record.sources), messages, reply)


def cost_summary(prompts: Sequence[PromptCase], pricing: Pricing, resolutions: int) -> dict[str, Any]:
    """Totals, per-resolution costs and their ratio, with the token counts behind them."""
    routed_cost = frontier_cost = 0.0
    routed_calls = 0
    tokens = {"routed_in": 0, "routed_out": 0, "frontier_in": 0, "frontier_out": 0}
    for p in prompts:
        f_in = pricing.count_messages(pricing.frontier_model, p.messages)
        f_out = pricing.count_text(pricing.frontier_model, p.reply)
        frontier_cost += pricing.cost(pricing.frontier_model, f_in, f_out)
        tokens["frontier_in"] += f_in
        tokens["frontier_out"] += f_out
        if p.routed_call:
            model = pricing.frontier_model if p.tier == Tier.FRONTIER else pricing.commodity_model
            t_in, t_out = pricing.count_messages(model, p.messages), pricing.count_text(model, p.reply)
            routed_cost += pricing.cost(model, t_in, t_out)
            routed_calls += 1
            tokens["routed_in"] += t_in
            tokens["routed_out"] += t_out
    per_routed = routed_cost / resolutions if resolutions else 0.0
    per_frontier = frontier_cost / resolutions if resolutions else 0.0
    return {
        "commodity_model": pricing.commodity_model,
        "frontier_model": pricing.frontier_model,
        "resolutions": resolutions,
        "routed_calls": routed_calls,
        "routed_frontier_calls": sum(p.routed_call and p.tier == Tier.FRONTIER for p in prompts),
        "frontier_only_calls": len(prompts),
        "tokens": tokens,
        "total_cost_routed_usd": round(routed_cost, 6),
        "total_cost_frontier_only_usd": round(frontier_cost, 6),
        "cost_per_resolution_routed": round(per_routed, 6),
        "cost_per_resolution_frontier_only": round(per_frontier, 6),
        "frontier_to_routed_ratio": round(per_frontier / per_routed, 2) if per_routed else None,
        "offline_spend_usd": 0.0,
    }
