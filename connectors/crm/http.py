"""A CRM behind a REST API: the shape a production deployment plugs in instead of the SQLite fixture.

Endpoints (JSON, ``Authorization: Bearer <api key>``):

- ``GET {base_url}/customers/{customer_id}`` -> a customer object, 404 when unknown
- ``GET {base_url}/customers?email=...`` / ``?phone=...`` -> ``{"customers": [customer, ...]}``

A customer object is ``{"id"|"customer_id", "name", "email", "phone", "tier", "vip", "language",
"orders": [{"order_id"|"id", "status", "total", "currency", "placed_at", "items", "carrier",
"tracking_number", "delivered_at"}]}``. Errors follow the retry contract: 5xx, 429, timeouts and
refused connections are TransientError; other 4xx and undecodable bodies are PermanentError.

The remote search may match more loosely than we compare (case or Unicode folding, fuzzy search): a
customer is returned only if its own id, email or phone equals the one looked up, in our canonical
form (:mod:`supportflow.processors.contacts`), so a look-alike cannot reach a record through the
CRM's matching either.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import httpx
from pydantic import SecretStr, ValidationError

from supportflow.connectors.crm.base import MAX_ORDERS
from supportflow.processors.contacts import (
    normalize_customer_id,
    normalize_email,
    normalize_phone,
    stored_email,
)
from supportflow.schemas.errors import PermanentError, TransientError
from supportflow.schemas.models import CustomerContext, Order

_RETRYABLE_STATUS = frozenset({408, 425, 429})


class HttpCrm:
    def __init__(self, base_url: str, api_key: SecretStr | None = None, *, timeout_s: float = 5.0) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        headers = {"Accept": "application/json"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key.get_secret_value()}"
        # One timeout for connecting, each read and each write, like a socket timeout; redirects are
        # followed as a browser would (httpx drops the Authorization header when they leave the host).
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s), follow_redirects=True)

    def find_customer(
        self, *, customer_id: str | None = None, email: str | None = None, phone: str | None = None
    ) -> CustomerContext | None:
        wanted_id = (customer_id or "").strip()
        if wanted_id:
            found = self._get(f"/customers/{urllib.parse.quote(wanted_id, safe='')}")
            if found is not None:
                customer = customer_from_json(found)
                if normalize_customer_id(customer.customer_id) == normalize_customer_id(wanted_id):
                    return customer
        for field, value in (("email", normalize_email(email)), ("phone", normalize_phone(phone))):
            if value is None:
                continue
            body = self._get("/customers?" + urllib.parse.urlencode({field: value}))
            matches = body.get("customers", []) if isinstance(body, dict) else []
            for match in matches if isinstance(matches, list) else []:
                customer = customer_from_json(match)
                if getattr(customer, field) == value:  # normalized by customer_from_json
                    return customer
        return None

    def _get(self, path: str) -> Any:
        """Decoded JSON body, or None on 404."""
        try:
            response = self._client.get(self.base_url + path)
        except httpx.TimeoutException as exc:
            raise TransientError(f"CRM GET {path} timed out after {self.timeout_s}s") from exc
        except httpx.TransportError as exc:  # refused, DNS, reset: the CRM may be back shortly
            raise TransientError(f"CRM GET {path} failed: {exc}") from exc
        except (httpx.TooManyRedirects, httpx.DecodingError) as exc:  # asking again gets the same
            raise PermanentError(f"CRM GET {path} failed: {exc}") from exc
        if response.status_code == 404:
            return None
        if not response.is_success:
            message = f"CRM GET {path} returned HTTP {response.status_code}"
            if response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS:
                raise TransientError(message)
            raise PermanentError(message)
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise PermanentError(f"CRM GET {path} returned a body that is not JSON") from exc

    def close(self) -> None:
        """Closes the pooled connections."""
        self._client.close()


def customer_from_json(data: Any) -> CustomerContext:
    """Map a CRM customer object onto CustomerContext: orders newest first, at most MAX_ORDERS."""
    if not isinstance(data, dict):
        raise PermanentError(f"CRM customer must be a JSON object, got {type(data).__name__}")
    try:
        orders = [
            Order.model_validate({**o, "order_id": o.get("order_id") or o.get("id")})
            for o in data.get("orders") or []
            if isinstance(o, dict)
        ]
        orders.sort(key=lambda o: o.placed_at, reverse=True)
        return CustomerContext(
            customer_id=str(data.get("customer_id") or data.get("id") or ""),
            name=data.get("name") or "",
            email=stored_email(data.get("email")) or "",
            phone=normalize_phone(data.get("phone")) or "",
            tier=data.get("tier") or "standard",
            vip=bool(data.get("vip", False)),
            language=data.get("language") or "en",
            orders=orders[:MAX_ORDERS],
        )
    except ValidationError as exc:
        raise PermanentError(f"CRM customer object has the wrong shape: {exc.errors()[0]['msg']}") from exc
