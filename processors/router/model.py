"""The trained intent router: linear heads on frozen MiniLM vectors (and optionally hashed n-grams).

An artifact is a directory with ``router.npz`` (weights) and ``router.json`` (classes, calibration,
thresholds, provenance). Its version is a hash of both, so a RouteDecision names exactly the weights
that produced it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supportflow.data import data_path
from supportflow.processors._e5_model import MODEL_ID as E5_MODEL_ID
from supportflow.processors._encoder_model import LEGACY_ENCODER
from supportflow.processors.router.calibration import FloatArray, softmax
from supportflow.processors.router.normalize import NORMALIZATION_VERSION, normalize_for_intent
from supportflow.processors.router.text_features import HashedTfidf
from supportflow.schemas.errors import InvalidInputError, PermanentError

OOS = "oos"
ARTIFACT_FORMAT = 1
_WEIGHTS, _META = "router.npz", "router.json"


@dataclass(frozen=True)
class Prediction:
    intent: str  # "oos" = out of scope
    confidence: float


@dataclass(frozen=True)
class Calibration:
    """Post-hoc settings for one way of scoring (embedding only, or embedding + n-grams)."""

    temperature: float = 1.0
    oos_threshold: float = 0.0  # below this an in-scope prediction becomes "oos"
    auto_threshold: float = 1.0  # at or above this the auto band reached the target precision on validation


@dataclass
class LinearHead:
    coef: npt.NDArray[np.float32]  # (classes, features)
    intercept: npt.NDArray[np.float32]  # (classes,)

    def log_proba(self, x: Any) -> FloatArray:
        logits = np.asarray(x @ self.coef.T, dtype=np.float64) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        out: FloatArray = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return out


@dataclass
class RouterParts:
    """Everything an IntentRouter is made of; what training produces and the artifact stores."""

    classes: list[str]
    oos_label: str | None
    embedding_head: LinearHead
    text_head: LinearHead | None = None
    tfidf: HashedTfidf | None = None
    text_weight: float = 0.0
    embedding_calibration: Calibration = field(default_factory=Calibration)
    combined_calibration: Calibration = field(default_factory=Calibration)
    # The n-gram view's input normalisation (``normalize.NORMALIZATION_VERSION``), None for raw text.
    text_normalization: str | None = None
    # ``Embedder.model_id`` of the encoder whose vectors the embedding head was fitted on; None in
    # artifacts from before it was recorded, which were all fitted on the shipped float32 graph.
    encoder: str | None = None
    info: dict[str, Any] = field(default_factory=dict)  # provenance: data, sizes, hyperparameters, metrics


class IntentRouter:
    """Batch intent prediction with calibrated confidence and out-of-scope rejection."""

    def __init__(self, parts: RouterParts) -> None:
        if (parts.text_head is None) != (parts.tfidf is None):
            raise ValueError("text_head and tfidf come together")
        if parts.text_normalization not in (None, NORMALIZATION_VERSION):
            raise PermanentError(
                f"router uses text normalisation {parts.text_normalization!r}; this code has {NORMALIZATION_VERSION!r}"
            )
        self.parts = parts
        self._classes = np.array(parts.classes, dtype=object)
        self._oos_index = parts.classes.index(parts.oos_label) if parts.oos_label in parts.classes else -1
        self.version = _version(parts)

    @property
    def uses_text(self) -> bool:
        return self.parts.text_head is not None

    @property
    def calibration(self) -> Calibration:
        """The calibration of the full model (what ``predict`` uses when given the texts)."""
        return self.parts.combined_calibration if self.uses_text else self.parts.embedding_calibration

    @property
    def auto_threshold(self) -> float:
        return self.calibration.auto_threshold

    @property
    def encoder(self) -> str:
        return self.parts.encoder or LEGACY_ENCODER

    def check_encoder(self, model_id: str) -> None:
        """Refuse vectors from another encoder: the heads, temperature and auto-band threshold were
        fitted on one encoder's vectors, and another's (even int8 vs float32 of the same model) would
        be scored with a calibration nobody measured."""
        if model_id != self.encoder:
            raise PermanentError(
                f"router {self.version} was trained on {self.encoder} vectors but this worker embeds with "
                f"{model_id}: retrain it (`supportflow router train`) or set SUPPORTFLOW_EMBEDDING_COMPUTE "
                f"to the mode it was trained with"
            )

    def recalibrated(self, embedding: Calibration, combined: Calibration, **info: Any) -> IntentRouter:
        """The same heads with other calibrations (e.g. from ``calibrate_on_splits``); ``info`` is added
        to the provenance. A new version, since calibration is part of what the artifact stores."""
        parts = replace(
            self.parts, embedding_calibration=embedding,
            combined_calibration=combined if self.uses_text else embedding, info={**self.parts.info, **info},
        )  # fmt: skip
        return IntentRouter(parts)

    @property
    def intents(self) -> list[str]:
        return [c for c in self.parts.classes if c != self.parts.oos_label]

    def predict(
        self,
        vectors: npt.NDArray[np.float32],
        texts: Sequence[str] | None = None,
        text_log_p: FloatArray | None = None,
    ) -> list[Prediction]:
        """Predict a batch. ``vectors`` come from ``get_embedder().encode``; pass the same ``texts`` too
        when the router has an n-gram head (``uses_text``), else it scores on the embedding alone with
        that mode's own calibration. ``text_log_p`` is :meth:`text_log_proba` of ``texts`` if the
        caller already computed it (the route stage does, while the encoder works)."""
        proba, calibration = self.predict_proba(vectors, texts, text_log_p)
        return self._decode(proba, calibration)

    def predict_proba(
        self,
        vectors: npt.NDArray[np.float32],
        texts: Sequence[str] | None = None,
        text_log_p: FloatArray | None = None,
    ) -> tuple[FloatArray, Calibration]:
        """Calibrated class probabilities (columns in ``parts.classes`` order) and the calibration used."""
        embedding_log_p, combined_log_p = self.raw_log_proba(vectors, texts, text_log_p)
        if combined_log_p is None:
            return softmax(
                embedding_log_p, self.parts.embedding_calibration.temperature
            ), self.parts.embedding_calibration
        return softmax(
            combined_log_p, self.parts.combined_calibration.temperature
        ), self.parts.combined_calibration

    def text_log_proba(self, texts: Sequence[str]) -> FloatArray | None:
        """Log-probabilities of the n-gram head alone (None without one); needs no vectors."""
        if self.parts.text_head is None or self.parts.tfidf is None:
            return None
        if self.parts.text_normalization is not None:
            texts = [normalize_for_intent(t) for t in texts]
        return self.parts.text_head.log_proba(self.parts.tfidf.transform(texts))

    def raw_log_proba(
        self,
        vectors: npt.NDArray[np.float32],
        texts: Sequence[str] | None = None,
        text_log_p: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray | None]:
        """Uncalibrated log-probabilities of the embedding head alone and, given ``texts`` and an
        n-gram head, of the blend (else None): what calibration is fitted on."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.parts.embedding_head.coef.shape[1]:
            raise InvalidInputError(
                f"expected vectors of shape (n, {self.parts.embedding_head.coef.shape[1]}), got {vectors.shape}"
            )
        if texts is not None and len(texts) != len(vectors):
            raise InvalidInputError(f"{len(texts)} texts for {len(vectors)} vectors")
        log_p = self.parts.embedding_head.log_proba(vectors)
        if texts is None:
            return log_p, None
        if text_log_p is not None and len(text_log_p) != len(vectors):
            raise InvalidInputError(f"{len(text_log_p)} text scores for {len(vectors)} vectors")
        text_log_p = text_log_p if text_log_p is not None else self.text_log_proba(texts)
        if text_log_p is None:  # no n-gram head
            return log_p, None
        w = self.parts.text_weight
        return log_p, (1 - w) * log_p + w * text_log_p

    def _decode(self, proba: FloatArray, calibration: Calibration) -> list[Prediction]:
        out = []
        for row in proba:
            top = int(row.argmax())
            if top == self._oos_index:
                out.append(Prediction(OOS, float(row[top])))
            elif row[top] < calibration.oos_threshold:
                # Rejected: the mass not on the best intent is the evidence that it fits none.
                out.append(Prediction(OOS, float(1.0 - row[top])))
            else:
                out.append(Prediction(str(self._classes[top]), float(row[top])))
        return out

    # ---- artifact ----

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        arrays, meta = _to_storage(self.parts)
        meta["version"] = self.version
        # float16 halves the artifact; the heads' logits move by < 1e-3, far below calibration noise.
        # numpy's stub types **kwds as the allow_pickle flag; the arrays are plain ndarrays.
        np.savez_compressed(path / _WEIGHTS, **arrays)  # type: ignore[arg-type]
        (path / _META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path | None = None) -> IntentRouter:
        path = path or data_path("router")
        try:
            meta = json.loads((path / _META).read_text())
            with np.load(path / _WEIGHTS) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise PermanentError(f"cannot read router artifact at {path}: {exc}") from exc
        if meta.get("format") != ARTIFACT_FORMAT:
            raise PermanentError(
                f"router artifact {path} has format {meta.get('format')}, want {ARTIFACT_FORMAT}"
            )
        router = cls(_from_storage(arrays, meta))
        if meta.get("version") and meta["version"] != router.version:
            raise PermanentError(
                f"router artifact {path} is corrupt: version {meta['version']} != {router.version}"
            )
        return router


