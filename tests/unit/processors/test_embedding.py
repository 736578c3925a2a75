"""The shared encoder: batching and thread count are speed knobs, never a change in the vectors;
int8 compute moves them a little and has its own name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from supportflow.evals.bench import sample_tickets
from supportflow.processors import embedding
from supportflow.processors.embedding import Embedder
from supportflow.processors.route import ticket_query


def test_embedder_fp32_batch_size_and_threads_same_vectors() -> None:
    texts = [ticket_query(t) for t in sample_tickets()][:40]
    reference = Embedder(threads=1, batch_size=1, compute="fp32").encode(texts)
    assert reference.shape == (len(texts), embedding.DIMENSIONS)
    assert np.allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)
    for threads, batch_size in ((1, 4), (2, 4), (2, 16), (None, 64)):
        vectors = Embedder(threads=threads, batch_size=batch_size, compute="fp32").encode(texts)
        # Padding is masked out of the mean: batch shape moves vectors only by float noise.
        assert np.abs(vectors - reference).max() < 1e-3, (threads, batch_size)
    assert len({round(float(v[0]), 4) for v in reference}) > 10, "distinct texts should give distinct vectors"


def test_embedder_int8_vector_independent_of_neighbours_and_threads() -> None:
    texts = [ticket_query(t) for t in sample_tickets()][:40]
    alone = np.vstack([Embedder(threads=1).encode([t]) for t in texts[:5]])
    for threads in (1, 2, None):
        together = Embedder(threads=threads).encode(texts)
        assert np.array_equal(together[:5], alone), threads
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_embedder_tokens_unpadded_and_truncated_at_max_tokens() -> None:
    short, long = Embedder(threads=1)._tokenize(["where is my order", "word " * 1000])
    # The tokenizer file pads everything to 128 tokens; runs pad only to their own longest text.
    assert len(short) < 10
    assert len(long) == embedding.MAX_TOKENS


def test_embedder_int8_batched_runs_refused() -> None:
    with pytest.raises(ValueError, match="one text per run"):
        Embedder(batch_size=2, compute="int8")


def test_configure_rebuilds_shared_encoder_only_on_change() -> None:
    try:
        embedding.configure(1)
        first = embedding.get_embedder()
        embedding.configure(1)
        assert embedding.get_embedder() is first
        embedding.configure(None)
        second = embedding.get_embedder()
        assert second is not first
        embedding.configure(None, "fp32")
        assert embedding.get_embedder() is not second
        assert embedding.get_embedder().model_id != second.model_id
    finally:
        embedding.configure(None)


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

    def broken(feed: object) -> np.ndarray:
        raise RuntimeError("onnx run failed")

    monkeypatch.setattr(encoder, "_run", broken)
    try:
        pending = encoder.submit(["one", "two", "three", "four", "five"])
        with pytest.raises(RuntimeError, match="onnx run failed"):
            pending.result()
    finally:
        encoder.close()


def test_configure_earlier_encoder_still_usable_by_its_holder() -> None:
    try:
        embedding.configure(1)
        held = embedding.get_embedder()  # as a Runtime's RouteContext holds it
        embedding.configure(2)
        assert held.submit(["one", "two", "three"]).result().shape == (3, embedding.DIMENSIONS)
    finally:
        embedding.configure(None)


def test_embedder_int8_compute_close_to_fp32_vectors() -> None:
    texts = [ticket_query(t) for t in sample_tickets()]
    int8, fp32 = Embedder(threads=1, compute="int8"), Embedder(threads=1, compute="fp32")
    cosine = (int8.encode(texts) * fp32.encode(texts)).sum(axis=1)
    # Measured on these 70 texts: mean 0.993, min 0.986. Far looser and the router's calibration
    # (fitted on one encoder) would be at risk; that is why artifacts record their encoder.
    assert cosine.mean() > 0.985 and cosine.min() > 0.97, (cosine.mean(), cosine.min())
    assert int8.model_id != fp32.model_id


def test_configure_cache_dir_used_by_shared_encoder(tmp_path: Path) -> None:
    try:
        embedding.configure(1, "int8", tmp_path)
        assert embedding.get_embedder().encode(["where is my order"]).shape == (1, embedding.DIMENSIONS)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("minilm-")], "derived into cache_dir"
    finally:
        embedding.configure(None)
