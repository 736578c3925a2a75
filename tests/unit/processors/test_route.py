"""route_batch: embedding in chunks, classified as they come back, decides exactly as one at a time."""

from __future__ import annotations

import numpy as np
import pytest

from supportflow.evals.bench import bench_events
from supportflow.processors import route as route_module
from supportflow.processors.route import route_batch
from supportflow.schemas import wire
from supportflow.streams.runtime import Runtime


def test_route_batch_chunked_same_decisions_as_one_at_a_time(runtime: Runtime) -> None:
    records = [r for e in bench_events(27) for r in runtime.normalize(wire.encode(e))]
    assert len(records) > 2 * route_module.ROUTE_CHUNK, "several chunks, the last one partial"
    batched = route_batch(records, runtime.route_ctx)
    single = [route_batch([r], runtime.route_ctx)[0] for r in records]
    assert [r.ticket.ticket_id for r in batched] == [r.ticket.ticket_id for r in records]
    for b, s in zip(batched, single, strict=True):
        assert b.route is not None and s.route is not None
        assert (b.route.intent, b.route.band, b.route.tier, b.route.reasons) == (
            s.route.intent, s.route.band, s.route.tier, s.route.reasons,
        )  # fmt: skip
        assert b.route.confidence == pytest.approx(s.route.confidence, abs=1e-4)
        assert b.customer == s.customer
        vb = np.frombuffer(b.embedding, dtype=np.float32)
        vs = np.frombuffer(s.embedding, dtype=np.float32)
        assert np.abs(vb - vs).max() < 1e-3
