"""Rebuild the shipped demo-store router from the public data sets in a folder ``DATA`` (Bitext, CLINC150).

    python supportflow/data/router/build_demo_router.py --data-dir $DATA [--holdout]

In-scope: the Bitext customer-support instructions (27 intents, CDLA-Sharing-1.0), both CSVs,
de-duplicated. Out-of-scope negatives (label ``oos``), CC-BY-3.0: up to 10 rows from each CLINC150
intent of a domain no store customer writes about (weather, travel, cooking, cars, small talk, ...)
plus CLINC's own out-of-scope rows minus those that read like a shop request ("change my billing
address"). Banking, credit cards, rewards and the assistant meta-intents (greetings, thanks, yes/no)
are left out: they overlap a store's payment questions or sit inside every real ticket ("Hi, ...
thanks!"), so they would teach the router that its own tickets are out of scope.

Real tickets are not Bitext templates: every row also gets one ticket-shaped variant
(``augment.realistic_variant``: greeting, store-style order id, second sentence, sign-off; the same
wrappers around oos rows). Calibration and thresholds come from ~15% of the *base* rows (with their
variants), held out as whole clusters per intent (see ``grouped_split``), in each of 4 splits with
their own seeds, pooled (``calibrate_on_splits``); the heads are then refitted on everything. The
n-gram view reads entity-normalised text (``normalize.normalize_for_intent``).
``--holdout`` writes that split to /tmp for ``eval route`` instead of building.

The encoder is the configured one (``SUPPORTFLOW_EMBEDDING_MODEL``); the default ``--out`` is where the
runtime looks for that encoder's shipped router (``e5/`` for multilingual-e5-small).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from supportflow.processors.embedding import get_embedder
from supportflow.processors.router import TrainOptions, calibrate_on_splits, train_router
from supportflow.processors.router.augment import realistic_variant
from supportflow.settings import get_settings

HERE = Path(__file__).parent
SEED = 20261123
CLINC_PER_INTENT = 10
HOLDOUT_FRACTION = 0.15
# The n-gram view's blend weight, fixed rather than chosen by held-out log-loss: on template-shaped
# held-out rows the n-grams look strong (0.7 chosen), but on realistic tickets
# (``dev_realistic.csv``, hand-written, used for this choice) they push in-scope tickets to oos:
# accuracy 0.0/0.1/0.3/0.7 -> 80.8/83.2/78.4/64.8%. 0.1 keeps their help on product words and ids.
NGRAM_WEIGHT = 0.1
# The embedding head's C, fixed for the same reason: held-out log-loss on the template clusters picks
# 30 or 100 depending on how the cluster split falls (it moved with the int8 encoder's vectors), and
# on dev_realistic.csv 30 is the better one (int8 encoder, C 10/30/100: accuracy 81.6/82.4/81.6%,
# ECE 0.075/0.074/0.095, auto band 74 at 97.3% / 72 at 97.2% / 78 at 94.9%).
EMBEDDING_C = 30.0
# Temperature, oos cut and auto threshold are fitted on the union of this many cluster splits, each
# scored by heads fitted without it. From one split the auto threshold swung from 0.74 to 0.99 with
# the split's seed (and with the encoder's vectors, which move the k-means clusters).
CALIBRATION_SPLITS = 4
# CLINC intents from domains a clothing store's customer never means (travel, car, kitchen, home
# assistant, small talk, work): the only ones used as negatives.
CLINC_OFF_TOPIC = {
    "alarm", "book_flight", "book_hotel", "calculator", "calendar", "calendar_update", "calories",
    "car_rental", "carry_on", "change_volume", "cook_time", "current_location", "date", "definition",
    "directions", "distance", "do_you_have_pets", "exchange_rate", "find_phone", "flight_status",
    "flip_coin", "food_last", "fun_fact", "gas", "gas_type", "how_busy", "how_old_are_you",
    "ingredient_substitution", "ingredients_list", "international_visa", "jump_start", "last_maintenance",
    "lost_luggage", "make_call", "meal_suggestion", "meaning_of_life", "measurement_conversion",
    "meeting_schedule", "mpg", "next_holiday", "next_song", "nutrition_info", "oil_change_how",
    "oil_change_when", "play_music", "plug_type", "pto_balance", "pto_request", "pto_request_status",
    "pto_used", "recipe", "reminder", "reminder_update", "restaurant_reservation", "restaurant_reviews",
    "restaurant_suggestion", "roll_dice", "schedule_maintenance", "schedule_meeting", "share_location",
    "smart_home", "spelling", "tell_joke", "text", "time", "timer", "timezone", "tire_change",
    "tire_pressure", "todo_list", "todo_list_update", "traffic", "translate", "travel_alert",
    "travel_suggestion", "uber", "update_playlist", "vaccines", "weather", "what_are_your_hobbies",
    "what_song", "where_are_you_from", "who_made_you", "w2", "taxes", "rollover_401k",
}  # fmt: skip
# CLINC's out-of-scope rows that a store customer could write (its intents' words): not negatives.
SHOP_WORDS = re.compile(
    r"\b(order|purchase|buy|bought|ship|deliver|package|parcel|refund|return|cancel|address|account|"
    r"password|login|log in|sign up|register|invoice|bill|billing|payment|pay|card|charge|customer service|"
    r"support|agent|complain|review|subscri|newsletter|email|price|discount|coupon|promo|store|shop)",
    re.IGNORECASE,
)


def bitext_rows(data_dir: Path) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for name in ("bitext_cs_train_6480_short_responses.csv", "bitext_cs_train_4514_long_responses.csv"):
        with (data_dir / "bitext" / name).open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                seen.setdefault(row["instruction"].strip(), row["intent"].strip())
    return sorted(seen.items())


def clinc_negatives(data_dir: Path) -> list[tuple[str, str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with (data_dir / "clinc150" / "train.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_intent[row["label"]].append(row["text"])
    rng = random.Random(SEED)
    rows = [(t, "oos") for t in by_intent.pop("oos", []) if not SHOP_WORDS.search(t)]
    for intent in sorted(CLINC_OFF_TOPIC):
        texts = by_intent[intent]
        rows += [(t, "oos") for t in rng.sample(texts, min(CLINC_PER_INTENT, len(texts)))]
    return rows


def grouped_split(
    rows: list[tuple[str, str]], vectors: np.ndarray, seed: int = SEED
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Hold out whole clusters of each label's base rows (before augmentation, so a row and its
    variant stay together). Bitext is generated from templates: a random split puts near-copies of
    every calibration row in the fitting part and the calibration comes out far too sure of itself
    for real tickets. Clusters of sentence vectors (~7 per label) are a cheap stand-in for templates;
    holding out whole ones makes the calibration rows unlike anything fitted, as real tickets are."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, (_, label) in enumerate(rows):
        by_label[label].append(i)
    held_idx: set[int] = set()
    for label in sorted(by_label):
        idx = by_label[label]
        k = max(2, round(1 / HOLDOUT_FRACTION)) if label != "oos" else 1
        if k == 1:  # oos is already a mix of unrelated domains: a plain random share
            held_idx.update(rng.sample(idx, round(HOLDOUT_FRACTION * len(idx))))
            continue
        clusters = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(vectors[idx])
        order = list(range(k))
        rng.shuffle(order)
        taken = 0
        for c in order:  # whole clusters until the label's share is reached
            if taken >= HOLDOUT_FRACTION * len(idx):
                break
            members = [i for i, ci in zip(idx, clusters, strict=True) if ci == c]
            held_idx.update(members)
            taken += len(members)
    fit = [r for i, r in enumerate(rows) if i not in held_idx]
    held = [r for i, r in enumerate(rows) if i in held_idx]
    return fit, held


def with_variants(rows: list[tuple[str, str]], seed: int) -> list[tuple[str, str]]:
    """Each row plus one ticket-shaped variant; a second sentence comes from the same side of the split."""
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = defaultdict(list)
    for text, label in rows:
        by_label[label].append(text)
    out = list(rows)
    for text, label in rows:
        out.append((realistic_variant(text, label, rng, by_label[label]), label))
    return out


class CachedEncoder:
    """The shared embedder, remembering every text's vector: base rows recur in all four splits and
    a text's vector does not depend on its batch, so each distinct text is embedded once."""

    def __init__(self) -> None:
        self._vectors: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if new:
            self._vectors.update(zip(new, get_embedder().encode(new), strict=True))
        return np.vstack([self._vectors[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding bitext/ and clinc150/")
    default_out = HERE if get_settings().embedding_model == "minilm" else HERE / "e5"
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--holdout", action="store_true", help="write train/test CSVs to /tmp, no artifact")
    args = parser.parse_args()
    base = bitext_rows(args.data_dir) + clinc_negatives(args.data_dir)
    encoder = CachedEncoder()
    base_vectors = encoder.encode([t for t, _ in base])
    splits = []  # (fit, held) with their ticket-shaped variants, one per split seed
    for k in range(CALIBRATION_SPLITS):
        fit_base, held_base = grouped_split(base, base_vectors, SEED + 10 * k)
        splits.append((with_variants(fit_base, SEED + 10 * k), with_variants(held_base, SEED + 10 * k + 1)))
    fit, held = splits[0]
    if args.holdout:
        for name, part in (("train", fit), ("test", held)):
            with open(f"/tmp/demo_router_{name}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["text", "label"])
                w.writerows(part)
        print(f"wrote /tmp/demo_router_train.csv ({len(fit)}) and /tmp/demo_router_test.csv ({len(held)})")
        return
    options = TrainOptions(
        text_features=2**15, text_weight=NGRAM_WEIGHT, normalize_text=True, embedding_c=EMBEDDING_C
    )
    held_out = []
    for k, (split_fit, split_held) in enumerate(splits):
        print(f"calibration split {k + 1}/{CALIBRATION_SPLITS}", flush=True)
        fit_texts, held_texts = [t for t, _ in split_fit], [t for t, _ in split_held]
        held_labels = [lab for _, lab in split_held]
        # Embedded once here; the final fit below reuses split 0's vectors.
        vectors = encoder.encode(fit_texts), encoder.encode(held_texts)
        if k == 0:
            first_vectors = vectors
        split_router = train_router(
            fit_texts, [lab for _, lab in split_fit], val_texts=held_texts, val_labels=held_labels,
            vectors=vectors[0], val_vectors=vectors[1], options=options,
        )  # fmt: skip
        held_out.append((split_router, vectors[1], held_texts, held_labels))
    embedding_cal, combined_cal = calibrate_on_splits(held_out, options=options)
    labels = [lab for _, lab in fit + held]
    router = train_router(
        [t for t, _ in fit], [lab for _, lab in fit],
        val_texts=[t for t, _ in held], val_labels=[lab for _, lab in held],
        vectors=first_vectors[0], val_vectors=first_vectors[1],
        options=replace(options, refit_with_val=True),
        info={
            "data": "bitext customer-support (27 intents, CDLA-Sharing-1.0) + CLINC150 negatives (CC-BY-3.0), "
            "each row plus one ticket-shaped variant",
            "bitext_rows": sum(lab != "oos" for lab in labels),
            "oos_rows": sum(lab == "oos" for lab in labels),
            "build": "supportflow/data/router/build_demo_router.py",
        },
    )  # fmt: skip
    router = router.recalibrated(
        embedding_cal, combined_cal, calibration_source=f"held-out clusters of {CALIBRATION_SPLITS} split seeds",
        calibration_rows=sum(len(h[3]) for h in held_out),
    )  # fmt: skip
    router.save(args.out)
    print(f"saved {router.version} to {args.out}")


if __name__ == "__main__":
    main()
