"""Redaction of secrets (tokens, client secret, webhook secret) from log lines and stored error records."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_KEYS = r"access_token|refresh_token|client_secret|secret|token|password|authorization|x-refresh-token"
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/=]+"), r"\1***"),
    # "key": "value" / key=value / 'key': 'value' for secret-looking keys (JSON bodies, form bodies, reprs).
    (re.compile(rf"(?i)((?<![A-Za-z_])[\"']?(?:{_KEYS})[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}}]+"), r"\1***"),
    # OAuth codes in query strings (not the "code" of a validation error, which is harmless).
    (re.compile(r"(?i)([?&]code=)[^&\s\"']+"), r"\1***"),
    (re.compile(r'(?i)("code"\s*:\s*")(def5[0-9a-f]{16,})'), r"\1***"),
    # JWTs (access tokens, long-lived tokens) and amoCRM refresh tokens wherever they appear.
    (re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"), "***"),
    (re.compile(r"def50200[0-9a-f]{16,}"), "***"),
    # The webhook secret travels in our webhook URL path.
    (re.compile(r"(/amocrm/webhook/)[^/\s\"'?]+"), r"\1***"),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with bearer tokens, secret-looking pairs and the given ``secrets`` replaced by ``***``."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that redacts every record's message before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
