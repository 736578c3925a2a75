"""Check the localized help-center articles against their English sources.

Usage: python supportflow/data/helpcenter/check_translations.py [EN_DIR] [L10N_DIR]   (needs PyYAML;
both default to this folder, where the translations live in es/, de/, fr/, pt/ and it/)

Per file: front matter parses and carries the expected fields; same number of `##` headings,
list items and bold UI labels as the English article; every number of the English body occurs
in the translation at least as often (thousands separators and decimal commas normalized, and
"2 p.m." accepted as 14); the same number of $ and EUR signs; brand names, codes and other
invariant tokens kept; every `answers` heading exists in the file. Per language: each English
bold UI label is translated the same way everywhere. Exit status 1 if anything fails.
"""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

import yaml

LANGS = ("es", "de", "fr", "pt", "it")
BASE_URL = "https://help.northwind-outfitters.example"
NUM = re.compile(r"\d+(?:[.,]\d+)?")
HEADING = re.compile(r"^## (.+?)\s*$", re.MULTILINE)
LIST_ITEM = re.compile(r"^\s*(?:-|\d+\.)\s", re.MULTILINE)
BOLD = re.compile(r"\*\*(.+?)\*\*")
# Tokens with two or more capitals (brands, carriers, codes such as INV-2026-000123) must survive;
# country abbreviations are translated (EE. UU., USA, UE, ...), so they are exempt.
INVARIANT = re.compile(r"(?<![\w-])(?:[A-Za-z0-9]*[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9/]*-?|\d+[A-Z])(?![\w])")
EXEMPT = {"US", "EU"}
# Names with a single capital that the pattern above cannot tell from ordinary words.
NAMES = (
    "Visa",
    "Mastercard",
    "American Express",
    "Discover",
    "Klarna",
    "Apple Pay",
    "Google Pay",
    "Bancontact",
    "Northwind",
    "Google",
    "Apple",
    "Secure",
    "Black Friday",
    "Plus",
    "My Choice",
    "Delivery Manager",
    "Package Intercept",
    "On Demand Delivery",
    "Predict",
)


def split(text: str) -> tuple[dict, str]:
    """Front matter dict and body of a Markdown article."""
    if not text.startswith("---\n"):
        raise ValueError("no front matter")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def normalize_numbers(body: str, english: bool) -> collections.Counter[str]:
    """Numbers in a body, with 1,000 / 1.000 / 1 000 -> 1000 and 14,95 -> 14.95."""
    if english:
        # "2 p.m." may be written 14:00 / 14 h in the translation.
        body = re.sub(r"\b(\d{1,2}) p\.m\.", lambda m: str(int(m.group(1)) % 12 + 12), body)
        body = re.sub(r"\b(\d{1,2}) a\.m\.", lambda m: str(int(m.group(1)) % 12), body)
    # Thousands separators: digit group, separator, exactly three digits not followed by a digit.
    body = re.sub(r"(?<![\d.,])(\d{1,3})(?:[.,\u00a0\u202f ](\d{3}))(?![\d])(?![.,]\d)", r"\1\2", body)
    return collections.Counter(n.replace(",", ".") for n in NUM.findall(body))


def shape(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def check_file(en_meta: dict, en_body: str, path: Path, lang: str, labels: dict) -> list[str]:
    errors: list[str] = []
    eid = en_meta["id"]
    try:
        meta, body = split(path.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError) as exc:
        return [f"front matter does not parse: {exc}"]
    expected = {
        "id": f"{eid}-{lang}",
        "url": f"{BASE_URL}/{lang}/articles/{eid}",
        "updated": en_meta["updated"],
        "language": lang,
        "translation_of": eid,
        "intents": en_meta.get("intents"),
    }
    for key, want in expected.items():
        if meta.get(key) != want:
            errors.append(f"front matter {key}: {meta.get(key)!r} != {want!r}")
    if not meta.get("title") or meta.get("title") == en_meta["title"]:
        errors.append("title missing or untranslated")
    headings = HEADING.findall(body)
    en_headings = HEADING.findall(en_body)
    if len(headings) != len(en_headings):
        errors.append(f"{len(headings)} ## headings, English has {len(en_headings)}")
    en_answers, answers = en_meta.get("answers") or {}, meta.get("answers") or {}
    if set(en_answers) != set(answers):
        errors.append(f"answers intents {sorted(answers)} != {sorted(en_answers)}")
    for intent, value in answers.items():
        want_n = len(shape(en_answers.get(intent)))
        if type(value) is not type(en_answers.get(intent)) or len(shape(value)) != want_n:
            errors.append(f"answers[{intent}] shape differs from English")
        for heading in shape(value):
            if heading not in headings:
                errors.append(f"answers[{intent}] heading {heading!r} not in file")
        # The hint must point at the same section position as in English.
        for en_h, h in zip(shape(en_answers.get(intent)), shape(value), strict=False):
            if h in headings and en_h in en_headings and headings.index(h) != en_headings.index(en_h):
                errors.append(f"answers[{intent}] {h!r} is not the section of {en_h!r}")
    for name, rx in (("list items", LIST_ITEM), ("bold labels", BOLD)):
        n, en_n = len(rx.findall(body)), len(rx.findall(en_body))
        if n != en_n:
            errors.append(f"{n} {name}, English has {en_n}")
    missing = normalize_numbers(en_body, True) - normalize_numbers(body, False)
    if missing:
        errors.append(f"numbers missing: {dict(missing)}")
    for sign in ("$", "€"):
        if body.count(sign) != en_body.count(sign):
            errors.append(f"{body.count(sign)} x {sign}, English has {en_body.count(sign)}")
    tokens = [t for t in INVARIANT.findall(en_body) if t not in EXEMPT]
    tokens += [name for name in NAMES for _ in re.finditer(rf"\b{re.escape(name)}\b", en_body)]
    for token, n in sorted(collections.Counter(tokens).items()):
        if body.count(token) < n:
            errors.append(f"invariant token {token!r}: {body.count(token)} x, English has {n}")
    for token in re.findall(r"\S+@\S+\.\w+|https?://\S+", en_body):
        if token.rstrip(".,)") not in body:
            errors.append(f"address {token!r} missing")
    en_bold, bold = BOLD.findall(en_body), BOLD.findall(body)
    if len(en_bold) == len(bold):
        for en_label, label in zip(en_bold, bold, strict=True):
            labels[en_label][label].append(eid)
    return errors


def main() -> int:
    here = Path(__file__).resolve().parent
    en_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else here
    l10n = Path(sys.argv[2]) if len(sys.argv) > 2 else here
    failures = files = 0
    for lang in LANGS:
        labels: dict[str, dict[str, list[str]]] = collections.defaultdict(
            lambda: collections.defaultdict(list)
        )
        for path in sorted((l10n / lang).glob("*.md")):
            files += 1
            en_meta, en_body = split((en_dir / path.name).read_text(encoding="utf-8"))
            for error in check_file(en_meta, en_body, path, lang, labels):
                failures += 1
                print(f"FAIL {lang}/{path.name}: {error}")
        for en_label, variants in sorted(labels.items()):
            if len(variants) > 1:
                failures += 1
                detail = "; ".join(f"{v!r} in {sorted(set(ids))}" for v, ids in variants.items())
                print(f"FAIL {lang}: UI label {en_label!r} translated inconsistently: {detail}")
    counts = {lang: len(list((l10n / lang).glob("*.md"))) for lang in LANGS}
    print(f"checked {files} files {counts}: {failures} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
