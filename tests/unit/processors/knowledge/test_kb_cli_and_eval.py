from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportflow.cli import kb as kb_cli
from supportflow.evals.retrieval import LabelledQuery, evaluate, load_queries
from supportflow.processors.knowledge import KnowledgeBase
from supportflow.schemas.errors import InvalidInputError
from supportflow.settings import get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportflow")
    sub = parser.add_subparsers(dest="command", required=True)
    kb_cli.add_parser(sub)
    evals = sub.add_parser("eval").add_subparsers(dest="eval_command", required=True)
    kb_cli.add_eval_parser(evals)
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SUPPORTFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_evaluate_perfect_and_missing_labels_give_exact_metrics(helpcenter_kb: KnowledgeBase):
    queries = [
        LabelledQuery("I forgot my password and need to reset it", "reset-your-password"),
        LabelledQuery("I want to cancel my order", "cancel-an-order"),
        LabelledQuery("I forgot my password and need to reset it", "no-such-article"),
    ]
    report = evaluate(helpcenter_kb, queries)
    assert report.queries == 3
    assert report.recall_at_1 == pytest.approx(2 / 3, abs=1e-4)
    assert report.recall_at_5 == pytest.approx(2 / 3, abs=1e-4)
    assert report.mrr == pytest.approx(2 / 3, abs=1e-4)
    assert report.misses == [
        {"text": queries[2].text, "expected": "no-such-article", "got": "reset-your-password"}
    ]


def test_load_queries_requires_text_and_article_id_columns(tmp_path: Path):
    bad = tmp_path / "q.csv"
    bad.write_text("question,label\nhi,x\n")
    with pytest.raises(InvalidInputError):
        load_queries(bad)


def test_cli_kb_index_search_and_eval_retrieval_print_json(data_dir: Path, tmp_path: Path, capsys):
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "returns.md").write_text(
        "---\ntitle: Returns\n---\n## Window\n\nReturn items within 30 days.\n"
    )
    (articles / "hours.md").write_text(
        "---\ntitle: Opening hours\n---\n## Chat\n\nChat is open 9:00 to 17:00.\n"
    )
    queries = tmp_path / "q.csv"
    queries.write_text(
        "text,article_id\nhow long do I have to return something,returns\nwhen is chat open,hours\n"
    )

    assert _run(["kb", "index", str(articles), "--collection", "cli-test", "--json"]) == 0
    indexed = json.loads(capsys.readouterr().out)
    assert indexed["added"] == 2 and indexed["collection"] == "cli-test"

    assert _run(["kb", "search", "return window", "--k", "1", "--collection", "cli-test", "--json"]) == 0
    (hit,) = json.loads(capsys.readouterr().out)
    assert hit["chunk_id"] == "returns#window" and hit["article_id"] == "returns"

    assert _run(["eval", "retrieval", "--queries", str(queries), "--collection", "cli-test", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["recall_at_1"] == 1.0 and metrics["recall_at_5"] == 1.0 and metrics["mrr"] == 1.0


def test_cli_kb_index_bad_path_exits_2(data_dir: Path, capsys):
    assert _run(["kb", "index", str(data_dir / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
