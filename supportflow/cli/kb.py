"""``supportflow kb index|search`` and ``supportflow eval retrieval``: the help center from the shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from supportflow.cli import argtypes
from supportflow.cli.output import shorten
from supportflow.console import err
from supportflow.schemas.errors import InvalidInputError

if TYPE_CHECKING:
    from supportflow.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    from supportflow.settings import get_settings

    settings = get_settings()
    collection = getattr(args, "collection", None)
    return settings.model_copy(update={"collection": collection}) if collection else settings


def cmd_index(args: argparse.Namespace) -> int:
    from supportflow.processors.knowledge import KnowledgeBase, load_articles

    try:
        articles = load_articles(Path(args.path))
    except InvalidInputError as exc:
        err(f"kb index: {exc}")
        return 2
    settings = _settings(args)
    kb = KnowledgeBase.open(settings)
    try:
        report = kb.index(articles, progress=not args.json)
    finally:
        kb.close()
    if args.json:
        print(json.dumps({"collection": settings.collection, **report.as_dict()}))
    else:
        print(
            f"{report.articles} articles -> collection {settings.collection!r}: {report.added} chunks added, "
            f"{report.updated} updated, {report.unchanged} unchanged, {report.deleted} deleted "
            f"in {report.seconds:.1f} s"
        )
    return 0


def _language_code(raw: str) -> str:
    code = raw.strip().lower()
    if len(code) != 2 or not code.isalpha():
        raise argparse.ArgumentTypeError(f"expected a two-letter ISO 639-1 code such as es, got {raw!r}")
    return code


def cmd_search(args: argparse.Namespace) -> int:
    from supportflow.processors.knowledge import KnowledgeBase

    kb = KnowledgeBase.open(_settings(args), hybrid=args.mode == "hybrid")
    try:
        if not args.collection:  # only the default collection falls back to the bundled help center
            kb.ensure_default_index()
        sources = kb.search(args.query, k=args.k, language=args.language)
    finally:
        kb.close()
    if args.json:
        print(json.dumps([s.model_dump() for s in sources], ensure_ascii=False))
        return 0
    for rank, s in enumerate(sources, start=1):
        preview = shorten(s.text, 160)
        print(f"{rank}. [{s.score:.3f}] {s.chunk_id}  ({s.title} › {s.section})\n   {preview}")
    if not sources:
        err("no results (is the collection indexed? run: supportflow kb index PATH)")
    return 0


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from supportflow.evals.retrieval import evaluate, evaluate_drafts, load_queries
    from supportflow.processors.knowledge import KnowledgeBase

    try:
        queries = load_queries(Path(args.queries))
    except InvalidInputError as exc:
        err(f"eval retrieval: {exc}")
        return 2
    kb = KnowledgeBase.open(_settings(args), hybrid=args.mode == "hybrid")
    try:
        if not args.collection:
            kb.ensure_default_index()
        report = evaluate(kb, queries, intent_scoped=args.intent_scoped)
        floor = _settings(args).thresholds.groundedness_floor
        drafts = (
            evaluate_drafts(kb, queries, floor=floor, intent_scoped=args.intent_scoped)
            if args.drafts
            else None
        )
    finally:
        kb.close()
    if args.json:
        data = report.as_dict(with_misses=args.misses)
        if drafts is not None:
            data["drafts"] = drafts.as_dict()
        print(json.dumps(data))
        return 0
    scope = (
        ", intent-scoped by the TRUE intent: upper bound, not the pipeline's routed number"
        if (report.intent_scoped)
        else ""
    )
    print(f"queries:     {report.queries} ({report.mode}{scope})")
    print(f"recall@1:    {report.recall_at_1:.4f}")
    print(f"recall@5:    {report.recall_at_5:.4f}")
    print(f"MRR:         {report.mrr:.4f}")
    print(
        f"top-1 score: {report.top1_score_correct:.3f} when right, {report.top1_score_wrong:.3f} when wrong"
    )
    if drafts is not None:
        print(
            f"drafts:      {drafts.answered:.1%} answered, mean groundedness {drafts.mean_groundedness:.3f}, "
            f"{drafts.above_floor:.1%} >= floor {floor}"
        )
        print(f"corrupted:   {drafts.corrupted_caught:.1%} of {drafts.corrupted} drafts with one changed number "
              "scored below the floor")  # fmt: skip
    if args.misses:
        for miss in report.misses:
            print(f"  miss: {miss['text']!r} expected {miss['expected']} got {miss['got']}")
    return 0


def _mode_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode", choices=("hybrid", "dense"), default="hybrid",
        help="hybrid: dense + BM25 keywords fused by rank (default); dense: embeddings only",
    )  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = subparsers.add_parser("kb", help="help center: index articles, search them")
    sub = kb.add_subparsers(dest="kb_command", required=True, metavar="KB")

    index = sub.add_parser("index", help="index a folder of .md/.html, a Zendesk export or a JSON list")
    index.add_argument(
        "path", help="folder, Zendesk Help Center articles JSON, or JSON list of {id,title,body}"
    )
    index.add_argument("--collection", help="Qdrant collection (default: settings.collection)")
    index.add_argument("--json", action="store_true", help="print the index report as JSON")
    index.set_defaults(func=cmd_index)

    search = sub.add_parser("search", help="top-k help-center sections for a query")
    search.add_argument("query", help="what a customer would ask, in their words")
    search.add_argument(
        "--k", type=argtypes.positive_int, default=5, metavar="K", help="sections to return (default 5)"
    )
    search.add_argument("--collection", help="Qdrant collection (default: settings.collection)")
    search.add_argument(
        "--language", type=_language_code, help="only articles in this ISO 639-1 language (default: all)"
    )
    search.add_argument("--json", action="store_true", help="print the sources as a JSON list")
    _mode_arg(search)
    search.set_defaults(func=cmd_search)


def add_eval_parser(eval_subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    retrieval = eval_subparsers.add_parser("retrieval", help="recall@1, recall@5 and MRR on text,article_id")
    retrieval.add_argument("--queries", required=True, help="CSV with columns text,article_id")
    retrieval.add_argument("--collection", help="Qdrant collection (default: settings.collection)")
    retrieval.add_argument("--json", action="store_true", help="keys recall_at_1, recall_at_5, mrr, ...")
    retrieval.add_argument("--misses", action="store_true", help="also list the queries not ranked first")
    retrieval.add_argument(
        "--drafts", action="store_true",
        help="also run the offline drafter per query and the groundedness scorer on corrupted drafts",
    )  # fmt: skip
    retrieval.add_argument(
        "--intent-scoped", action="store_true",
        help="search each query only within the articles declaring its true intent (the labelled "
        "article's front-matter intents): an upper bound for intent-scoped retrieval with a perfect router",
    )  # fmt: skip
    _mode_arg(retrieval)
    retrieval.set_defaults(func=cmd_eval_retrieval)
