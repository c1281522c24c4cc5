"""A webhook body read as items: ``leads[status][0][id]=…`` becomes one :class:`WebhookItem` per entity event.

The format: https://www.amocrm.ru/developers/content/crm_platform/webhooks-format (PHP-style form keys,
parsed by ``inbound.formparse``). Two deliveries with the same items have the same :func:`fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from console.amocrm.inbound.formparse import as_list

# Actions that carry the lead's state (its stage): two of them for the same lead and time are one event.
STATE_ACTIONS = {"add", "update", "status", "responsible"}


def as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class WebhookItem:
    """One entity event of a webhook body, e.g. ``leads[status][0]`` (all ids already ints or None)."""

    entity: str  # "leads", "contacts", "companies" (a contact with type=company), "task", ...
    action: str  # "add", "update", "status", "delete", "restore", "responsible", "note", ...
    id: int | None
    status_id: int | None = None
    pipeline_id: int | None = None
    last_modified: int | None = None
    fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def dedup_part(self) -> list[Any]:
        """What makes two deliveries the same event: entity, kind of action, id, stage and time."""
        kind = "state" if self.action in STATE_ACTIONS else self.action
        return [self.entity, kind, self.id, self.pipeline_id, self.status_id, self.last_modified]


def _item(entity: str, action: str, raw: dict[str, Any]) -> WebhookItem:
    if entity == "contacts" and raw.get("type") == "company":
        entity = "companies"
    modified = raw.get("last_modified") or raw.get("updated_at")
    return WebhookItem(
        entity=entity,
        action=action,
        id=as_int(raw.get("id")),
        status_id=as_int(raw.get("status_id")),
        pipeline_id=as_int(raw.get("pipeline_id")),
        last_modified=as_int(modified),
        fields=raw,
    )


def webhook_items(data: dict[str, Any]) -> list[WebhookItem]:
    """Every item of a parsed body in body order (``{entity}[{action}][{i}]``; ``account`` is no item)."""
    items = []
    for entity, group in data.items():
        if entity == "account" or not isinstance(group, dict):
            continue
        for action, entries in group.items():
            items.extend(_item(entity, action, raw) for raw in as_list(entries) if isinstance(raw, dict))
    return items


def fingerprint(account: dict[str, Any], items: list[WebhookItem]) -> str:
    """A stable hash of (account, entity, action kind, id, stage, last_modified) of every item."""
    parts = sorted(json.dumps(item.dedup_part()) for item in items)
    key = [str(account.get("id") or ""), str(account.get("subdomain") or "").lower(), parts]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()
