"""Split an article into retrievable sections: one chunk per heading.

Each chunk starts with the tail of the previous section (``overlap_chars``) so a procedure that
straddles a heading or a split point still reads as one piece. A section longer than
``max_chars`` is split between paragraphs; a numbered list is one paragraph, so its steps stay
together unless the list alone is longer than ``max_chars`` (then it is split between lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supportflow.processors.knowledge.articles import Article

MAX_CHARS = 1000
# A short intro before the first heading joins the first section: alone it is a tiny chunk that
# matches everything vaguely (measured: it was the top hit for many unrelated queries).
MIN_PREAMBLE_CHARS = 400  # ~220 MiniLM tokens with the title prefix: below the model's 256-token window
OVERLAP_MARK = "…"  # prefixes carried-over text so a reader can tell it came from the section before
_HEADING = re.compile(r"^(#{2,4})\s+(.+?)\s*#*\s*$")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # f"{article_id}#{section_slug}"
    article_id: str
    title: str
    section: str
    text: str
    url: str
    intents: tuple[str, ...] = ()  # the article's declared intents, copied so a filter can use them
    answers: tuple[str, ...] = ()  # intents whose section hint names this chunk's section
    language: str = "en"  # the article's language, so a search can keep to the ticket's


def slugify(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "section"


def embedding_text(chunk: Chunk) -> str:
    """What gets embedded: the article title and section name carry most of the topic signal."""
    return f"{chunk.title}. {chunk.section}.\n{chunk.text}"


def chunk_article(article: Article, overlap_chars: int = 200, max_chars: int = MAX_CHARS) -> list[Chunk]:
    chunks: list[Chunk] = []
    used_ids: set[str] = set()
    previous = ""
    for section, content in _sections(article.body):
        parts = _split_long(content, max_chars)
        base = f"{article.id}#{slugify(section)}"
        hinted = tuple(i for i, heading in article.answers if heading.casefold() == section.casefold())
        for part in parts:
            chunk_id = _unique(base, used_ids)
            tail = _tail(previous, overlap_chars)
            text = f"{OVERLAP_MARK}{tail}\n\n{part}" if tail else part
            chunk = Chunk(chunk_id, article.id, article.title, section, text, article.url,
                          article.intents, hinted, article.language)  # fmt: skip
            chunks.append(chunk)
            previous = part
    return chunks


def _sections(body: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, str]] = []
    heading = "Overview"  # text before the first heading
    lines: list[str] = []
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            _append(sections, heading, lines)
            heading, lines = match.group(2).strip(), []
        else:
            lines.append(line)
    _append(sections, heading, lines)
    has_preamble = bool(sections) and not _HEADING.match(body.lstrip().split("\n", 1)[0])
    if has_preamble and len(sections) > 1 and len(sections[0][1]) < MIN_PREAMBLE_CHARS:
        intro, (heading, content) = sections[0][1], sections[1]
        sections[:2] = [(heading, f"{intro}\n\n{content}")]
    return sections


def _append(sections: list[tuple[str, str]], heading: str, lines: list[str]) -> None:
    content = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if content:
        sections.append((heading, content))


def _split_long(content: str, max_chars: int) -> list[str]:
    if len(content) <= max_chars:
        return [content]
    pieces: list[str] = []
    for paragraph in content.split("\n\n"):
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
        else:  # a huge list or wall of text: fall back to lines, then sentences
            for line in paragraph.split("\n"):
                pieces.extend([line] if len(line) <= max_chars else re.split(r"(?<=[.!?])\s+", line))
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        if current and size + len(piece) + 2 > max_chars:
            parts.append(_join(current))
            current, size = [], 0
        current.append(piece)
        size += len(piece) + 2
    if current:
        parts.append(_join(current))
    return parts


def _join(pieces: list[str]) -> str:
    # List lines split apart above rejoin with single newlines so they still read as one list.
    out = pieces[0]
    for piece in pieces[1:]:
        is_list = bool(re.match(r"\s*(\d+\.|[-*])\s", piece))
        out += ("\n" if is_list else "\n\n") + piece
    return out


def _tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, starting at a sentence or line boundary."""
    if limit <= 0 or not text:
        return ""
    if len(text) <= limit:
        return text
    window = text[-limit:]
    boundary = re.search(r"(?<=[.!?])\s+|\n+", window)
    if boundary and boundary.end() < len(window):
        return window[boundary.end() :].strip()
    space = window.find(" ")
    return window[space + 1 :].strip() if space >= 0 else window.strip()


def _unique(base: str, used: set[str]) -> str:
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}-{n}", n + 1
    used.add(candidate)
    return candidate
