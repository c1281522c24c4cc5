"""What was sent to amoCRM and what it answered, kept per request for support (a collector the transport
fills; ``console.amocrm.outbound`` stores it with the sync attempt).

Redacted before it is kept (:func:`console.amocrm.api.redaction.redact` with the account's secrets); headers
are never kept (the ``Authorization`` header lives there), neither is anything sent to or answered by the
OAuth token endpoint (https://www.amocrm.ru/developers/content/oauth/step-by-step), and each body is cut to
``AMOCRM_EXCHANGE_MAX_BYTES`` bytes with :data:`TRUNCATED` at its end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from console.amocrm.api.redaction import redact

TRUNCATED = "\n… [truncated]"
TOKEN_PATH = "/oauth2/"  # the token endpoints: nothing they see is ever kept


@dataclass(frozen=True)
class Exchange:
    """One request and its answer as kept: ``status`` is None when no answer came (``response`` then says
    why); ``*_bytes`` are the sizes before the cut."""

    method: str
    path: str
    status: int | None
    request: str
    response: str
    request_id: str
    request_bytes: int
    response_bytes: int
    at: datetime


def capped(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (on a character boundary) plus :data:`TRUNCATED`."""
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode(errors="ignore") + TRUNCATED


def body_text(body: Any) -> str:
    """A request body as sent (compact JSON), "" for none."""
    if body is None:
        return ""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass
class ExchangeLog:
    """The exchanges of one unit of work (one sync run), in the order they happened."""

    max_bytes: int = field(default_factory=lambda: int(settings.AMOCRM_EXCHANGE_MAX_BYTES))
    items: list[Exchange] = field(default_factory=list)

    def record(
        self,
        *,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        sent: Any,
        status: int | None,
        answer: str,
        request_id: str,
        hidden: list[str],
    ) -> None:
        """Keep one request (redacted of ``hidden`` and every secret-looking value, cut to ``max_bytes``)."""
        if TOKEN_PATH in path:
            return
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        request, response = body_text(sent), answer or ""
        self.items.append(
            Exchange(
                method=method,
                path=redact(path + query, hidden)[:500],
                status=status,
                request=capped(redact(request, hidden), self.max_bytes),
                response=capped(redact(response, hidden), self.max_bytes),
                request_id=request_id[:100],
                request_bytes=len(request.encode()),
                response_bytes=len(response.encode()),
                at=timezone.now(),
            )
        )
