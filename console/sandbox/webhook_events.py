"""Which webhooks a write fires and the items they carry, in amoCRM's legacy v2 field names
(https://www.amocrm.ru/developers/content/crm_platform/webhooks-api). ``Dispatcher`` in ``hooks.py`` encodes
and delivers them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api.tags import tag_kind

if TYPE_CHECKING:
    from .app import Sandbox

SINGULAR = {"leads": "lead", "contacts": "contact", "companies": "company"}
ELEMENT_TYPE = {"contacts": 1, "leads": 2, "companies": 3}


def emit_changes(sb: Sandbox, entity: str, pairs: list[tuple[dict[str, Any] | None, dict[str, Any]]]) -> None:
    """Queue add/update/status/responsible webhooks for written entities (``old`` None = created)."""
    single = SINGULAR[entity]
    group = "leads" if entity == "leads" else "contacts"
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
    """One entity in amoCRM's legacy v2 webhook field names."""
    item: dict[str, Any] = {"id": doc["id"], "name": doc.get("name") or ""}
    if entity == "leads":
        item.update(status_id=doc["status_id"], price=doc.get("price") or 0)
    item["responsible_user_id"] = doc["responsible_user_id"]
    if entity != "leads":
        item["date_create"] = doc["created_at"]
    item.update(
        last_modified=doc["updated_at"],
        modified_user_id=doc["updated_by"],
        created_user_id=doc["created_by"],
    )
    if entity == "leads":
        item.update(date_create=doc["created_at"], pipeline_id=doc["pipeline_id"])
    else:
        item["type"] = "contact" if entity == "contacts" else "company"
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
    """Queue ``note_{entity}`` webhooks."""
    items = []
    for n in notes:
        text = (n.get("params") or {}).get("text", "")
        items.append(
            {
                "note": {
                    "id": n["id"],
                    "note_type": 4 if n["note_type"] == "common" else 25,
                    "element_id": n["entity_id"],
                    "element_type": ELEMENT_TYPE[entity],
                    "text": text,
                    "date_create": n["created_at"],
                    "last_modified": n["updated_at"],
                    "created_by": n["created_by"],
                    "responsible_user_id": n["responsible_user_id"],
                    "account_id": sb.config["account_id"],
                }
            }
        )
    sb.hooks.emit(f"note_{SINGULAR[entity]}", "leads" if entity == "leads" else "contacts", "note", items)
