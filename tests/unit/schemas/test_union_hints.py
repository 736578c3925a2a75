import io

import fastavro
import pytest

from supportflow.schemas import wire
from supportflow.schemas._union_hints import compile_hints
from supportflow.schemas.errors import SchemaError
from supportflow.schemas.models import CustomerContext, Order, PipelineRecord
from tests.unit.helpers import record


def _customer() -> CustomerContext:
    orders = [
        Order(order_id="NW-100231", status="shipped", total=179.0, items=["1 x Canyon Hiking Boots"],
              tracking_number="9400664035367877923594", carrier="USPS"),
        Order(order_id="NW-100242", status="cancelled", total=982.0),
    ]  # fmt: skip
    return CustomerContext(customer_id="cus_2", name="Daniel Okafor", vip=True, orders=orders)


def _records() -> list[PipelineRecord]:
    full = record().model_copy(update={"customer": _customer(), "embedding": b"\x00\x01" * 768})
    return [full, record(answer=False), record().model_copy(update={"route": None, "sources": []})]


def _plain_bytes(name: str, data: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, wire._parsed_current(name), data)
    return buf.getvalue()


@pytest.mark.parametrize("rec", _records(), ids=["customer+answer", "no-answer", "no-route"])
def test_union_hints_pipeline_record_same_bytes_as_unhinted(rec):
    hinted = wire.encode(rec)
    assert hinted[3:] == _plain_bytes("PipelineRecord", rec.model_dump(mode="python"))
    assert wire.decode(hinted, PipelineRecord) == rec


def test_union_hints_pipeline_record_names_each_present_record_branch():
    hint = compile_hints(wire.avro_schema("PipelineRecord"))
    assert hint is not None
    data = hint(_records()[0].model_dump(mode="python"))
    assert data["customer"][0] == "io.supportflow.CustomerContext"
    assert data["route"][0] == "io.supportflow.RouteDecision"
    assert data["answer"][0] == "io.supportflow.Answer"
    assert isinstance(data["ticket"], dict)  # not a union: left as it is


def test_union_hints_schema_without_record_unions_returns_none():
    schema = {"type": "record", "name": "Plain", "fields": [
        {"name": "a", "type": ["null", "string"]}, {"name": "b", "type": {"type": "array", "items": "long"}},
    ]}  # fmt: skip
    assert compile_hints(schema) is None


def test_union_hints_nested_unions_in_arrays_and_maps_are_named():
    inner = {"type": "record", "name": "Inner", "namespace": "x", "fields": [{"name": "v", "type": "long"}]}
    schema = {"type": "record", "name": "Outer", "namespace": "x", "fields": [
        {"name": "first", "type": ["null", inner]},
        {"name": "many", "type": {"type": "array", "items": ["null", "Inner"]}},
        {"name": "by_key", "type": {"type": "map", "values": ["null", "x.Inner"]}},
    ]}  # fmt: skip
    hint = compile_hints(schema)
    assert hint is not None
    data = hint({"first": {"v": 1}, "many": [None, {"v": 2}], "by_key": {"k": {"v": 3}}})
    assert data == {"first": ("x.Inner", {"v": 1}), "many": [None, ("x.Inner", {"v": 2})],
                    "by_key": {"k": ("x.Inner", {"v": 3})}}  # fmt: skip
    parsed = fastavro.parse_schema(schema)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, data)
    assert fastavro.schemaless_reader(io.BytesIO(buf.getvalue()), parsed) == {
        "first": {"v": 1}, "many": [None, {"v": 2}], "by_key": {"k": {"v": 3}},
    }  # fmt: skip


def test_union_hints_two_record_branches_left_to_fastavro():
    a = {"type": "record", "name": "A", "fields": [{"name": "v", "type": "long"}]}
    b = {"type": "record", "name": "B", "fields": [{"name": "w", "type": "string"}]}
    schema = {"type": "record", "name": "Either", "fields": [{"name": "x", "type": ["null", a, b]}]}
    assert compile_hints(schema) is None


@pytest.mark.parametrize("name", ["Outcome", "AuditEvent", "DeadLetter", "InboundEvent"])
def test_union_hints_records_without_record_unions_get_no_rewrite(name):
    assert compile_hints(wire.avro_schema(name)) is None


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic warns about the smuggled value
def test_union_hints_value_not_matching_branch_raises_schema_error():
    bad = record().model_copy(update={"customer": _customer()})
    bad.customer.orders[0].__dict__["total"] = "not a number"  # bypasses pydantic, as a bug would
    with pytest.raises(SchemaError):
        wire.encode(bad)
