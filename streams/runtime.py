"""Everything a worker loads once: models, policy, knowledge base, model tiers, flags; and the CRM it is given.

The stage agents in :mod:`supportflow.streams.app` only call into this; tests build one without Kafka.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from supportflow.data import data_path
from supportflow.processors.conversation.converse import ConverseContext, converse, reopened
from supportflow.processors.conversation.handoff import (
    BusinessHours,
    HandoffTemplates,
    handoff_message,
    load_templates,
)
from supportflow.processors.conversation.state import sender_thread
from supportflow.processors.customers import CustomerDirectory
from supportflow.processors.embedding import (
    Embedder,
    configure,
    get_embedder,
    shipped_router_path,
    usable_cores,
)
from supportflow.processors.gate import GatePolicy, gate
from supportflow.processors.knowledge import KnowledgeBase
from supportflow.processors.llm import TierClient
from supportflow.processors.normalize import normalize
from supportflow.processors.resolve import ResolveContext, resolve_batch
from supportflow.processors.retrieve import retrieve
from supportflow.processors.route import MultilingualRouting, RouteContext, route_batch
from supportflow.processors.router import IntentRouter, load_policy, warm_up
from supportflow.processors.router.llm_router import LlmRouterClient
from supportflow.schemas.models import Decision, Outcome, PipelineRecord
from supportflow.settings import Settings
from supportflow.streams import metrics, tracing
from supportflow.streams.flag_registry import is_on
from supportflow.streams.flags import FlagWatcher

log = logging.getLogger(__name__)


# Allocations between young-generation collections (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000
# Longest a thread keeps the GIL while another thread asks for it (CPython's default is 5 ms).
GIL_SWITCH_INTERVAL_S = 0.001


@dataclass(frozen=True)
class InterpreterState:
    gc_thresholds: tuple[int, int, int]
    switch_interval_s: float


def tune_interpreter() -> InterpreterState:
    """Tune the collector and the GIL hand-off for a worker; returns what it replaced.

    Collector: a worker allocates thousands of short-lived objects per ticket (pydantic models, Avro
    dicts), so at the default threshold it ran every few tickets, and each older-generation pass
    walked everything loaded at start-up (tokenizer, router, help-center mirror, caches). That is
    frozen now and never scanned again, and young objects are collected less often. Bench, 2,000
    tickets: 130.4 -> 140.7 tickets/s (mean of 3 and 4 runs).

    GIL: an encoder thread comes back from a ~2.5 ms ONNX run (no GIL) to a few Python lines (pool,
    normalise, start the next run), and must first get the GIL from a stage thread busy in Python.
    At CPython's 5 ms interval it waited up to 5 ms per text, longer than the run itself; at 1 ms
    the encoder sits idle less. Bench, interleaved: 204.7, 213.2, 213.4 -> 228.5, 218.7, 222.9
    tickets/s; 0.25 ms was no better than 1 ms. Only where the process may use more than one core:
    pinned to one, the encoder cannot run beside the Python threads, and 1 ms measured no better
    (168.2 vs 163.8/s, means of three).
    """
    old = InterpreterState(gc.get_threshold(), sys.getswitchinterval())
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)
    if usable_cores() > 1:  # on one core the threads take turns anyway: no gain there
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return old


@contextmanager
def tuned_interpreter() -> Iterator[None]:
    """:func:`tune_interpreter` for a block (the bench's compute baseline gets what a worker gets), then undo it."""
    old = tune_interpreter()
    try:
        yield
    finally:
        gc.set_threshold(*old.gc_thresholds)
        gc.unfreeze()
        sys.setswitchinterval(old.switch_interval_s)


def multilingual_routing(settings: Settings) -> MultilingualRouting | None:
    """The shipped multilingual router for non-English tickets, when the main encoder is English-only
    (``settings.multilingual_router``); None when the main encoder already reads every language."""
    if not settings.multilingual_router or settings.embedding_model != "minilm":
        return None
    embedder = Embedder(threads=settings.embedding_threads, model="multilingual-e5-small")
    router = IntentRouter.load(shipped_router_path("multilingual-e5-small"))
    router.check_encoder(embedder.model_id)
    return MultilingualRouting(embedder, router)


class SeenTickets:
    """Bounded memory of decided ticket ids: redelivered records are suppressed, not decided twice."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def check_and_add(self, ticket_id: str) -> bool:
        """True when ``ticket_id`` was already decided by this worker."""
        if ticket_id in self._ids:
            self._ids.move_to_end(ticket_id)
            return True
        self._ids[ticket_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return False


@dataclass
class Runtime:
    settings: Settings
    route_ctx: RouteContext
    kb: KnowledgeBase
    resolve_ctx: ResolveContext
    flags: FlagWatcher | None = None
    seen: SeenTickets = field(default_factory=SeenTickets)
    article_intents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    handoff: Handoff | None = None
    #: Stamped on every outcome the gate makes: which router and policy decided (``artifact_version``).
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, *, crm: CustomerDirectory, kb_in_memory: bool = False) -> Runtime:
        """Load everything the stages use; ``crm`` is where route looks customers up (the caller opens it)."""
        from supportflow.schemas import registry  # confluent's registry client: loaded by workers only

        start = time.perf_counter()
        registry.configure(settings)  # the registry's framing when one is set (docs/schema-registry.md)
        configure(
            settings.embedding_threads,
            settings.embedding_compute,
            settings.cache_dir,
            settings.embedding_model,
        )
        router_path = settings.router_path or shipped_router_path(settings.embedding_model)
        router = IntentRouter.load(router_path)
        router.check_encoder(get_embedder().model_id)  # fail at start, not with miscalibrated tickets
        warm_up()  # sentiment lexicon + language model: load now, not on the first ticket
        kb = KnowledgeBase.open(settings, in_memory=kb_in_memory)
        kb.ensure_default_index()
        warmed = kb.warm_sentence_cache()
        # A language the help center has articles in is covered; the setting adds languages on top.
        article_languages = kb.article_languages()
        covered = tuple(sorted({*settings.help_center_languages, *article_languages.values()}))
        route_ctx = RouteContext(
            embedder=get_embedder(), router=router, policy=load_policy(settings.policy_path),
            crm=crm, thresholds=settings.thresholds, languages=covered,
            llm_router=LlmRouterClient.from_settings(settings.llm_router, on_call=metrics.observe_llm_call),
            multilingual=multilingual_routing(settings),
        )  # fmt: skip
        # Every provider call is counted where it happens (retries, 429s, refusals), not per ticket.
        # Traced: each model call a child span of its ticket's resolve span (tracing on only).
        client = tracing.TracedTierClient if tracing.enabled() else TierClient
        llm = client(settings.models, on_call=metrics.observe_llm_call)
        # What the articles declare changes only when they are re-indexed: read it once, not per ticket.
        article_intents, section_hints = kb.declarations()
        resolve_ctx = ResolveContext(
            llm if llm.enabled() else None, section_hints=section_hints, article_languages=article_languages
        )
        policy_path = settings.policy_path or data_path("router", "policy.yaml")
        versions = {
            "router_version": artifact_version(router_path),
            "policy_version": artifact_version(policy_path),
        }
        runtime = cls(settings, route_ctx, kb, resolve_ctx, article_intents=article_intents,
                      handoff=Handoff.from_settings(settings), versions=versions)  # fmt: skip
        log.info(
            "runtime ready in %.1fs (router %s, %d help-center sentences embedded)",
            time.perf_counter() - start, router.version, warmed,
        )  # fmt: skip
        return runtime

    # Stage entry points, each a pure function of its input plus this runtime.
    def normalize(self, raw: bytes) -> list[PipelineRecord]:
        return normalize(raw, self.settings.thresholds.max_body_bytes)

    def route(self, records: list[PipelineRecord]) -> list[PipelineRecord]:
        return route_batch(records, self.route_ctx)

    @cached_property
    def converse_ctx(self) -> ConverseContext:
        c = self.settings.conversation
        return ConverseContext(
            repeat_similarity=c.repeat_similarity, unresolved_limit=c.unresolved_limit,
            context_confidence=self.settings.thresholds.min_confidence, reroute=self.route,
        )  # fmt: skip

    def converse(self, records: list[PipelineRecord], states: list[bytes | None]) -> list[PipelineRecord]:
        max_age_ms = int(self.settings.conversation.max_age_s * 1000)
        threads = [sender_thread(raw, r.ticket, max_age_ms) for r, raw in zip(records, states, strict=True)]
        out = converse(records, threads, self.converse_ctx)
        for record, thread in zip(out, threads, strict=True):
            if record.thread is not None:
                metrics.observe_conversation(
                    record.thread.turn, record.thread.signals, reopened(record, thread)
                )
        return out

    def retrieve(self, records: list[PipelineRecord]) -> list[PipelineRecord]:
        out = [retrieve(r, self.kb) for r in records]
        for r in out:
            metrics.observe_retrieval(max((s.score for s in r.sources), default=0.0))
        return out

    def resolve(self, records: list[PipelineRecord]) -> list[PipelineRecord]:
        return resolve_batch(records, self.resolve_ctx)

    def gate_policy(self) -> GatePolicy:
        th = self.settings.thresholds
        # Fail closed: only a real JSON true on the control topic allows auto-send ("False", 0, junk: off).
        auto = is_on(self.flags.get("auto_resolve")) if self.flags else True
        return GatePolicy(
            th.groundedness_floor, th.retrieval_min_score, auto_send_enabled=auto,
            scoped_retrieval_min_score=th.scoped_retrieval_min_score,
        )  # fmt: skip

    def gate(self, record: PipelineRecord) -> Outcome:
        now = int(time.time() * 1000)
        outcome = gate(record, self.gate_policy(), lambda cid: self.kb.get_chunk(cid) is not None,
                       now, self.article_intents or None)  # fmt: skip
        outcome = outcome.model_copy(update=self.versions) if self.versions else outcome
        return self.handoff.complete(outcome, now) if self.handoff else outcome


#: The files of a router artifact (``IntentRouter.save``).
ROUTER_FILES = ("router.json", "router.npz")


def artifact_version(path: Path) -> str:
    """``<name>@<12 hex of sha256>`` of a router folder's files or a policy file's bytes: two workers
    (live and shadow) name the artifact they decided with, and the same content has the same name."""
    # A router folder may hold other files (the shipped one holds the policy and training data).
    files = [path / name for name in ROUTER_FILES] if path.is_dir() else [path]
    h = hashlib.sha256()
    for file in files:
        h.update(file.read_bytes())
    name = path.name if path.is_dir() else path.stem
    return f"{name}@{h.hexdigest()[:12]}"


@dataclass(frozen=True)
class Handoff:
    """What the customer is told when a person takes over, or when they closed the conversation."""

    templates: HandoffTemplates
    hours: BusinessHours
    closing_ack: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Handoff:
        c = settings.conversation
        return cls(load_templates(c.handoff_templates), BusinessHours.parse(c.business_hours), c.closing_ack)

    def complete(self, outcome: Outcome, now_ms: int) -> Outcome:
        if outcome.decision is Decision.ESCALATED:
            message = handoff_message(
                self.templates, language=outcome.language, channel=outcome.channel.value, now_ms=now_ms,
                hours=self.hours,
            )  # fmt: skip
            return outcome.model_copy(update={"handoff_message": message})
        if outcome.decision is Decision.CLOSED and self.closing_ack:
            return outcome.model_copy(update={"answer": self.closing_ack})
        return outcome
