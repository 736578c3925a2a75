"""Entity normalisation, ticket-shaped augmentation, and the shipped router on ticket-shaped text."""

import json
import random

import numpy as np
import pytest

from supportflow.processors.embedding import get_embedder
from supportflow.processors.router import OOS, IntentRouter, TrainOptions, train_router
from supportflow.processors.router.augment import realistic_variant
from supportflow.processors.router.normalize import NORMALIZATION_VERSION, normalize_for_intent
from supportflow.schemas.errors import PermanentError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tracking number for NW-100231 again?", "Tracking number for zzid again?"),
        ("refund of $893 for order #NW-100263", "refund of zzmoney for order zzid"),
        ("cancel purchase 113542617735902", "cancel purchase zzid"),
        ("invoice #12588, 15,99€ and 20 dollars", "invoice zzid , zzmoney and zzmoney"),
        ("mail jane.doe@gmail.com or call +1 415 555 0134", "mail zzemail or call zzphone"),
        ("see https://example.com/a?b=1 for 1Z999AA10123456784", "see zzurl for zzid"),
    ],
)
def test_normalize_for_intent_entities_become_fixed_tokens(text, expected):
    assert normalize_for_intent(text) == expected


def test_normalize_for_intent_small_numbers_and_codes_stay():
    text = "size 10 in 5 days, promo code BLACKFRIDAY30, since 2024"
    assert normalize_for_intent(text) == text


def test_realistic_variant_same_seed_same_text_and_store_ids():
    pool = ["where is my order", "track purchase 4587345"]
    a = [
        realistic_variant("track purchase 113542617735902", "track_order", random.Random(5), pool)
        for _ in range(3)
    ]
    b = [
        realistic_variant("track purchase 113542617735902", "track_order", random.Random(5), pool)
        for _ in range(3)
    ]
    assert a == b
    many = [
        realistic_variant("track purchase 113542617735902", "track_order", random.Random(s))
        for s in range(50)
    ]
    assert not any("113542617735902" in v for v in many)  # the data set's id format never survives
    assert any(v != "track purchase 113542617735902" for v in many)


def _toy(n=40):
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for intent, words in (("track_order", "where is my order"), ("get_refund", "i want my money back")):
        for k in range(n):
            texts.append(f"{words} {rng.integers(100000, 999999)} please {k % 7}")
            labels.append(intent)
    x = rng.normal(size=(len(texts), 384)).astype(np.float32)
    return texts, labels, x / np.linalg.norm(x, axis=1, keepdims=True)


def test_train_router_normalize_text_is_stored_and_applied_after_load(tmp_path):
    texts, labels, x = _toy()
    router = train_router(
        texts[::2], labels[::2], vectors=x[::2], val_texts=texts[1::2], val_labels=labels[1::2],
        val_vectors=x[1::2], progress=False,
        options=TrainOptions(text_features=2**12, text_weight=0.5, normalize_text=True, refit_with_val=True),
    )  # fmt: skip
    assert router.parts.text_normalization == NORMALIZATION_VERSION
    assert router.parts.info["train_rows"] == len(texts)  # refit on train + validation rows
    router.save(tmp_path)
    loaded = IntentRouter.load(tmp_path)
    assert loaded.version == router.version
    # Different ids normalise to the same token, so they cannot change the prediction.
    a = loaded.predict_proba(x[:1], ["where is my order NW-100231 please"])[0]
    b = loaded.predict_proba(x[:1], ["where is my order 987654321 please"])[0]
    assert np.allclose(a, b)


def test_intent_router_load_unknown_normalization_raises(tmp_path):
    texts, labels, x = _toy()
    router = train_router(
        texts, labels, vectors=x, progress=False,
        options=TrainOptions(text_features=2**12, text_weight=0.5, normalize_text=True),
    )  # fmt: skip
    router.save(tmp_path)
    meta = json.loads((tmp_path / "router.json").read_text())
    meta["text_normalization"] = "entities-v0"
    (tmp_path / "router.json").write_text(json.dumps(meta))
    with pytest.raises(PermanentError):
        IntentRouter.load(tmp_path)


def test_shipped_router_ticket_shaped_text_routes_to_intent_not_oos():
    router = IntentRouter.load()
    texts = [
        # (Known weakness: "it still hasn't arrived" alone tends to go to delivery_period.)
        "Hi,\nCould you send me the tracking link for order NW-100288 again? I deleted the email.\nThanks,\nKaren",
        "Hello, please cancel order NW-100291, I picked the wrong size. Best regards, Omar",
        "Hi team, the reset password email never arrives at k.lee@example.org. Can you help?",
        "Hey, is it going to rain in Oslo tomorrow? Thanks!",
    ]
    preds = router.predict(get_embedder().encode(texts), texts)
    assert [p.intent for p in preds] == ["track_order", "cancel_order", "recover_password", OOS]
