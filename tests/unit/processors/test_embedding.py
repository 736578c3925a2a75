"""The shared encoder: batching and thread count are speed knobs, never a change in the vectors."""

from __future__ import annotations

import numpy as np
import pytest

from supportflow.evals.bench import sample_tickets
from supportflow.processors import embedding
from supportflow.processors.embedding import Embedder
from supportflow.processors.route import ticket_query


def test_embedder_batch_size_and_threads_same_vectors() -> None:
    texts = [ticket_query(t) for t in sample_tickets()][:40]
    reference = Embedder(threads=1, batch_size=1).encode(texts)
    assert reference.shape == (len(texts), embedding.DIMENSIONS)
    assert np.allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)
    for threads, batch_size in ((1, 4), (2, 4), (2, 16), (None, 64)):
        vectors = Embedder(threads=threads, batch_size=batch_size).encode(texts)
        # Padding is masked out of the mean: batch shape moves vectors only by float noise.
        assert np.abs(vectors - reference).max() < 1e-3, (threads, batch_size)
    assert len({round(float(v[0]), 4) for v in reference}) > 10, "distinct texts should give distinct vectors"


def test_use_threads_rebuilds_shared_encoder_only_on_change() -> None:
    try:
        embedding.use_threads(1)
        first = embedding.get_embedder()
        embedding.use_threads(1)
        assert embedding.get_embedder() is first
        embedding.use_threads(None)
        assert embedding.get_embedder() is not first
    finally:
        embedding.use_threads(None)


def test_embedder_submit_returns_same_vectors_as_encode() -> None:
    texts = [ticket_query(t) for t in sample_tickets()][:20]
    encoder = Embedder(threads=2)
    try:
        pending = [encoder.submit(texts[:9]), encoder.submit(texts[9:])]
        vectors = np.vstack([p.result() for p in pending])
        assert np.abs(vectors - encoder.encode(texts)).max() < 1e-5
    finally:
        encoder.close()


def test_embedder_submit_run_error_raises_on_result(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = Embedder(threads=2)

    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("onnx run failed")

    monkeypatch.setattr(encoder, "_encode_batch", broken)
    try:
        pending = encoder.submit(["one", "two", "three", "four", "five"])
        with pytest.raises(RuntimeError, match="onnx run failed"):
            pending.result()
    finally:
        encoder.close()


def test_use_threads_earlier_encoder_still_usable_by_its_holder() -> None:
    try:
        embedding.use_threads(1)
        held = embedding.get_embedder()  # as a Runtime's RouteContext holds it
        embedding.use_threads(2)
        assert held.submit(["one", "two", "three"]).result().shape == (3, embedding.DIMENSIONS)
    finally:
        embedding.use_threads(None)
