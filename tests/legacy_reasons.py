"""Reasons written as prose before they became data, read by the migration that converted them
(``amocrm/migrations/0008``): tests state a stored reason the way the old rows held it."""

from __future__ import annotations

import importlib
from typing import Any

_migration = importlib.import_module("console.amocrm.migrations.0008_webhook_reasons_as_data")


def from_prose(text: str) -> list[dict[str, Any]]:
    """The reasons the migration makes of an old prose reason."""
    return _migration.to_reasons(text)
