"""Training, prediction and the artifact round trip, on synthetic vectors (fast) and real MiniLM."""

import json
from dataclasses import replace

import numpy as np
import pytest

from supportflow.processors.embedding import Embedder, get_embedder
from supportflow.processors.router import OOS, IntentRouter, TrainOptions, calibrate_on_splits, train_router
from supportflow.schemas.errors import InvalidInputError, PermanentError

RNG = np.random.default_rng(3)
INTENTS = ["track_order", "get_refund", "recover_password", "cancel_order"]


def _clusters(n_per=60, spread=0.35, oos=0):
    """Unit vectors around one random centre per intent; ``oos`` rows scattered anywhere."""
    centres = RNG.normal(size=(len(INTENTS), 384))
    x, y, texts = [], [], []
    for i, intent in enumerate(INTENTS):
        pts = centres[i] + spread * np.linalg.norm(centres[i]) * RNG.normal(size=(n_per, 384)) / np.sqrt(384)
        x.append(pts)
        y += [intent] * n_per
        texts += [f"{intent.replace('_', ' ')} request number {k}" for k in range(n_per)]
    if oos:
        x.append(RNG.normal(size=(oos, 384)))
        y += [OOS] * oos
        texts += [f"something else entirely {k}" for k in range(oos)]
    v = np.vstack(x).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True), y, texts


def test_train_router_separable_clusters_predicts_right_intents():
    x, y, texts = _clusters()
    router = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    xt, yt, _ = _clusters()
    # fresh clusters have new centres, so test on the training geometry instead: held-in accuracy
    preds = router.predict(x)
    assert np.mean([p.intent == t for p, t in zip(preds, y, strict=True)]) > 0.98
    assert sorted(router.intents) == sorted(INTENTS)
    assert router.version.startswith("minilm-lr-")
    assert 0.0 < router.auto_threshold <= 1.0
    assert len(xt) == len(yt)


def test_train_router_learns_oos_class_and_never_returns_other_labels():
    x, y, texts = _clusters(oos=80)
    router = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    preds = router.predict(x)
    assert {p.intent for p in preds} <= {*INTENTS, OOS}
    oos_hits = [p.intent == OOS for p, t in zip(preds, y, strict=True) if t == OOS]
    assert np.mean(oos_hits) > 0.8


def test_intent_router_save_load_round_trip_keeps_predictions_and_version(tmp_path):
    x, y, texts = _clusters(oos=40)
    router = train_router(
        texts, y, vectors=x, progress=False, options=TrainOptions(text_features=2**12, text_weight=0.5)
    )
    assert router.uses_text
    router.save(tmp_path / "r")
    loaded = IntentRouter.load(tmp_path / "r")
    assert loaded.version == router.version
    assert loaded.auto_threshold == router.auto_threshold
    assert loaded.predict(x, texts) == router.predict(x, texts)
    assert loaded.predict(x) == router.predict(x)  # embedding-only fallback, its own calibration
    meta = json.loads((tmp_path / "r" / "router.json").read_text())
    assert meta["version"] == router.version and meta["info"]["train_rows"] == len(y)


def test_intent_router_predict_precomputed_text_scores_same_predictions():
    x, y, texts = _clusters(oos=40)
    router = train_router(
        texts, y, vectors=x, progress=False, options=TrainOptions(text_features=2**12, text_weight=0.5)
    )
    text_log_p = router.text_log_proba(texts)
    assert text_log_p is not None and text_log_p.shape == (len(texts), len(router.parts.classes))
    # the route stage scores a whole batch's n-grams up front and slices them per chunk
    assert router.predict(x[5:13], texts[5:13], text_log_p[5:13]) == router.predict(x[5:13], texts[5:13])
    with pytest.raises(InvalidInputError, match="text scores"):
        router.predict(x[:3], texts[:3], text_log_p[:2])
    embedding_only = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    assert embedding_only.text_log_proba(texts) is None


def test_intent_router_load_detects_tampered_artifact(tmp_path):
    x, y, texts = _clusters()
    train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False)).save(tmp_path)
    meta = json.loads((tmp_path / "router.json").read_text())
    meta["embedding_calibration"]["auto_threshold"] = 0.0
    (tmp_path / "router.json").write_text(json.dumps(meta))
    with pytest.raises(PermanentError, match="corrupt"):
        IntentRouter.load(tmp_path)


def test_intent_router_load_missing_artifact_raises(tmp_path):
    with pytest.raises(PermanentError, match="cannot read router artifact"):
        IntentRouter.load(tmp_path)


def test_intent_router_predict_rejects_wrong_shapes():
    x, y, texts = _clusters(n_per=20)
    router = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    with pytest.raises(InvalidInputError):
        router.predict(np.zeros((2, 10), dtype=np.float32))
    with pytest.raises(InvalidInputError):
        router.predict(x[:2], ["only one text"])


def test_train_router_oos_recall_target_out_of_range_is_rejected():
    x, y, texts = _clusters(n_per=20, oos=20)
    with pytest.raises(InvalidInputError, match="oos recall target"):
        train_router(texts, y, vectors=x, progress=False, options=TrainOptions(oos_recall_target=85.0))


