"""Rebuild the shipped demo-store router from the public data sets in ``shared/data``.

    python supportflow/data/router/build_demo_router.py [--data-dir ../shared/data] [--holdout]

In-scope: the Bitext customer-support instructions (27 intents, CDLA-Sharing-1.0), both CSVs,
de-duplicated. Out-of-scope negatives (label ``oos``): CLINC150's out-of-scope training rows plus
up to 20 rows from each CLINC150 intent that an online clothing store does not handle (weather,
alarms, banking cards, ...), CC-BY-3.0. CLINC intents that overlap a store's own (order status,
cancelling, payments, ...) are left out so they cannot teach the router that its own intents are
out of scope. ``--holdout`` also writes a 15% stratified test split to /tmp for ``eval route``.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from pathlib import Path

from supportflow.processors.router import TrainOptions, train_router

HERE = Path(__file__).parent
SEED = 20261123
CLINC_PER_INTENT = 20
# CLINC intents a store's customer could mean as one of its own intents: never negatives.
CLINC_OVERLAP = {
    "order", "order_status", "cancel", "card_declined", "account_blocked", "transactions",
    "spending_history", "pay_bill", "bill_balance", "bill_due", "redeem_rewards", "rewards_balance",
    "user_name", "change_user_name", "report_fraud", "what_can_i_ask_you", "are_you_a_bot",
    "international_fees", "shopping_list", "shopping_list_update", "damaged_card", "expiration_date",
}  # fmt: skip


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
    rows = [(t, "oos") for t in by_intent.pop("oos", [])]
    for intent in sorted(by_intent):
        if intent not in CLINC_OVERLAP:
            rows += [
                (t, "oos")
                for t in rng.sample(by_intent[intent], min(CLINC_PER_INTENT, len(by_intent[intent])))
            ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=HERE.parents[2].parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--holdout", action="store_true", help="write train/test CSVs to /tmp, no artifact")
    args = parser.parse_args()
    rows = bitext_rows(args.data_dir) + clinc_negatives(args.data_dir)
    if args.holdout:
        rng = random.Random(SEED)
        rng.shuffle(rows)
        cut = int(0.85 * len(rows))
        for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
            with open(f"/tmp/demo_router_{name}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["text", "label"])
                w.writerows(part)
        print(f"wrote /tmp/demo_router_train.csv ({cut}) and /tmp/demo_router_test.csv ({len(rows) - cut})")
        return
    texts, labels = [t for t, _ in rows], [lab for _, lab in rows]
    router = train_router(
        texts, labels, options=TrainOptions(text_features=2**15),
        info={
            "data": "bitext customer-support (27 intents, CDLA-Sharing-1.0) + CLINC150 negatives (CC-BY-3.0)",
            "bitext_rows": sum(lab != "oos" for lab in labels),
            "oos_rows": sum(lab == "oos" for lab in labels),
            "build": "supportflow/data/router/build_demo_router.py",
        },
    )  # fmt: skip
    router.save(args.out)
    print(f"saved {router.version} to {args.out}")


if __name__ == "__main__":
    main()
