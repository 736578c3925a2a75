"""The registry codec over real HTTP: confluent-kafka's client against a loopback stand-in for the
registry's REST API (no registry server runs here; the stand-in answers the few endpoints start-up and
reads use, the way Confluent's documents them)."""

import base64
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from supportflow.schemas import registry, wire
from supportflow.schemas.models import Outcome
from supportflow.settings import SchemaRegistrySettings, Settings
from tests.unit.connectors.egress.builders import outcome

SECRET = "s3cret-pw"


class RegistryStandIn(ThreadingHTTPServer):
    """Subjects start empty; a schema gets one id in every subject, as in Confluent's registry."""

    def __init__(self, config_status: int = 200, register_status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.config_status, self.register_status = config_status, register_status
        self.ids: dict[str, int] = {}
        self.requests: list[tuple[str, str, str]] = []  # method, path, Authorization header

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RegistryStandIn

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _seen(self) -> bytes:
        self.server.requests.append((self.command, self.path, self.headers.get("Authorization", "")))
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        self._seen()
        if self.path.startswith("/schemas/ids/"):
            schema_id = int(self.path.split("/")[3].split("?")[0])
            by_id = {i: s for s, i in self.server.ids.items()}
            if schema_id in by_id:
                return self._answer(200, {"schema": by_id[schema_id]})
            return self._answer(404, {"error_code": 40403, "message": "Schema not found"})
        self._answer(404, {"error_code": 40401, "message": "Subject not found"})  # .../versions/latest

    def do_PUT(self) -> None:
        body = json.loads(self._seen())
        if self.server.config_status != 200:
            return self._answer(self.server.config_status, {"error_code": 40301, "message": "forbidden"})
        self._answer(200, body)

    def do_POST(self) -> None:
        schema = json.loads(self._seen())["schema"]
        if self.server.register_status != 200:
            return self._answer(self.server.register_status, {"error_code": 409, "message": "incompatible"})
        schema_id = self.server.ids.setdefault(schema, len(self.server.ids) + 1)
        self._answer(200, {"id": schema_id})


def _serve(**kw) -> Iterator[RegistryStandIn]:
    server = RegistryStandIn(**kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        registry.configure(Settings(schema_registry=SchemaRegistrySettings()))  # the own header again


@pytest.fixture
def stand_in() -> Iterator[RegistryStandIn]:
    yield from _serve(config_status=403)


def _settings(url: str) -> Settings:
    return Settings(
        schema_registry=SchemaRegistrySettings(url=url, basic_auth_user_info=SecretStr(f"sf:{SECRET}"))
    )


def test_registry_http_start_up_registers_with_basic_auth_and_forbidden_config_warns(stand_in, caplog):
    with caplog.at_level(logging.INFO, logger="supportflow"):
        codec = registry.configure(_settings(stand_in.url))
    assert codec is not None and codec.registered
    posted = {path.split("/")[2] for method, path, _ in stand_in.requests if method == "POST"}
    assert "supportflow.outcomes-value" in posted and "supportflow.tickets.routed-value" in posted
    expected = "Basic " + base64.b64encode(f"sf:{SECRET}".encode()).decode()
    assert {auth for _, _, auth in stand_in.requests} == {expected}
    assert "may not set supportflow.outcomes-value to BACKWARD (HTTP 403)" in caplog.text
    assert SECRET not in caplog.text


def test_registry_http_outcome_id_is_the_registered_one_and_decodes(stand_in):
    registry.configure(_settings(stand_in.url))
    o = outcome()
    data = wire.encode(o)
    assert int.from_bytes(data[1:5], "big") == stand_in.ids[json.dumps(wire.avro_schema("Outcome"))]
    assert wire.decode(data, Outcome) == o


def test_registry_http_refused_schema_fails_start_up_as_incompatible():
    for server in _serve(register_status=409):
        with pytest.raises(registry.IncompatibleSchemaError, match="refused"):
            registry.configure(_settings(server.url))
