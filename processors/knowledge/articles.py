"""Help-center articles from the three shapes teams actually have.

* a folder of Markdown or HTML files (YAML front matter optional; the id defaults to the file name),
* a Zendesk Help Center export (``{"articles": [{id, title, body, html_url, updated_at}]}``),
* a JSON list of ``{id, title, body}`` (plus optional ``url`` and ``updated``).

Every body is normalised to Markdown with ``##`` section headings, so chunking has one input format.
An article may declare the routed intents it answers (front matter / JSON ``intents``, Zendesk labels
``intent:<name>``); retrieval uses them to scope a routed ticket's search. It is written in one language
(front matter / JSON ``language``, Zendesk ``locale``; English when unsaid): a ticket is answered from
the articles in its own language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from bs4 import BeautifulSoup, NavigableString, Tag

from supportflow.schemas.errors import InvalidInputError

ARTICLE_SUFFIXES = (".md", ".markdown", ".html", ".htm")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_ID_CHARS = re.compile(r"[^a-z0-9]+")
_INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ZENDESK_INTENT_LABEL = "intent:"
_HEADING = re.compile(r"^#{2,4}\s+(.+?)\s*#*\s*$", re.MULTILINE)  # the same headings chunking splits on
_LANGUAGE = re.compile(r"^[a-z]{2}$")
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    url: str
    body: str  # Markdown; sections start with "## "
    updated: str
    # Routed intents this article answers (front matter ``intents: [track_order, ...]``); retrieval
    # scopes a routed ticket to the articles declaring its intent. Empty = reachable unscoped only.
    intents: tuple[str, ...] = ()
    # Section hints (front matter ``answers: {intent: "Section heading"}``, or a list of headings):
    # for a ticket routed to ``intent`` the drafter answers from those sections first. Sentence
    # similarity cannot tell which section holds the number asked for ("Processing time" vs "Transit
    # times"); the author can. Sorted (intent, heading) pairs so the dataclass stays hashable.
    answers: tuple[tuple[str, str], ...] = ()
    language: str = DEFAULT_LANGUAGE  # ISO 639-1, as the router's language detection names it

    def hinted_sections(self, intent: str) -> tuple[str, ...]:
        """The section headings declared to answer ``intent`` (empty when none are)."""
        return tuple(heading for name, heading in self.answers if name == intent)


def load_articles(path: Path) -> list[Article]:
    """Load every article under ``path`` (a folder or a JSON file), sorted by id.

    Raises :class:`InvalidInputError` for a missing path, an unsupported file, malformed JSON,
    an article without a body, or two articles with the same id.
    """
    path = Path(path)
    if path.is_dir():
        articles = _load_folder(path)
    elif path.is_file() and path.suffix.lower() == ".json":
        articles = _load_json(path)
    elif path.is_file() and path.suffix.lower() in ARTICLE_SUFFIXES:
        articles = [_load_file(path)]
    elif not path.exists():
        raise InvalidInputError(f"help-center source {path} does not exist")
    else:
        raise InvalidInputError(
            f"{path}: expected a folder of .md/.html files, a Zendesk articles export (.json) "
            "or a JSON list of {id, title, body}"
        )
    seen: dict[str, str] = {}
    for article in articles:
        if article.id in seen:
            raise InvalidInputError(f"duplicate article id {article.id!r} in {path}")
        seen[article.id] = article.title
    if not articles:
        raise InvalidInputError(f"no articles found in {path}")
    return sorted(articles, key=lambda a: a.id)


def normalize_id(raw: str) -> str:
    """Stable kebab-case id: ``"Returns Policy"`` -> ``returns-policy``; numeric Zendesk ids stay as is."""
    return _ID_CHARS.sub("-", str(raw).strip().lower()).strip("-")


def _load_folder(folder: Path) -> list[Article]:
    # README/underscore files document the folder; they are not articles.
    files = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in ARTICLE_SUFFIXES
        and not p.name.lower().startswith(("readme", "_", "."))
    ]
    return [_load_file(p) for p in files]


def _load_file(path: Path) -> Article:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read article {path}: {exc}") from exc
    meta, text = _split_front_matter(raw, path)
    is_html = path.suffix.lower() in (".html", ".htm")
    body = html_to_markdown(text) if is_html else text.strip()
    title = str(meta.get("title") or "").strip()
    if is_html and not title:
        title = _html_title(text)
    body, heading_title = _pop_h1(body)
    title = title or heading_title or path.stem.replace("-", " ").replace("_", " ").capitalize()
    article_id = normalize_id(str(meta.get("id") or path.stem))
    return _make(
        article_id, title, body, str(meta.get("url") or ""), str(meta.get("updated") or ""), path,
        _intents(meta.get("intents"), path), _answers(meta.get("answers"), path),
        _language(meta.get("language"), path),
    )  # fmt: skip


def _load_json(path: Path) -> list[Article]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path} is not readable JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        # Unpublished drafts must not become answers.
        return [
            _from_zendesk(item, path)
            for item in data["articles"]
            if not (isinstance(item, dict) and item.get("draft"))
        ]
    if isinstance(data, list):
        return [_from_plain(item, path) for item in data]
    raise InvalidInputError(
        f"{path}: JSON must be a Zendesk export with an 'articles' list or a list of {{id, title, body}}"
    )


def _from_zendesk(item: Any, source: Path) -> Article:
    if not isinstance(item, dict) or "id" not in item or "body" not in item:
        raise InvalidInputError(f"{source}: Zendesk article without id/body: {str(item)[:120]}")
    body = html_to_markdown(str(item["body"] or ""))
    body, heading_title = _pop_h1(body)
    return _make(
        normalize_id(str(item["id"])),
        str(item.get("title") or heading_title or item["id"]),
        body,
        str(item.get("html_url") or ""),
        str(item.get("updated_at") or item.get("edited_at") or ""),
        source,
        # Zendesk has no intent field; labels such as "intent:track_order" carry the declaration.
        _intents(
            [str(label)[len(_ZENDESK_INTENT_LABEL) :] for label in item.get("label_names") or []
             if str(label).startswith(_ZENDESK_INTENT_LABEL)],
            source,
        ),
        language=_language(str(item.get("locale") or "").split("-")[0] or None, source),  # "es-419" -> es
    )  # fmt: skip


def _from_plain(item: Any, source: Path) -> Article:
    if not isinstance(item, dict) or not {"id", "title", "body"} <= item.keys():
        raise InvalidInputError(f"{source}: each item needs id, title and body: {str(item)[:120]}")
    body = str(item["body"] or "")
    if "<" in body and re.search(r"</?(p|h[1-6]|ul|ol|li|div|br)\b", body, re.IGNORECASE):
        body = html_to_markdown(body)
    return _make(
        normalize_id(str(item["id"])),
        str(item["title"]),
        body.strip(),
        str(item.get("url") or ""),
        str(item.get("updated") or ""),
        source,
        _intents(item.get("intents"), source),
        _answers(item.get("answers"), source),
        _language(item.get("language"), source),
    )


def _make(
    article_id: str,
    title: str,
    body: str,
    url: str,
    updated: str,
    source: Path,
    intents: tuple[str, ...] = (),
    answers: tuple[tuple[str, str], ...] = (),
    language: str = DEFAULT_LANGUAGE,
) -> Article:
    if not article_id:
        raise InvalidInputError(f"{source}: article without a usable id")
    if not body.strip():
        raise InvalidInputError(f"{source}: article {article_id!r} has an empty body")
    # A hint that names no heading would silently do nothing after an edit renamed the section.
    headings = {h.casefold() for h in section_headings(body)}
    missing = [heading for _, heading in answers if heading.casefold() not in headings]
    if missing:
        raise InvalidInputError(
            f"{source}: article {article_id!r} hints sections it does not have: {missing}"
        )
    return Article(
        id=article_id,
        title=title.strip(),
        url=url.strip(),
        body=body.strip(),
        updated=updated,
        intents=intents,
        answers=answers,
        language=language,
    )


def section_headings(body: str) -> list[str]:
    """The ``##``-``####`` headings of a Markdown body, in order (what chunking splits on)."""
    return [m.group(1).strip() for m in _HEADING.finditer(body)]


