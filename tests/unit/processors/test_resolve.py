"""resolve_batch: same answers as ticket-by-ticket resolve, with the batch's CRM evidence embedded once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from supportflow.evals.bench import bench_events
from supportflow.processors.knowledge import sentences
from supportflow.processors.resolve import resolve, resolve_batch
from supportflow.schemas import wire
from supportflow.schemas.models import Band, CustomerContext, PipelineRecord
from supportflow.settings import Settings
from supportflow.streams.runtime import Runtime


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    rt = Runtime.build(Settings(), kb_in_memory=True)
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