def _to_storage(parts: RouterParts) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {
        "embedding_coef": parts.embedding_head.coef.astype(np.float16),
        "embedding_intercept": parts.embedding_head.intercept.astype(np.float32),
    }
    if parts.text_head is not None and parts.tfidf is not None and parts.tfidf.idf is not None:
        arrays["text_coef"] = parts.text_head.coef.astype(np.float16)
        arrays["text_intercept"] = parts.text_head.intercept.astype(np.float32)
        arrays["idf"] = parts.tfidf.idf.astype(np.float16)
    meta = {
        "format": ARTIFACT_FORMAT,
        "classes": parts.classes,
        "oos_label": parts.oos_label,
        "text_weight": parts.text_weight,
        "text_features": parts.tfidf.n_features if parts.tfidf else 0,
        "embedding_calibration": asdict(parts.embedding_calibration),
        "combined_calibration": asdict(parts.combined_calibration),
        "info": parts.info,
    }
    # Only when set: older artifacts keep their version hash.
    if parts.text_normalization is not None:
        meta["text_normalization"] = parts.text_normalization
    if parts.encoder is not None:
        meta["encoder"] = parts.encoder
    return arrays, meta


def _from_storage(arrays: dict[str, npt.NDArray[Any]], meta: dict[str, Any]) -> RouterParts:
    f32 = np.float32
    text_head, tfidf = None, None
    if "text_coef" in arrays:
        text_head = LinearHead(arrays["text_coef"].astype(f32), arrays["text_intercept"].astype(f32))
        tfidf = HashedTfidf(int(meta["text_features"]), idf=arrays["idf"].astype(f32))
    return RouterParts(
        classes=list(meta["classes"]),
        oos_label=meta["oos_label"],
        embedding_head=LinearHead(
            arrays["embedding_coef"].astype(f32), arrays["embedding_intercept"].astype(f32)
        ),
        text_head=text_head,
        tfidf=tfidf,
        text_weight=float(meta["text_weight"]),
        embedding_calibration=Calibration(**meta["embedding_calibration"]),
        combined_calibration=Calibration(**meta["combined_calibration"]),
        text_normalization=meta.get("text_normalization"),
        encoder=meta.get("encoder"),
        info=dict(meta.get("info", {})),
    )


def _version(parts: RouterParts) -> str:
    """Content hash of what the artifact stores (after the float16 round trip), so save/load keep it."""
    arrays, meta = _to_storage(parts)
    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    meta.pop("info")
    h.update(json.dumps(meta, sort_keys=True).encode())
    # Named for the encoder its embedding head reads, so an audit record says which router decided.
    encoder = "e5" if (parts.encoder or "").startswith(E5_MODEL_ID.split("+")[0]) else "minilm"
    kind = f"{encoder}-lr+ngram" if parts.text_head is not None else f"{encoder}-lr"
    return f"{kind}-{h.hexdigest()[:12]}"
