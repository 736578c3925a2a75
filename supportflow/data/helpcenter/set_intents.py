"""Declare which routed intents a help-center article answers, in its front matter.

Run from the repository root::

    python supportflow/data/helpcenter/set_intents.py ARTICLE_ID INTENT [INTENT ...]
    python supportflow/data/helpcenter/set_intents.py ARTICLE_ID --clear
    python supportflow/data/helpcenter/set_intents.py --list

It writes (or replaces) one ``intents: [a, b]`` line in ``ARTICLE_ID.md``'s front matter and leaves
every other line as it is, so the article's content hash changes only by its intents. The front
matter is the one intent -> article map: retrieval scopes by it and ``build_queries.py`` labels its
query sets from it (``--list`` prints the map as the loader reads it).
"""

from __future__ import annotations

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


def intent_map(folder: Path = HERE) -> dict[str, list[str]]:
    """intent -> article ids declaring it, read through the real loader."""
    from supportflow.processors.knowledge.articles import load_articles

    by_intent: dict[str, list[str]] = {}
    for article in load_articles(folder):
        for intent in article.intents:
            by_intent.setdefault(intent, []).append(article.id)
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
    set_intents(path, [] if argv[2:] == ["--clear"] else argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
