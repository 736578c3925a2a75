"""Regenerate ``queries.csv`` (and ``queries_dev.csv``): the retrieval eval set, from Bitext instructions.

Run from the repository root::

    python supportflow/data/helpcenter/build_queries.py \
        $DATA/bitext/bitext_cs_train_6480_short_responses.csv

Each Bitext intent maps to the help-center article that declares it in its front matter
(``intents: [...]``, the same declaration retrieval scopes by; ``set_intents.py`` edits it). A query
is labelled with one article, so each intent must be declared by exactly one article. For every
intent the script draws 20 distinct instructions (seeded): 10 go to ``queries_dev.csv`` (used to tune
hybrid search) and 10 to ``queries.csv`` (the reported numbers), so tuning never sees the reported
queries. The instruction text is Bitext's (CDLA-Sharing-1.0, see README.md); only Bitext's
``{{Placeholder}}`` entities, if present, are filled with Northwind-style values.
"""

from __future__ import annotations

import csv
import random
import re
import sys
from pathlib import Path

SEED = 20261123
PER_INTENT = 10
HERE = Path(__file__).parent

PLACEHOLDERS = {
    "{{Order Number}}": "NW-100231",
    "{{Invoice Number}}": "INV-2026-000123",
    "{{Refund Amount}}": "$84",
    "{{Account Type}}": "Plus",
    "{{Account Category}}": "VIP",
    "{{Person Name}}": "Maya Thompson",
    "{{Delivery City}}": "Columbus",
    "{{Delivery Country}}": "Germany",
}


def _fill(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return re.sub(r"\{\{[^}]+\}\}", "it", text).strip()


def intent_articles(folder: Path = HERE) -> dict[str, str]:
    """intent -> the one article declaring it, from the articles' front matter."""
    from supportflow.processors.knowledge.articles import load_articles

    by_intent: dict[str, list[str]] = {}
    # Queries are English (Bitext): label them with the English articles, not their translations.
    for article in (a for a in load_articles(folder) if a.language == "en"):
        for intent in article.intents:
            by_intent.setdefault(intent, []).append(article.id)
    shared = {intent: ids for intent, ids in by_intent.items() if len(ids) > 1}
    if shared:
        raise SystemExit(f"queries carry one article label; intents declared by several articles: {shared}")
    return {intent: ids[0] for intent, ids in by_intent.items()}


def build(bitext_csv: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    intent_article = intent_articles()
    by_intent: dict[str, list[str]] = {}
    with bitext_csv.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_intent.setdefault(row["intent"], []).append(_fill(row["instruction"]))
    missing = set(intent_article) - set(by_intent)
    if missing:
        raise SystemExit(f"intents missing from {bitext_csv}: {sorted(missing)}")
    rng = random.Random(SEED)
    dev: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for intent in sorted(intent_article):
        texts = sorted(set(by_intent[intent]))
        sample = rng.sample(texts, 2 * PER_INTENT)
        article = intent_article[intent]
        dev.extend((t, article) for t in sample[:PER_INTENT])
        test.extend((t, article) for t in sample[PER_INTENT:])
    return dev, test


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "article_id"])
        writer.writerows(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dev, test = build(Path(argv[1]))
    _write(HERE / "queries_dev.csv", dev)
    _write(HERE / "queries.csv", test)
    print(f"wrote {len(test)} queries to queries.csv and {len(dev)} to queries_dev.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
