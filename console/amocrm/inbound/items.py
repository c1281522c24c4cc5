"""A webhook body read as items: ``leads[status][0][id]=…`` becomes one :class:`WebhookItem` per entity event.

The format: https://www.amocrm.ru/developers/content/crm_platform/webhooks-format (PHP-style form keys,
parsed by ``inbound.formparse``). Two deliveries with the same items have the same :func:`fingerprint`.

Companies arrive under ``contacts`` with ``type=company``. A note event (``leads[note][0][note][...]``) has
no top-level ``id``: the note sits in ``note`` and names its entity by ``element_id`` and ``element_type``
(1 contact, 2 lead, 3 company); its item takes the entity's id from ``element_id`` and keeps the note's own
id in ``note_id``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from console.amocrm.inbound.formparse import as_list
from console.amocrm.reasons import Code, Reason, reason

# Actions that carry the lead's state (its stage): two of them for the same lead and time are one event.
STATE_ACTIONS = {"add", "update", "status", "responsible"}
COMPANY_ELEMENT_TYPE = 3  # a note's element_type for a company (1 contact, 2 lead)
# Unix seconds below this (the year 5138) are a time; 1,000 times more is a stamp in milliseconds, which some
# integrations send; anything else is no time at all (judged as an item without one).
SECONDS_LIMIT = 10**11


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
    note_id: int | None = None  # a note event: the note's own id (``id`` is the entity it belongs to)
    # Why the item's time is not the one it claimed (milliseconds read as seconds, or no plausible time).
    time_reason: Reason | None = field(default=None, compare=False)

    def dedup_part(self) -> list[Any]:
        """What makes two deliveries the same event. A lead: entity, kind of action, id, stage and time (its
        update and status hooks for one move are one event). A note: the note itself (its id, else its
        content) and time. Anything else: action, id, time and content (a contact's add and update within
        one second are two events; amoCRM's retry of either is the same)."""
        if self.action == "note":
            return [self.entity, "note", self.id, self.note_id or _digest(self.fields), self.last_modified]
        if self.entity != "leads":
            return [self.entity, self.action, self.id, self.last_modified, _digest(self.fields)]
        kind = "state" if self.action in STATE_ACTIONS else self.action
        return [self.entity, kind, self.id, self.pipeline_id, self.status_id, self.last_modified]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _plausible(value: int) -> tuple[int | None, Reason | None]:
    """A claimed time as unix seconds: as it is, a millisecond stamp divided, or None (with the reason)."""
    if 0 <= value < SECONDS_LIMIT:
        return value, None
    if SECONDS_LIMIT <= value < SECONDS_LIMIT * 1000:
        return value // 1000, reason(Code.TIME_MILLISECONDS, seen=value)
    return None, reason(Code.TIME_OUT_OF_RANGE, seen=value)


def _latest_time(raw: dict[str, Any]) -> tuple[int | None, Reason | None]:
    """The item's time: ``last_modified`` or ``updated_at``, the later where both are given (a body that
    claims a future time in either one is judged by that time), and why it differs from the claim."""
    claimed = [t for t in (as_int(raw.get("last_modified")), as_int(raw.get("updated_at"))) if t is not None]
    read = [_plausible(t) for t in claimed]
    times = [t for t, _why in read if t is not None]
    why = next((w for _t, w in read if w is not None), None)
    return (max(times) if times else None), why


def _item(entity: str, action: str, raw: dict[str, Any]) -> WebhookItem:
    note = raw.get("note") if action == "note" and isinstance(raw.get("note"), dict) else None
    is_company = raw.get("type") == "company"
    if note is not None:
        is_company = is_company or as_int(note.get("element_type")) == COMPANY_ELEMENT_TYPE
    if entity == "contacts" and is_company:
        entity = "companies"
    if note is not None:
        note_time, note_why = _latest_time(note)
        return WebhookItem(
            entity=entity,
            action=action,
            id=as_int(raw.get("id")) or as_int(note.get("element_id")),
            last_modified=note_time,
            fields=raw,
            note_id=as_int(note.get("id")),
            time_reason=note_why,
        )
    modified, why = _latest_time(raw)
    return WebhookItem(
        entity=entity,
        action=action,
        id=as_int(raw.get("id")),
        status_id=as_int(raw.get("status_id")),
        pipeline_id=as_int(raw.get("pipeline_id")),
        last_modified=modified,
        fields=raw,
        time_reason=why,
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
