"""Rebuild the shipped demo-store router from the public data sets in ``shared/data``.

    python supportflow/data/router/build_demo_router.py [--data-dir ../shared/data] [--holdout]

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
variants), held out as whole clusters per intent (see ``grouped_split``); the heads are then refitted on
everything. The n-gram view reads entity-normalised text (``normalize.normalize_for_intent``).
``--holdout`` writes that split to /tmp for ``eval route`` instead of building.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from collections import defaultdict
from pathlib import Path

from sklearn.cluster import KMeans

from supportflow.processors.embedding import get_embedder
from supportflow.processors.router import TrainOptions, train_router
from supportflow.processors.router.augment import realistic_variant

HERE = Path(__file__).parent
SEED = 20261123
CLINC_PER_INTENT = 10
HOLDOUT_FRACTION = 0.15
# The n-gram view's blend weight, fixed rather than chosen by held-out log-loss: on template-shaped
# held-out rows the n-grams look strong (0.7 chosen), but on realistic tickets
# (``dev_realistic.csv``, hand-written, used for this choice) they push in-scope tickets to oos:
# accuracy 0.0/0.1/0.3/0.7 -> 80.8/83.2/78.4/64.8%. 0.1 keeps their help on product words and ids.
NGRAM_WEIGHT = 0.1
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


def grouped_split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Hold out whole clusters of each label's base rows (before augmentation, so a row and its
    variant stay together). Bitext is generated from templates: a random split puts near-copies of
    every calibration row in the fitting part and the calibration comes out far too sure of itself
    for real tickets. Clusters of sentence vectors (~7 per label) are a cheap stand-in for templates;
    holding out whole ones makes the calibration rows unlike anything fitted, as real tickets are."""
    vectors = get_embedder().encode([t for t, _ in rows])
    rng = random.Random(SEED)
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
        clusters = KMeans(n_clusters=k, n_init=3, random_state=SEED).fit_predict(vectors[idx])
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=HERE.parents[2].parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--holdout", action="store_true", help="write train/test CSVs to /tmp, no artifact")
    args = parser.parse_args()
    fit_base, held_base = grouped_split(bitext_rows(args.data_dir) + clinc_negatives(args.data_dir))
    fit, held = with_variants(fit_base, SEED), with_variants(held_base, SEED + 1)
    if args.holdout:
        for name, part in (("train", fit), ("test", held)):
            with open(f"/tmp/demo_router_{name}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["text", "label"])
                w.writerows(part)
        print(f"wrote /tmp/demo_router_train.csv ({len(fit)}) and /tmp/demo_router_test.csv ({len(held)})")
        return
    labels = [lab for _, lab in fit + held]
    router = train_router(
        [t for t, _ in fit], [lab for _, lab in fit],
        val_texts=[t for t, _ in held], val_labels=[lab for _, lab in held],
        options=TrainOptions(
            text_features=2**15, text_weight=NGRAM_WEIGHT, normalize_text=True, refit_with_val=True
        ),
        info={
            "data": "bitext customer-support (27 intents, CDLA-Sharing-1.0) + CLINC150 negatives (CC-BY-3.0), "
            "each row plus one ticket-shaped variant",
            "bitext_rows": sum(lab != "oos" for lab in labels),
            "oos_rows": sum(lab == "oos" for lab in labels),
            "build": "supportflow/data/router/build_demo_router.py",
        },
    )  # fmt: skip
    router.save(args.out)
    print(f"saved {router.version} to {args.out}")


if __name__ == "__main__":
    main()