def _language(raw: Any, source: Path) -> str:
    """``"es"``/``"ES"`` -> ``"es"``; unsaid -> English. Anything else is an error: an article filed
    under a language no ticket is detected as would never be found."""
    if raw is None or raw == "":
        return DEFAULT_LANGUAGE
    code = str(raw).strip().lower()
    if not _LANGUAGE.match(code):
        raise InvalidInputError(f"{source}: language must be a two-letter ISO 639-1 code, got {raw!r}")
    return code


def _answers(raw: Any, source: Path) -> tuple[tuple[str, str], ...]:
    """``{intent: heading | [heading, ...]}`` -> sorted ``(intent, heading)`` pairs, names checked."""
    if raw is None or raw == "" or raw == {}:
        return ()
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{source}: answers must map intent names to section headings, got {raw!r}")
    pairs: set[tuple[str, str]] = set()
    for name, headings in raw.items():
        for heading in headings if isinstance(headings, list) else [headings]:
            intent, text = str(name).strip(), str(heading or "").strip()
            if not _INTENT_NAME.match(intent) or not text:
                raise InvalidInputError(
                    f"{source}: answers needs snake_case intents and non-empty headings, got {name!r}: {headings!r}"
                )
            pairs.add((intent, text))
    return tuple(sorted(pairs))


