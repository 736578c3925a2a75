"""HttpCrm against a real HTTP server on 127.0.0.1 (a thread), serving the fixture or failing on purpose."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import SecretStr

from supportflow.connectors.crm import HttpCrm, customer_from_json, load_fixture
from supportflow.schemas.errors import PermanentError, TransientError

API_KEY = "test-key-123"


class FakeCrmHandler(BaseHTTPRequestHandler):
    """A tiny CRM: the fixture behind the documented endpoints, plus failure switches."""

    mode: ClassVar[str] = "ok"
    requests: ClassVar[list[str]] = []
    fixture: ClassVar[dict[str, Any]] = {}

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._send(401, {"error": "unauthorized"})
        if self.mode == "500":
            return self._send(503, {"error": "maintenance"})
        if self.mode == "429":
            return self._send(429, {"error": "slow down"})
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "garbage":
            return self._send(200, b"<html>oops</html>")
        url = urlparse(self.path)
        customers = self.fixture["customers"]
        if self.mode == "loose":  # a search that matches everything: every customer, for any query
            if url.path.startswith("/v1/customers/"):
                return self._send(200, self._with_orders(customers[0]))
            return self._send(200, {"customers": [self._with_orders(c) for c in customers]})
        if url.path.startswith("/v1/customers/"):
            cid = url.path.rsplit("/", 1)[1]
            match = [c for c in customers if c["customer_id"] == cid]
            return self._send(200, self._with_orders(match[0])) if match else self._send(404, {"error": "nf"})
        if url.path == "/v1/customers":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            match = [c for c in customers if any(c.get(k) == v for k, v in query.items())]
            return self._send(200, {"customers": [self._with_orders(c) for c in match]})
        return self._send(404, {"error": "no route"})

    def _with_orders(self, customer: dict[str, Any]) -> dict[str, Any]:
        orders = [
            {**o, "id": o["order_id"]}
            for o in self.fixture["orders"]
            if o["customer_id"] == customer["customer_id"]
        ]
        # Real CRMs use their own field names; "id" instead of "customer_id" exercises the mapping.
        return {
            "id": customer["customer_id"],
            **{k: v for k, v in customer.items() if k != "customer_id"},
            "orders": orders,
        }


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    FakeCrmHandler.fixture = load_fixture()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeCrmHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def crm(server: str) -> Iterator[HttpCrm]:
    FakeCrmHandler.mode = "ok"
    FakeCrmHandler.requests = []
    yield HttpCrm(server, SecretStr(API_KEY), timeout_s=2.0)
    FakeCrmHandler.mode = "ok"


def test_http_crm_find_by_id_maps_customer_and_orders(crm: HttpCrm) -> None:
    found = crm.find_customer(customer_id="cus_0001")
    assert found is not None
    assert (found.customer_id, found.name, found.vip, found.phone) == (
        "cus_0001",
        "Maya Thompson",
        True,
        "+14155550101",
    )
    assert found.orders[0].order_id == "NW-100248"
    placed = [o.placed_at for o in found.orders]
    assert placed == sorted(placed, reverse=True) and len(found.orders) <= 10


def test_http_crm_find_by_email_sends_normalized_query(crm: HttpCrm) -> None:
    found = crm.find_customer(email="Grace.Kim@EXAMPLE.com")
    assert found is not None and found.customer_id == "cus_0009"
    assert FakeCrmHandler.requests == ["/v1/customers?email=grace.kim%40example.com"]


def test_http_crm_find_by_phone_sends_e164(crm: HttpCrm) -> None:
    found = crm.find_customer(phone="15125550140")
    assert found is not None and found.name == "Ruth Abernathy"
    assert FakeCrmHandler.requests == ["/v1/customers?phone=%2B15125550140"]


def test_http_crm_404_returns_none_then_tries_email(crm: HttpCrm) -> None:
    assert crm.find_customer(customer_id="cus_9999") is None
    found = crm.find_customer(customer_id="cus_9999", email="jonas.becker@example.de")
    assert found is not None and found.customer_id == "cus_0004"


def test_http_crm_empty_search_returns_none(crm: HttpCrm) -> None:
    assert crm.find_customer(email="nobody@example.com") is None


@pytest.mark.parametrize("mode", ["500", "429"])
def test_http_crm_server_errors_are_transient(crm: HttpCrm, mode: str) -> None:
    FakeCrmHandler.mode = mode
    with pytest.raises(TransientError, match="HTTP"):
        crm.find_customer(customer_id="cus_0001")


def test_http_crm_timeout_is_transient(server: str) -> None:
    FakeCrmHandler.mode = "slow"
    try:
        with pytest.raises(TransientError, match=r"timed out after 0\.2s"):
            HttpCrm(server, SecretStr(API_KEY), timeout_s=0.2).find_customer(customer_id="cus_0001")
    finally:
        FakeCrmHandler.mode = "ok"


def test_http_crm_wrong_key_is_permanent(server: str) -> None:
    with pytest.raises(PermanentError, match="HTTP 401"):
        HttpCrm(server, SecretStr("wrong"), timeout_s=2.0).find_customer(customer_id="cus_0001")


def test_http_crm_non_json_body_is_permanent(crm: HttpCrm) -> None:
    FakeCrmHandler.mode = "garbage"
    with pytest.raises(PermanentError, match="not JSON"):
        crm.find_customer(customer_id="cus_0001")


def test_http_crm_connection_refused_is_transient() -> None:
    with pytest.raises(TransientError, match="failed"):
        HttpCrm("http://127.0.0.1:9", timeout_s=1.0).find_customer(customer_id="cus_0001")


def test_customer_from_json_rejects_bad_shapes() -> None:
    with pytest.raises(PermanentError, match="JSON object"):
        customer_from_json(["not", "an", "object"])
    with pytest.raises(PermanentError, match="wrong shape"):
        customer_from_json({"id": "c1", "orders": [{"id": "o1", "status": "shipped", "total": "lots"}]})


def test_http_crm_loose_search_other_customer_not_returned(crm: HttpCrm) -> None:
    # A CRM whose search matches more loosely than we compare (here: it ignores the filter entirely)
    # must not hand back someone else's record.
    FakeCrmHandler.mode = "loose"
    assert crm.find_customer(email="nobody@example.com") is None
    assert crm.find_customer(phone="+15550100999") is None
    assert crm.find_customer(customer_id="cus_9999") is None
    found = crm.find_customer(email="grace.kim@example.com")
    assert found is not None and found.email == "grace.kim@example.com"


def test_http_crm_lookalike_email_never_queried(crm: HttpCrm) -> None:
    # A remote CRM may fold U+212A KELVIN SIGN to "k": the look-alike is not even sent.
    assert crm.find_customer(email="daniel.o\u212aafor@example.net") is None
    assert FakeCrmHandler.requests == []
