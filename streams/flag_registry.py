"""The flags a worker knows, their types, and how an operator's value becomes one of them.

Writers (``supportflow flags set``, ``POST /admin/flags``) go through :func:`coerce`: unknown names
and values of the wrong type are rejected with a one-line :class:`FlagError`, and a boolean is always
written as a JSON boolean. Readers (every worker's flag watcher) go through :func:`read`, which is
strict: only a value of the declared JSON type counts, anything else gives the flag's ``fail_closed``
value. For ``auto_resolve`` that is ``false``, so a bad record can stop auto-send but never start it.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

#: Words (any case) an operator may type for a boolean flag; JSON ``true``/``false`` and 1/0 also work.
TRUE_WORDS = ("true", "on", "yes", "1")
FALSE_WORDS = ("false", "off", "no", "0")
#: Metric label for a name the registry does not know (keeps label values bounded).
UNKNOWN = "unknown"
_JSON_TYPES = {bool: "boolean", int: "integer", str: "string"}


class FlagError(ValueError):
    """A flag name or value that cannot be written; the message is one line for an operator."""


@dataclass(frozen=True)
class FlagSpec:
    name: str
    kind: type  # the JSON type stored on the control topic: bool, int or str
    default: Any  # when the control topic has no value for the flag (never set, or deleted)
    fail_closed: Any  # when its value there is unreadable or of the wrong type
    help: str

    def accepted(self) -> str:
        if self.kind is bool:
            return "a boolean: true/false, on/off, yes/no or 1/0 (any case)"
        return f"a JSON {self.json_type}"

    @property
    def json_type(self) -> str:
        return _JSON_TYPES[self.kind]


_KILL_SWITCH_HELP = "kill switch: true lets workers auto-send answers, false drafts every ticket for an agent"
FLAGS: dict[str, FlagSpec] = {
    spec.name: spec
    for spec in (FlagSpec("auto_resolve", bool, default=True, fail_closed=False, help=_KILL_SWITCH_HELP),)
}
DEFAULT_FLAGS: dict[str, Any] = {name: spec.default for name, spec in FLAGS.items()}


def _show(value: Any, limit: int = 64) -> str:
    text = json.dumps(value, default=repr)  # escapes newlines and control characters: one line
    return text if len(text) <= limit else text[: limit - 3] + "..."


def spec_for(name: str) -> FlagSpec:
    spec = FLAGS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name.lower(), FLAGS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise FlagError(f"unknown flag {_show(name)} ({hint}known flags: {', '.join(sorted(FLAGS))})")
    return spec


def _of_type(spec: FlagSpec, value: Any) -> bool:
    """``value`` is of the flag's JSON type (a JSON boolean is not an integer here)."""
    return isinstance(value, spec.kind) and (spec.kind is bool or not isinstance(value, bool))


def _wrong_value(spec: FlagSpec, value: Any) -> FlagError:
    return FlagError(f"{spec.name} takes {spec.accepted()}, got {_show(value)}")


def _coerce_bool(spec: FlagSpec, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise _wrong_value(spec, value)


def coerce(name: str, value: Any) -> Any:
    """What a writer stores for ``name=value``; ``value`` is text (CLI) or a decoded JSON value (API)."""
    spec = spec_for(name)
    if spec.kind is bool:
        return _coerce_bool(spec, value)
    if spec.kind is int and isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    if _of_type(spec, value):
        return value
    raise _wrong_value(spec, value)


def parse_assignment(text: str) -> tuple[str, Any]:
    """``auto_resolve=off`` -> ("auto_resolve", False). Raises :class:`FlagError` with a one-line reason."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep:
        raise FlagError(f"expected NAME=VALUE, got {_show(text)} (e.g. auto_resolve=false)")
    return name, coerce(name, raw)


def read(name: str, value: Any) -> tuple[Any, str | None]:
    """A stored value as a reader uses it: ``(value, None)`` if of the declared type, else
    ``(fail_closed, reason)``. Strings such as ``"false"`` are not booleans here."""
    spec = FLAGS[name]
    if _of_type(spec, value):
        return value, None
    return spec.fail_closed, f"not a JSON {spec.json_type}; using {json.dumps(spec.fail_closed)}"


def is_on(value: Any) -> bool:
    """Only a real ``True`` enables a boolean flag's behaviour (fail closed)."""
    return value is True
