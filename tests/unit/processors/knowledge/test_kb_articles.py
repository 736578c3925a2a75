from __future__ import annotations

import json
from pathlib import Path

import pytest

from supportflow.processors.knowledge import load_articles
from supportflow.schemas.errors import InvalidInputError


def test_load_articles_bundled_helpcenter_has_32_plus_articles_with_front_matter(helpcenter):
    assert len(helpcenter) >= 32
    ids = [a.id for a in helpcenter]
    assert len(set(ids)) == len(ids)
    for article in helpcenter:
        assert article.title and article.url.startswith("https://") and article.updated
        assert "\n## " in f"\n{article.body}", f"{article.id} has no sections"
        assert not article.body.startswith("---")


def test_load_articles_markdown_folder_reads_front_matter_html_and_skips_readme(tmp_path: Path):
    (tmp_path / "README.md").write_text("# About this folder\nnot an article")
    (tmp_path / "returns.md").write_text(
        "---\nid: returns-policy\ntitle: Returns\nurl: https://kb.example/r\nupdated: 2026-01-02\n---\n"
        "Intro.\n\n## Window\n\nReturn within 30 days.\n"
    )
    (tmp_path / "No Front Matter.md").write_text("# Shipping Times\n\n## Standard\n\n5-7 business days.\n")
    (tmp_path / "gift.html").write_text(
        "<html><head><title>Gift cards</title></head><body><h2>Balance</h2><p>Check it online.</p>"
        "<ol><li>Open the page</li><li>Enter the code</li></ol></body></html>"
    )
    (tmp_path / "notes.txt").write_text("ignored")

    by_id = {a.id: a for a in load_articles(tmp_path)}

    assert set(by_id) == {"returns-policy", "no-front-matter", "gift"}
    assert by_id["returns-policy"].title == "Returns"
    assert by_id["returns-policy"].updated == "2026-01-02"
    assert by_id["no-front-matter"].title == "Shipping Times"  # from the leading "# " heading
    assert not by_id["no-front-matter"].body.startswith("#  ")
    assert by_id["gift"].title == "Gift cards"
    assert "## Balance" in by_id["gift"].body
    assert "1. Open the page\n2. Enter the code" in by_id["gift"].body


def test_load_articles_zendesk_export_converts_html_and_skips_drafts(tmp_path: Path):
    export = {
        "articles": [
            {"id": 360001, "title": "Track an order", "html_url": "https://acme.zendesk.com/hc/articles/360001",
             "updated_at": "2026-02-03T10:00:00Z",
             "body": "<p>Find your number.</p><h2>Steps</h2><ul><li>Sign in</li><li>Open orders</li></ul>"},
            {"id": 360002, "title": "Draft", "body": "<p>secret</p>", "draft": True},
        ]
    }  # fmt: skip
    path = tmp_path / "articles.json"
    path.write_text(json.dumps(export))

    (article,) = load_articles(path)

    assert article.id == "360001"
    assert article.url == "https://acme.zendesk.com/hc/articles/360001"
    assert article.updated == "2026-02-03T10:00:00Z"
    assert "## Steps" in article.body and "- Sign in\n- Open orders" in article.body


def test_load_articles_json_list_accepts_markdown_and_html_bodies(tmp_path: Path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([
        {"id": "Refund Policy", "title": "Refunds", "body": "## Timing\n\n5-10 business days."},
        {"id": "b", "title": "Hours", "body": "<h2>Chat</h2><p>9 to 5.</p>"},
    ]))  # fmt: skip

    articles = load_articles(path)

    assert [a.id for a in articles] == ["b", "refund-policy"]
    assert articles[0].body == "## Chat\n\n9 to 5."


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("data.json", '{"items": []}'),  # neither a Zendesk export nor a list
        ("data.json", "not json"),
        ("data.json", '[{"id": "a", "title": "no body"}]'),
        ("data.json", '[{"id": "a", "title": "A", "body": "x"}, {"id": "a", "title": "B", "body": "y"}]'),
        ("data.json", '[{"id": "a", "title": "A", "body": "   "}]'),
        ("data.csv", "id,title,body\n"),
    ],
)
def test_load_articles_bad_input_raises_invalid_input(tmp_path: Path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidInputError):
        load_articles(path)


def test_load_articles_missing_path_or_empty_folder_raises_invalid_input(tmp_path: Path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_articles(tmp_path / "nope")
    with pytest.raises(InvalidInputError, match="no articles"):
        load_articles(tmp_path)
