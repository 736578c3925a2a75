"""``supportflow serve``: the ingress HTTP service (webhooks, ticket API, admin flags)."""

from __future__ import annotations

import argparse
from pathlib import Path

from supportflow.cli import argtypes
from supportflow.cli.broker import STATE_HINT, add_broker_option, find_broker, state_path
from supportflow.console import err


def cmd_serve(args: argparse.Namespace) -> int:
    # Imported here so other commands do not pay for aiohttp.
    from supportflow.connectors.webhook.openapi import OPENAPI_PATH, write_openapi

    if args.write_openapi is not None:
        path = write_openapi(Path(args.write_openapi) if args.write_openapi else OPENAPI_PATH)
        err(f"wrote {path}")
        return 0

    from supportflow.connectors.webhook.service import serve, startup_problems, unconfigured_endpoints
    from supportflow.schemas import registry
    from supportflow.settings import get_settings
    from supportflow.streams.embedded import broker_for
    from supportflow.streams.topics import ensure_topics, pipeline_topics

    settings = get_settings()
    webhook = settings.webhook
    if problems := startup_problems(webhook):
        err(f"supportflow serve: refusing to start: {'; '.join(problems)}")
        return 2
    registry.configure(settings)  # ingress events in the schema registry's framing when one is set
    # The pipeline a `supportflow run` started, if there is one; else a broker of its own.
    found = find_broker(args.broker, settings.broker, state_path(settings.data_dir))
    with broker_for(found.bootstrap if found else None) as (bootstrap, embedded):
        ensure_topics(bootstrap, pipeline_topics(settings))
        err(f"broker {bootstrap} ({'embedded Tansu' if embedded or not found else 'from ' + found.source})")
        for endpoint in unconfigured_endpoints(webhook, settings.feedback):
            err(f"  not configured, answers 503: {endpoint}")
        err(f"serving on http://{args.host}:{args.port} (OpenAPI at /openapi.json); Ctrl-C to stop")
        serve(settings, webhook, bootstrap, args.host, args.port)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the ingress HTTP service: webhooks, ticket API, admin flags")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=argtypes.port, default=8080, help="listen port (default 8080)")
    add_broker_option(
        p, help_text="Kafka bootstrap servers HOST:PORT (default: SUPPORTFLOW_BROKER, else the pipeline a "
        f"`supportflow run` started from this folder, found through {STATE_HINT}, else an embedded broker)",
    )  # fmt: skip
    p.add_argument(
        "--write-openapi", nargs="?", const="", default=None, metavar="PATH",
        help="write the OpenAPI document (default: the shipped supportflow/data/openapi.json) and exit",
    )  # fmt: skip
    p.set_defaults(func=cmd_serve)