def test_train_router_oos_recall_target_raises_the_cut_for_more_recall():
    # Out-of-scope rows drawn from the intents' own clusters: the model cannot tell them apart, so
    # only a confidence cut catches them, and a higher recall target needs a higher cut.
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(len(INTENTS), 384))

    def around(centre, n):
        return centre + 0.8 * np.linalg.norm(centre) * rng.normal(size=(n, 384)) / np.sqrt(384)

    x = np.vstack([around(c, 60) for c in centres] + [around(centres[k % 4], 1) for k in range(60)])
    y = [intent for intent in INTENTS for _ in range(60)] + [OOS] * 60
    texts = [f"row {k}" for k in range(len(y))]

    def cut(target):
        opts = TrainOptions(use_text=False, oos_recall_target=target)
        router = train_router(texts, y, vectors=x.astype(np.float32), progress=False, options=opts)
        return router.calibration.oos_threshold

    default, half, all_of_them = cut(None), cut(0.5), cut(1.0)
    assert default < half < all_of_them


def test_train_router_rejects_bad_input():
    with pytest.raises(InvalidInputError):
        train_router(["a", "b"], ["x"], progress=False)
    with pytest.raises(InvalidInputError):
        train_router(["a", "b"], ["x", "x"], progress=False)


def test_shipped_router_loads_and_routes_real_tickets():
    router = IntentRouter.load()
    texts = [
        "can you help me track my order NW-100202?",
        "I forgot my password and can't log in",
        "what's the capital of australia",
    ]
    preds = router.predict(get_embedder().encode(texts), texts)
    assert [p.intent for p in preds[:2]] == ["track_order", "recover_password"]
    assert preds[2].intent == OOS
    assert all(0.0 <= p.confidence <= 1.0 for p in preds)


def test_intent_router_artifact_records_encoder_and_refuses_another(tmp_path):
    x, y, texts = _clusters(n_per=20)
    router = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    assert router.encoder == get_embedder().model_id
    router.save(tmp_path)
    loaded = IntentRouter.load(tmp_path)
    assert loaded.encoder == router.encoder
    loaded.check_encoder(get_embedder().model_id)  # same encoder: fine
    with pytest.raises(PermanentError, match="SUPPORTFLOW_EMBEDDING_COMPUTE"):
        loaded.check_encoder("some-other-encoder")


def test_intent_router_legacy_artifact_means_shipped_fp32_encoder(tmp_path):
    x, y, texts = _clusters(n_per=20)
    router = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    router.save(tmp_path)
    meta = json.loads((tmp_path / "router.json").read_text())
    del meta["encoder"]  # as written before artifacts recorded it
    meta["version"] = IntentRouter(replace(router.parts, encoder=None)).version
    (tmp_path / "router.json").write_text(json.dumps(meta))
    legacy = IntentRouter.load(tmp_path)
    assert legacy.encoder == Embedder(threads=1, compute="fp32").model_id
    with pytest.raises(PermanentError, match="trained on"):
        legacy.check_encoder(Embedder(threads=1, compute="int8").model_id)


def test_shipped_router_matches_default_encoder():
    IntentRouter.load().check_encoder(get_embedder().model_id)


def test_calibrate_on_splits_pools_every_splits_rows():
    # Two splits, each scored by heads fitted without it: the pooled calibration rests on both.
    x, y, texts = _clusters(n_per=80, spread=2.5, oos=40)
    half = len(y) // 2
    order = RNG.permutation(len(y))
    a, b = order[:half], order[half:]
    held_out = []
    for fit, held in ((a, b), (b, a)):
        router = train_router(
            [texts[i] for i in fit], [y[i] for i in fit], vectors=x[fit], progress=False,
            options=TrainOptions(use_text=False),
        )  # fmt: skip
        held_out.append((router, x[held], [texts[i] for i in held], [y[i] for i in held]))
    pooled, _ = calibrate_on_splits(held_out)
    one, _ = calibrate_on_splits(held_out[:1])
    assert pooled != one  # the second split's rows changed the fit
    assert pooled.temperature > 0.0 and 0.0 < pooled.auto_threshold <= 1.0
    recalibrated = held_out[0][0].recalibrated(pooled, pooled, calibration_rows=len(y))
    assert recalibrated.auto_threshold == pooled.auto_threshold
    assert recalibrated.version != held_out[0][0].version
    assert recalibrated.parts.info["calibration_rows"] == len(y)


def test_calibrate_on_splits_rejects_routers_with_different_classes():
    x, y, texts = _clusters(n_per=20)
    full = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    keep = [i for i, label in enumerate(y) if label != INTENTS[0]]
    fewer = train_router(
        [texts[i] for i in keep], [y[i] for i in keep], vectors=x[keep], progress=False,
        options=TrainOptions(use_text=False),
    )  # fmt: skip
    with pytest.raises(InvalidInputError, match="same classes"):
        calibrate_on_splits(
            [(full, x, texts, y), (fewer, x[keep], [texts[i] for i in keep], [y[i] for i in keep])]
        )


def test_train_router_without_val_calibrates_on_every_row_out_of_fold():
    x, y, texts = _clusters(n_per=40, spread=2.5, oos=40)
    router = train_router(texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False))
    assert router.parts.info["calibration_rows"] == len(y)
    assert router.parts.info["calibration_source"].startswith("5 folds")
    single = train_router(
        texts, y, vectors=x, progress=False, options=TrainOptions(use_text=False, calibration_folds=1)
    )
    assert single.parts.info["calibration_rows"] < len(y) / 3
    assert single.parts.info["calibration_source"] == "split of training rows"
    # Same heads (both refit on every row); only the calibration differs.
    assert np.array_equal(router.parts.embedding_head.coef, single.parts.embedding_head.coef)
