from __future__ import annotations

from supportflow.processors.knowledge import Article, chunk_article
from supportflow.processors.knowledge.chunking import OVERLAP_MARK


def _article(body: str) -> Article:
    return Article(id="returns", title="Returns", url="https://kb.example/returns", body=body, updated="")


def test_chunk_article_one_chunk_per_heading_with_stable_ids():
    body = "## Return window\n\nWithin 30 days.\n\n## How to return\n\n1. Sign in.\n2. Print label.\n"
    chunks = chunk_article(_article(body))
    assert [c.chunk_id for c in chunks] == ["returns#return-window", "returns#how-to-return"]
    assert [c.section for c in chunks] == ["Return window", "How to return"]
    assert all(c.article_id == "returns" and c.url == "https://kb.example/returns" for c in chunks)


def test_chunk_article_next_chunk_starts_with_tail_of_previous_section():
    first = "A long first section sentence. " * 20 + "The last sentence of the first section."
    chunks = chunk_article(_article(f"## One\n\n{first}\n\n## Two\n\nSecond body."), overlap_chars=60)
    second = chunks[1].text
    assert second.startswith(OVERLAP_MARK)
    assert "The last sentence of the first section." in second
    assert len(second.split("\n\n")[0]) <= 61 + len(OVERLAP_MARK)
    assert second.endswith("Second body.")
    assert not chunks[0].text.startswith(OVERLAP_MARK)


def test_chunk_article_zero_overlap_has_no_carried_text():
    chunks = chunk_article(_article("## One\n\nFirst.\n\n## Two\n\nSecond."), overlap_chars=0)
    assert chunks[1].text == "Second."


def test_chunk_article_long_section_split_on_paragraphs_keeps_numbered_steps_together():
    prose = [f"Paragraph {i}. " + "Words about returns and refunds. " * 12 for i in range(4)]
    steps = "\n".join(f"{i}. Step number {i} of the procedure." for i in range(1, 6))
    body = "## Long\n\n" + "\n\n".join([*prose[:2], steps, *prose[2:]])
    chunks = chunk_article(_article(body), max_chars=700)
    assert len(chunks) >= 3
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert chunks[0].chunk_id == "returns#long" and chunks[1].chunk_id == "returns#long-2"
    holding = [c for c in chunks if "1. Step number 1" in c.text.split("\n\n", 1)[-1]]
    assert len(holding) == 1 and "5. Step number 5" in holding[0].text
    assert all(len(c.text) <= 700 + 200 + len(OVERLAP_MARK) + 2 for c in chunks)


def test_chunk_article_short_intro_joins_first_section_and_duplicate_headings_get_suffix():
    body = "Short intro.\n\n## Steps\n\nDo this.\n\n## Steps\n\nThen that."
    chunks = chunk_article(_article(body), overlap_chars=0)
    assert [c.chunk_id for c in chunks] == ["returns#steps", "returns#steps-2"]
    assert chunks[0].text == "Short intro.\n\nDo this."
