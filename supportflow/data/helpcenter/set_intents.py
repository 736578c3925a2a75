"""Declare which routed intents a help-center article answers, in its front matter.

Run from the repository root::

    python supportflow/data/helpcenter/set_intents.py ARTICLE_ID INTENT [INTENT ...]
    python supportflow/data/helpcenter/set_intents.py ARTICLE_ID --clear
    python supportflow/data/helpcenter/set_intents.py ARTICLE_ID --answer INTENT "Section heading" [...]
    python supportflow/data/helpcenter/set_intents.py ARTICLE_ID --answer INTENT --clear
    python supportflow/data/helpcenter/set_intents.py --list

It writes (or replaces) one ``intents: [a, b]`` line in ``ARTICLE_ID.md``'s front matter and leaves
every other line as it is, so the article's content hash changes only by its intents. The front
matter is the one intent -> article map: retrieval scopes by it and ``build_queries.py`` labels its
query sets from it (``--list`` prints the map as the loader reads it, section hints included).

``--answer`` writes the section hint line ``answers: {INTENT: "Section heading", ...}``: the section(s)
of the article that answer that intent, which the drafter prefers. The loader rejects a hint whose
heading the article does not have, so a renamed section cannot leave a hint pointing nowhere.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
_INTENT = re.compile(r"^[a-z][a-z0-9_]*$")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def set_intents(path: Path, intents: list[str]) -> None:
    bad = [i for i in intents if not _INTENT.match(i)]
    if bad:
        raise SystemExit(f"not snake_case intent names: {bad}")
    raw = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(raw)
    if not match:
        raise SystemExit(f"{path}: no front matter block")
    lines = [line for line in match.group(1).split("\n") if not line.startswith("intents:")]
    if intents:
        lines.append(f"intents: [{', '.join(dict.fromkeys(intents))}]")
    path.write_text(f"---\n{chr(10).join(lines)}\n---\n{raw[match.end() :]}", encoding="utf-8")


def set_answer(path: Path, intent: str, headings: list[str]) -> None:
    """Set (or with no headings remove) ``intent``'s section hint in the ``answers:`` line."""
    import yaml

    if not _INTENT.match(intent):
        raise SystemExit(f"not a snake_case intent name: {intent!r}")
    raw = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(raw)
    if not match:
        raise SystemExit(f"{path}: no front matter block")
    lines = match.group(1).split("\n")
    current: dict[str, str | list[str]] | None = next(
        (yaml.safe_load(line)["answers"] for line in lines if line.startswith("answers:")), {}
    )
    answers = {k: v for k, v in (current or {}).items() if k != intent}
    if headings:
        answers[intent] = headings[0] if len(headings) == 1 else headings
    lines = [line for line in lines if not line.startswith("answers:")]
    if answers:
        # JSON strings are valid YAML flow scalars and quote headings with colons or quotes safely.
        pairs = ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(answers.items()))
        lines.append(f"answers: {{{pairs}}}")
    path.write_text(f"---\n{chr(10).join(lines)}\n---\n{raw[match.end() :]}", encoding="utf-8")


def intent_map(folder: Path = HERE) -> dict[str, list[str]]:
    """intent -> article ids declaring it, read through the real loader."""
    from supportflow.processors.knowledge.articles import load_articles

    by_intent: dict[str, list[str]] = {}
    for article in load_articles(folder):
        for intent in article.intents:
            hints = article.hinted_sections(intent)
            by_intent.setdefault(intent, []).append(
                f"{article.id} ({'; '.join(hints)})" if hints else article.id
            )
    return dict(sorted(by_intent.items()))


def main(argv: list[str]) -> int:
    if argv[1:] == ["--list"]:
        for intent, ids in intent_map().items():
            print(f"{intent}: {', '.join(ids)}")
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path = HERE / f"{argv[1]}.md"
    if not path.is_file():
        raise SystemExit(f"no article {path}")
    if argv[2] == "--answer" and len(argv) >= 4:
        set_answer(path, argv[3], [] if argv[4:] == ["--clear"] else argv[4:])
        return 0
    set_intents(path, [] if argv[2:] == ["--clear"] else argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
