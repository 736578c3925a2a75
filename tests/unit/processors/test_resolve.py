"""resolve_batch: same answers as ticket-by-ticket resolve, with the batch's CRM evidence embedded once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import SecretStr

from supportflow.connectors.crm import open_crm
from supportflow.evals.bench import bench_events
from supportflow.processors.knowledge import sentences
from supportflow.processors.llm import TierClient
from supportflow.processors.llm.provider import litellm_module
from supportflow.processors.resolve import ResolveContext, resolve, resolve_batch
from supportflow.schemas import wire
from supportflow.schemas.models import Band, CustomerContext, PipelineRecord
from supportflow.settings import ModelTiers, Settings
from supportflow.streams.runtime import Runtime
from tests.fakes.openai_server import BarrierServer, Reply, answer_json


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    litellm_module()  # the multi-second import, once
    settings = Settings()
    rt = Runtime.build(settings, crm=open_crm(settings), kb_in_memory=True)
    yield rt
    rt.kb.close()


def _renamed(customer: CustomerContext, tag: str) -> CustomerContext:
    """The same customer under a new name and order ids: CRM text no cache has seen yet."""
    orders = [o.model_copy(update={"order_id": f"{o.order_id}{tag}"}) for o in customer.orders]
    return customer.model_copy(update={"name": f"{customer.name} {tag}", "orders": orders})


def _answerable_records(runtime: Runtime, n: int, tag: str) -> list[PipelineRecord]:
    records = [r for e in bench_events(n) for r in runtime.normalize(wire.encode(e))]
    routed = runtime.retrieve(runtime.route(records))
    fresh = [
        r.model_copy(update={"customer": _renamed(r.customer, f"{tag}{i}")})
        for i, r in enumerate(routed)
        if r.customer is not None
        and r.customer.orders
        and r.route is not None
        and r.route.band != Band.ESCALATE
    ]
    assert len(fresh) >= 5, "the bundled samples should give several answerable tickets with orders"
    return fresh


class _CountingEmbedder:
    def __init__(self) -> None:
        self.calls = 0
        self._inner = sentences.get_embedder()
        self.model_id = self._inner.model_id

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        return self._inner.encode(texts)


def test_resolve_batch_new_customers_one_embedding_call(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = _answerable_records(runtime, 40, "batch")
    counter = _CountingEmbedder()
    monkeypatch.setattr(sentences, "get_embedder", lambda: counter)
    resolved = resolve_batch(records, runtime.resolve_ctx)
    assert counter.calls == 1, "CRM evidence of the whole batch should be embedded in one call"
    assert sum(r.answer is not None for r in resolved) >= 5


def test_resolve_batch_same_answers_as_one_by_one(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _answerable_records(runtime, 40, "same")
    counter = _CountingEmbedder()
    monkeypatch.setattr(sentences, "get_embedder", lambda: counter)
    one_by_one = [resolve(r, runtime.resolve_ctx) for r in records]
    assert counter.calls > 1, "without the batch prefetch each new customer costs its own call"
    batched = resolve_batch(records, runtime.resolve_ctx)
    assert sum(r.answer is not None for r in batched) >= 5
    for single, batch in zip(one_by_one, batched, strict=True):
        assert (single.answer is None) == (batch.answer is None)
        if single.answer is None or batch.answer is None:
            continue
        assert batch.answer.text == single.answer.text
        assert batch.answer.citations == single.answer.citations
        assert batch.answer.groundedness == pytest.approx(single.answer.groundedness, abs=1e-3)


def test_resolve_batch_with_model_tiers_answers_concurrently(runtime: Runtime) -> None:
    record = _answerable_records(runtime, 40, "llm")[0]
    copies = [record.model_copy(update={"ticket": record.ticket.model_copy(update={"ticket_id": f"c{i}"})})
              for i in range(3)]  # fmt: skip
    reply = Reply(answer_json("See the help center.", [record.sources[0].chunk_id]))
    with BarrierServer(parties=3, default=reply) as server:
        tiers = ModelTiers(commodity="openai/commodity-test", api_base=server.base_url,
                           api_key=SecretStr("sk-test"), max_retries=0, timeout_s=10)  # fmt: skip
        ctx = ResolveContext(TierClient(tiers), section_hints=runtime.resolve_ctx.section_hints)
        resolved = resolve_batch(copies, ctx)
    # The barrier only answers when all three calls are in flight together: one at a time would fail.
    assert len(server.requests) == 3
    assert [r.answer.model if r.answer else None for r in resolved] == ["openai/commodity-test"] * 3
    assert [r.ticket.ticket_id for r in resolved] == ["c0", "c1", "c2"]
