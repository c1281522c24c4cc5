"""Encryption at rest for tokens and secrets (Fernet, key from ``settings.FIELD_ENCRYPTION_KEY``).

Several comma-separated keys may be given: the first encrypts, all decrypt (key rotation via ``MultiFernet``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(key_setting: str) -> MultiFernet:
    keys = [key.strip() for key in key_setting.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(value: str) -> str:
    """``value`` encrypted and marked with a prefix; the empty string stays empty."""
    if not value:
        return ""
    return PREFIX + _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    """The clear text of a value written by :func:`encrypt`; ``ImproperlyConfigured`` on a wrong key."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise ImproperlyConfigured("an encrypted field holds a value that was not encrypted")
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY cannot decrypt a stored secret (wrong key?)"
        ) from exc


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; Python code only ever sees the clear text.

    Not searchable or comparable in SQL (each encryption is randomised).
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str:
        return decrypt(value) if value else ""

    def to_python(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str) and value.startswith(PREFIX):
            return decrypt(value)
        return str(value)

    def get_prep_value(self, value: Any) -> str:
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""
