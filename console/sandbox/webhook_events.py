"""Which webhooks a write fires and the items they carry, in amoCRM's legacy v2 field names
(https://www.amocrm.ru/developers/content/crm_platform/webhooks-api). ``Dispatcher`` in ``hooks.py`` encodes
and delivers them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .api.tags import tag_kind

if TYPE_CHECKING:
    from .app import Sandbox

SINGULAR = {"leads": "lead", "contacts": "contact", "companies": "company"}
ELEMENT_TYPE = {"contacts": 1, "leads": 2, "companies": 3}
# The v2 note type numbers hooks still carry (4 text, 5 file, 10/11 calls, 25 system, 102/103 SMS).
LEGACY_NOTE_TYPES = {
    "common": 4,
    "attachment": 5,
    "call_in": 10,
    "call_out": 11,
    "service_message": 25,
    "extended_service_message": 25,
    "sms_in": 102,
    "sms_out": 103,
}
# Note dates in hooks are account-local "Y-m-d H:i:s" strings; the sandbox's account is in Moscow (UTC+3).
MOSCOW = timezone(timedelta(hours=3))


def emit_changes(sb: Sandbox, entity: str, pairs: list[tuple[dict[str, Any] | None, dict[str, Any]]]) -> None:
    """Queue add/update/status/responsible webhooks for written entities (``old`` None = created)."""
    single = SINGULAR[entity]
    group = _group(entity)
    buckets: dict[str, list[dict[str, Any]]] = {}
    for old, new in pairs:
        if old is None:
            buckets.setdefault("add", []).append(hook_item(sb, entity, new))
            continue
        buckets.setdefault("update", []).append(hook_item(sb, entity, new))
        moved = entity == "leads" and (
            old["status_id"] != new["status_id"] or old["pipeline_id"] != new["pipeline_id"]
        )
        if moved:
            item = hook_item(sb, entity, new)
            item["old_status_id"] = old["status_id"]
            if old["pipeline_id"] != new["pipeline_id"]:
                item["old_pipeline_id"] = old["pipeline_id"]
            buckets.setdefault("status", []).append(item)
        if old["responsible_user_id"] != new["responsible_user_id"]:
            item = hook_item(sb, entity, new)
            item["old_responsible_user_id"] = old["responsible_user_id"]
            buckets.setdefault("responsible", []).append(item)
    for action, items in buckets.items():
        sb.hooks.emit(f"{action}_{single}", group, action, items)


def hook_item(sb: Sandbox, entity: str, doc: dict[str, Any]) -> dict[str, Any]:
    """One entity in amoCRM's legacy v2 webhook field names, in the order of the recorded hooks."""
    item: dict[str, Any] = {"id": doc["id"], "name": doc.get("name") or ""}
    if entity == "leads":
        item.update(
            status_id=doc["status_id"],
            price=doc.get("price") or 0,
            responsible_user_id=doc["responsible_user_id"],
            last_modified=doc["updated_at"],
            modified_user_id=doc["updated_by"],
            created_user_id=doc["created_by"],
            date_create=doc["created_at"],
            pipeline_id=doc["pipeline_id"],
        )
    else:
        item.update(
            responsible_user_id=doc["responsible_user_id"],
            date_create=doc["created_at"],
            last_modified=doc["updated_at"],
            created_user_id=doc["created_by"],
            modified_user_id=doc["updated_by"],
            type=SINGULAR[entity],
        )
    item["account_id"] = sb.config["account_id"]
    tags = [sb.store.get(tag_kind(entity), t) for t in doc.get("_tags", [])]
    if any(tags):
        item["tags"] = [{"id": t["id"], "name": t["name"]} for t in tags if t]
    if doc.get("custom_fields_values"):
        item["custom_fields"] = [_hook_cf(cf) for cf in doc["custom_fields_values"]]
    item.update(created_at=doc["created_at"], updated_at=doc["updated_at"])
    return item


def _hook_cf(cf: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cf["field_id"], "name": cf["field_name"]}
    if cf.get("field_code"):
        out["code"] = cf["field_code"]
    values = []
    for v in cf["values"]:
        value: dict[str, Any] = {"value": v["value"]}
        if v.get("enum_id"):
            value["enum"] = v["enum_id"]
        values.append(value)
    out["values"] = values
    return out


