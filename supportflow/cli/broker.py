"""Which broker a command talks to, and the state file through which other terminals find a ``run``.

``supportflow run`` writes ``<data_dir>/run.json`` (``.supportflow/run.json`` in the current folder
unless ``SUPPORTFLOW_DATA_DIR`` says otherwise) with its broker address and process id, and removes it
when it stops. Commands that talk to a running pipeline take, in order: ``--broker``,
``SUPPORTFLOW_BROKER``, the broker of the ``run`` named in that file while its process is alive.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportflow.console import err

log = logging.getLogger(__name__)

STATE_FILE = "run.json"
#: Where the state file is, as the help texts say it.
STATE_HINT = ".supportflow/run.json"
BROKER_HELP = (
    "Kafka bootstrap servers HOST:PORT (default: SUPPORTFLOW_BROKER, else the pipeline a `supportflow run` "
    f"started from this folder, found through {STATE_HINT})"
)


@dataclass(frozen=True)
class Target:
    """A broker to talk to and where its address came from."""

    bootstrap: str
    source: str  # "--broker", "SUPPORTFLOW_BROKER" or "run (pid N)"
    embedded: bool = False  # the embedded Tansu broker: clients apply its workarounds


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def read_state(path: Path) -> dict[str, Any] | None:
    """The state a live ``run`` wrote to ``path``; None when absent, unreadable or its process is gone."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid, bootstrap = int(state["pid"]), str(state["bootstrap"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid <= 0 or not bootstrap or not pid_alive(pid):
        return None
    return {**state, "pid": pid, "bootstrap": bootstrap}


def find_broker(flag: str | None, configured: str | None, state_file: Path) -> Target | None:
    """``--broker``, then ``SUPPORTFLOW_BROKER`` (``configured``), then a live ``run``'s state file."""
    if flag:
        return Target(flag, "--broker")
    if configured:
        return Target(configured, "SUPPORTFLOW_BROKER")
    state = read_state(state_file)
    if state is None:
        return None
    return Target(state["bootstrap"], f"run (pid {state['pid']})", embedded=bool(state.get("embedded")))


def no_pipeline_message(command: str) -> str:
    return (
        f"{command}: no running pipeline found; start one with `supportflow run` in another terminal "
        f"(in this folder), or pass --broker HOST:PORT or set SUPPORTFLOW_BROKER"
    )


def resolve(args: argparse.Namespace, command: str) -> Target | None:
    """The broker ``command`` should talk to; None after printing how to start a pipeline."""
    from supportflow.settings import get_settings

    settings = get_settings()
    target = find_broker(getattr(args, "broker", None), settings.broker, state_path(settings.data_dir))
    if target is None:
        err(no_pipeline_message(command))
        return None
    log.info("%s: broker %s (from %s)", command, target.bootstrap, target.source)
    return target


def write_state(path: Path, bootstrap: str, embedded: bool) -> None:
    """Record this process as the running pipeline (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = read_state(path)
    if previous is not None and previous["pid"] != os.getpid():
        err(f"note: another `supportflow run` (pid {previous['pid']}) was recorded in {path}; "
            "other terminals now find this one")  # fmt: skip
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"bootstrap": bootstrap, "pid": os.getpid(), "embedded": embedded}) + "\n")
    tmp.replace(path)


def remove_state(path: Path) -> None:
    """Remove the state file if it still names this process (a later ``run`` may have taken it over)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(state, dict) and state.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def announced(path: Path, bootstrap: str, embedded: bool) -> Iterator[None]:
    """The state file names this process while the block runs."""
    write_state(path, bootstrap, embedded)
    try:
        yield
    finally:
        remove_state(path)


def add_broker_option(
    parser: argparse.ArgumentParser, default: Any = None, help_text: str = BROKER_HELP
) -> None:
    parser.add_argument("--broker", metavar="HOST:PORT", default=default, help=help_text)