def _intents(raw: Any, source: Path) -> tuple[str, ...]:
    """``[a, b]`` or ``"a, b"`` -> ``("a", "b")``: distinct, in declared order, snake_case checked."""
    if raw is None or raw == "":
        return ()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise InvalidInputError(f"{source}: intents must be a list of intent names, got {raw!r}")
    names = [str(item).strip() for item in items if str(item).strip()]
    bad = [name for name in names if not _INTENT_NAME.match(name)]
    if bad:
        raise InvalidInputError(f"{source}: intents must be snake_case names, got {bad}")
    return tuple(dict.fromkeys(names))


def _split_front_matter(raw: str, path: Path) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(raw.lstrip("\ufeff"))
    if not match:
        return {}, raw
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path}: invalid YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise InvalidInputError(f"{path}: front matter must be a mapping")
    return meta, raw[match.end() :]


def _pop_h1(body: str) -> tuple[str, str]:
    """A leading ``# Title`` line duplicates the title; remove it and return it."""
    match = re.match(r"\A\s*#\s+(.+?)\s*(?:\n|\Z)", body)
    if not match:
        return body, ""
    return body[match.end() :].strip(), match.group(1).strip()


def _html_title(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    node = soup.find("title") or soup.find("h1")
    return node.get_text(" ", strip=True) if node else ""


def html_to_markdown(html: str) -> str:
    """Just enough HTML -> Markdown for help articles: headings, paragraphs, lists, line breaks."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title"]):
        tag.decompose()
    root = soup.body or soup
    blocks: list[str] = []
    _walk(root, blocks)
    return "\n\n".join(b for b in blocks if b.strip())


_BLOCK_TAGS = {"p", "div", "section", "article", "table", "blockquote", "pre", "main", "body"}


def _walk(node: Tag, blocks: list[str]) -> None:
    inline: list[str] = []

    def flush() -> None:
        text = _squash("".join(inline))
        if text:
            blocks.append(text)
        inline.clear()

    for child in node.children:
        if isinstance(child, NavigableString):
            inline.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if re.fullmatch(r"h[1-6]", name):
            flush()
            level = "#" if name == "h1" else "##" if name in ("h2", "h3") else "###"
            blocks.append(f"{level} {_squash(child.get_text(' '))}")
        elif name in ("ul", "ol"):
            flush()
            items = [li for li in child.find_all("li", recursive=False)]
            lines = [
                f"{i}. {_squash(li.get_text(' '))}" if name == "ol" else f"- {_squash(li.get_text(' '))}"
                for i, li in enumerate(items, start=1)
            ]
            blocks.append("\n".join(lines))
        elif name == "br":
            inline.append("\n")
        elif name in _BLOCK_TAGS:
            flush()
            _walk(child, blocks)
        else:
            inline.append(child.get_text(" "))
    flush()


def _squash(text: str) -> str:
    lines = [re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)