def emit_notes(sb: Sandbox, entity: str, notes: list[dict[str, Any]]) -> None:
    """Queue ``note_{entity}`` webhooks: ``{group}[note][i][note][...]``, the entity id in ``element_id`` and
    no top-level ``id`` on the item (keys and order as in hooks amoCRM sent in 2020)."""
    items = [{"note": _hook_note(sb, entity, n)} for n in notes]
    sb.hooks.emit(f"note_{SINGULAR[entity]}", _group(entity), "note", items)


def _hook_note(sb: Sandbox, entity: str, note: dict[str, Any]) -> dict[str, Any]:
    params = note.get("params") or {}
    text = params.get("text", "")
    if note["note_type"] in ("call_in", "call_out"):
        text = json.dumps({k.upper(): params.get(k) for k in ("uniq", "duration", "source", "link", "phone")})
    return {
        "element_type": ELEMENT_TYPE[entity],
        "element_id": note["entity_id"],
        "note_type": LEGACY_NOTE_TYPES.get(note["note_type"], 25),
        "text": text,
        "account_id": sb.config["account_id"],
        "date_create": _local(note["created_at"]),
        "timestamp_x": _local(note["updated_at"]),
        "created_by": note["created_by"],
        "modified_by": note["updated_by"],
        "main_user_id": note["responsible_user_id"],
        "group_id": note.get("group_id") or 0,
        "id": note["id"],
        "created_at": note["created_at"],
        "updated_at": note["updated_at"],
    }


def _local(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, MOSCOW).strftime("%Y-%m-%d %H:%M:%S")


def emit_removal(sb: Sandbox, entity: str, doc: dict[str, Any], action: str) -> None:
    """Queue ``delete_{entity}`` (only ``id``, plus ``status_id``/``pipeline_id`` of a lead or ``type`` of a
    contact/company) or ``restore_{entity}`` (the whole item, as ``add`` carries it)."""
    if action == "restore":
        item = hook_item(sb, entity, doc)
    elif entity == "leads":
        item = {"id": doc["id"], "status_id": doc["status_id"], "pipeline_id": doc["pipeline_id"]}
    else:
        item = {"id": doc["id"], "type": SINGULAR[entity]}
    sb.hooks.emit(f"{action}_{SINGULAR[entity]}", _group(entity), action, [item])


def _group(entity: str) -> str:
    """Companies arrive under ``contacts[...]`` (with ``type=company``)."""
    return "leads" if entity == "leads" else "contacts"


def emit_tasks(sb: Sandbox, pairs: list[tuple[dict[str, Any] | None, dict[str, Any]]]) -> None:
    """Queue ``add_task``/``update_task``/``responsible_task`` under the singular group ``task``
    (https://www.amocrm.ru/developers/content/crm_platform/webhooks-format): ``status`` 0 open / 1 done, dates
    as account-local strings, ``action_close`` on an update that closed the task, ``result`` once given."""
    buckets: dict[str, list[dict[str, Any]]] = {}
    for old, new in pairs:
        item = _hook_task(sb, new)
        if old is None:
            buckets.setdefault("add", []).append(item)
            continue
        item["action_close"] = 1 if new["is_completed"] and not old["is_completed"] else 0
        buckets.setdefault("update", []).append(item)
        if old["responsible_user_id"] != new["responsible_user_id"]:
            moved = dict(item, old_responsible_user_id=old["responsible_user_id"])
            buckets.setdefault("responsible", []).append(moved)
    for action, items in buckets.items():
        sb.hooks.emit(f"{action}_task", "task", action, items)


def _hook_task(sb: Sandbox, task: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": task["id"],
        "element_id": task["entity_id"] or 0,
        "element_type": ELEMENT_TYPE.get(task["entity_type"] or "", 0),
        "task_type": task["task_type_id"],
        "text": task["text"],
        "status": 1 if task["is_completed"] else 0,
        "account_id": sb.config["account_id"],
        "created_user_id": task["created_by"],
        "responsible_user_id": task["responsible_user_id"],
        "date_create": _local(task["created_at"]),
        "last_modified": _local(task["updated_at"]),
        "complete_till": _local(task["complete_till"]),
    }
    if task.get("_result") is not None:
        item["result"] = {"text": task["_result"]}
    return item
