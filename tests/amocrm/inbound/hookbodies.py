"""Webhook bodies as amoCRM posts them (PHP-style form keys, legacy v2 field names), for the inbound tests."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote_plus

from console.amocrm.models import WebhookInbox

SECRET = "test-webhook-secret-0123456789abcdefghijklmnop"
ACCOUNT = {"id": "32427762", "subdomain": "etesttask", "_links": {"self": "https://etesttask.amocrm.ru"}}
PIPELINE = 9217056
STAGES = {"new": 20067730, "reserved": 20067733, "in_rent": 20067736, "in_progress": 20067739}
T0 = int(time.time()) - 600  # after the fixtures' last push (1 h ago) and local change (2 h ago)


def flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(f"{prefix}[{key}]", item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(f"{prefix}[{index}]", item, out)
    else:
        out.append((prefix, str(value)))


def hook_body(
    groups: dict[str, dict[str, list[dict[str, Any]]]], account: dict[str, Any] | None = None
) -> str:
    """A form body like amoCRM's: ``leads[status][0][id]=...&account[subdomain]=...`` (PHP-style keys)."""
    pairs: list[tuple[str, str]] = []
    for entity, actions in groups.items():
        for action, items in actions.items():
            flatten(f"{entity}[{action}]", items, pairs)
    flatten("account", ACCOUNT if account is None else account, pairs)
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def lead_item(lead_id: int, status: str | int, modified: int, **extra: Any) -> dict[str, Any]:
    """A lead as the captured 2018 ``status_lead`` body has it (legacy v2 names, Cyrillic, tags, fields)."""
    status_id = STAGES[status] if isinstance(status, str) else status
    return {
        "id": lead_id,
        "name": "Семинар «Мебель напрокат»",
        "status_id": status_id,
        "old_status_id": STAGES["new"],
        "price": 22500,
        "responsible_user_id": 2079676,
        "last_modified": modified,
        "modified_user_id": 2079718,
        "created_user_id": 2076025,
        "date_create": T0 - 3600,
        "pipeline_id": PIPELINE,
        "account_id": 17769199,
        "tags": [{"id": 80147, "name": "сайт"}],
        "custom_fields": [{"id": 66339, "name": "Источник", "values": [{"value": "Сайт", "enum": 139517}]}],
        "created_at": T0 - 3600,
        "updated_at": modified,
    } | extra


def last_row() -> WebhookInbox:
    return WebhookInbox.objects.order_by("-id").first()
