"""What a stage handler costs beyond its stage function, with no Kafka (docs/performance.md).

Runs the bench's tickets through the stage functions once, then times, on one core:
- each stage function against its handler (``run_record_stage`` / ``run_gate``: Avro decode, the
  function, metrics, a copy with timings, Avro encode) on the same batches;
- Avro decode (fastavro's reader, pydantic validation) and encode per record kind.

Usage (from the repo root, venv active; nothing else should be running)::

    python docs/experiments/handler_overhead.py [--tickets 512] [--batch 16] [--cpu 0]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import fastavro

from supportflow.connectors.crm import open_crm
from supportflow.evals.bench import bench_events
from supportflow.processors.audit import audit_event
from supportflow.schemas import wire
from supportflow.schemas.models import PipelineRecord
from supportflow.settings import get_settings
from supportflow.streams.handlers import Message, run_gate, run_record_stage
from supportflow.streams.runtime import Runtime


def per_item_us(fn: Callable[[Any], object], items: Sequence[Any], reps: int = 3) -> float:
    started = time.perf_counter()
    for _ in range(reps):
        for item in items:
            fn(item)
    return 1e6 * (time.perf_counter() - started) / (reps * len(items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=512)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: do not pin)")
    args = parser.parse_args()
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})

    rt = Runtime.build(get_settings(), crm=open_crm(get_settings()), kb_in_memory=True)
    normalized = [r for e in bench_events(args.tickets) for r in rt.normalize(wire.encode(e))]
    routed = rt.route(normalized)
    retrieved = rt.retrieve(routed)
    resolved = rt.resolve(retrieved)

    def batches(items: Sequence[Any]) -> list[Sequence[Any]]:
        return [items[i : i + args.batch] for i in range(0, len(items), args.batch)]

    def messages(records: list[PipelineRecord]) -> list[Message]:
        return [Message("bench", 0, i, b"k", wire.encode(r)) for i, r in enumerate(records)]

    def per_ticket_us(fn: Callable[[Any], object], items: Sequence[Any]) -> float:
        return per_item_us(fn, batches(items)) / args.batch

    def gate_batch(records: Sequence[PipelineRecord]) -> object:
        return [audit_event(r, rt.gate(r)) for r in records]

    rows = [
        ("retrieve", rt.retrieve, routed,
         lambda b: run_record_stage("retrieve", b, rt.retrieve), messages(routed)),
        ("resolve", rt.resolve, retrieved,
         lambda b: run_record_stage("resolve", b, rt.resolve), messages(retrieved)),
        ("gate", gate_batch, resolved,
         lambda b: run_gate(b, rt.gate, lambda _id: False, audit_event), messages(resolved)),
    ]  # fmt: skip
    print(f"stage      function  handler  (µs per ticket, batches of {args.batch})")
    for name, fn, records, handler, msgs in rows:
        print(f"{name:10s} {per_ticket_us(fn, records):8.0f} {per_ticket_us(handler, msgs):8.0f}")

    schema = wire._parsed_current("PipelineRecord")
    print("\nrecord      decode  (fastavro  validate)  encode  (µs per record)")
    for name, records in [("normalized", normalized), ("routed", routed),
                          ("retrieved", retrieved), ("resolved", resolved)]:  # fmt: skip
        blobs = [wire.encode(r) for r in records]
        dicts = [fastavro.schemaless_reader(io.BytesIO(b[3:]), schema, schema) for b in blobs]
        decode = per_item_us(lambda b: wire.decode(b, PipelineRecord), blobs)
        reader = per_item_us(lambda b: fastavro.schemaless_reader(io.BytesIO(b[3:]), schema, schema), blobs)
        validate = per_item_us(PipelineRecord.model_validate, dicts)
        encode = per_item_us(wire.encode, records)
        print(f"{name:10s} {decode:7.1f}  ({reader:7.1f} {validate:9.1f})  {encode:6.1f}")


if __name__ == "__main__":
    main()
