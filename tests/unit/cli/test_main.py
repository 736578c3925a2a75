"""``supportflow`` parser: built without heavy imports; every option explained; a help page for users."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from supportflow.cli.main import build_parser, main

HEAVY = ("faust", "litellm", "confluent_kafka", "onnxruntime")


def _parsers(
    parser: argparse.ArgumentParser, path: str = "supportflow"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_main_building_the_parser_imports_no_kafka_faust_litellm_or_onnx():
    code = (
        "import json, sys\n"
        "import supportflow.cli.main as m\n"
        "m.build_parser()\n"
        f"print(json.dumps([n for n in {HEAVY!r} if n in sys.modules]))\n"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_parser_every_option_and_positional_has_help():
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not (action.help and action.help.strip())
    ]
    assert missing == []


def test_parser_every_subcommand_has_help():
    missing = [
        f"{path} {choice.dest}"
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
        if not (choice.help and choice.help.strip())
    ]
    assert missing == []


def test_main_top_level_help_says_what_it_is_where_to_start_and_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "customer support" in out and "Start with:" in out and "examples:" in out
    for command in ("demo", "run", "flags", "audit"):
        assert f"\n  {command} " in out
    assert "supportflow run --replay-samples" in out


def test_main_keyboard_interrupt_exit_130_without_traceback(monkeypatch, capsys):
    def interrupted(_args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("supportflow.cli.topics.cmd_topics", interrupted)
    assert main(["topics"]) == 130
    assert "Traceback" not in capsys.readouterr().err
