"""Notes of leads, contacts and companies: https://www.amocrm.ru/developers/content/crm_platform/events-and-notes.

Notes are stored under kind ``note:{entity}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import webhook_events
from ..http import MSG_INT, MSG_STR, Request, Response, as_list, json_response, no_content, verror
from .common import (
    authored,
    batch_body,
    check_groups,
    int_set,
    is_int,
    links,
    matches_range,
    paginate,
    rid_of,
)

if TYPE_CHECKING:
    from ..app import Sandbox

# fmt: off
NOTE_TYPES = {
    "common", "call_in", "call_out", "service_message", "extended_service_message", "message_cashier",
    "invoice_paid", "geolocation", "sms_in", "sms_out", "attachment",
}
# fmt: on


def note_kind(entity: str) -> str:
    return f"note:{entity}"


def _render_note(req: Request, entity: str, note: dict[str, Any]) -> dict[str, Any]:
    return dict(note, _links=links(req, f"/api/v4/{entity}/{note['entity_id']}/notes/{note['id']}"))


def notes_list(sb: Sandbox, req: Request, entity: str, eid: str | None = None) -> Response:
    """GET /api/v4/{entity}/notes and /api/v4/{entity}/{id}/notes"""
    notes = sb.store.all(note_kind(entity))
    if eid is not None:
        notes = [n for n in notes if n["entity_id"] == int(eid)]
    flt = req.nested().get("filter", {})
    if isinstance(flt, dict):
        for key in ("id", "entity_id"):
            if key in flt:
                ids = int_set(as_list(flt[key]))
                notes = [n for n in notes if n[key] in ids]
        if "note_type" in flt:
            types = set(as_list(flt["note_type"]))
            notes = [n for n in notes if n["note_type"] in types]
        if "updated_at" in flt:
            notes = [n for n in notes if matches_range(n["updated_at"], flt["updated_at"])]
    return paginate(req, notes, "notes", lambda n: _render_note(req, entity, n))


def note_get(sb: Sandbox, req: Request, entity: str, nid: str, eid: str | None = None) -> Response:
    """GET /api/v4/{entity}/notes/{id}"""
    note = sb.store.get(note_kind(entity), nid)
    if note is None or (eid is not None and note["entity_id"] != int(eid)):
        return no_content()
    return json_response(200, _render_note(req, entity, note))


def notes_create(sb: Sandbox, req: Request, entity: str, eid: str | None = None) -> Response:
    """POST /api/v4/{entity}/notes (items carry entity_id) or /api/v4/{entity}/{id}/notes."""
    items = batch_body(req)
    actor = sb.actor(req)
    groups, docs = [], []
    with sb.store.atomic():
        for i, item in enumerate(items):
            errors: list[dict[str, str]] = []
            if not isinstance(item, dict):
                errors.append(verror("", "InvalidType", "This value should be of type object."))
            else:
                target = int(eid) if eid is not None else item.get("entity_id")
                parent = sb.store.get(entity, target) if is_int(target) else None
                if not is_int(target):
                    errors.append(verror("entity_id", "InvalidType", MSG_INT))
                elif parent is None or parent["is_deleted"]:
                    errors.append(verror("entity_id"))
                if item.get("note_type") not in NOTE_TYPES:
                    errors.append(verror("note_type"))
                params = item.get("params")
                if not isinstance(params, dict):
                    errors.append(verror("params", "InvalidType", "This value should be of type object."))
                elif item.get("note_type") == "common" and not isinstance(params.get("text"), str):
                    errors.append(verror("params.text", "InvalidType", MSG_STR))
                docs.append(
                    {
                        "id": None,
                        "entity_id": target,
                        **authored(actor, item.get("responsible_user_id")),
                        "note_type": item.get("note_type"),
                        "params": params,
                        "account_id": sb.config["account_id"],
                    }
                )
            groups.append({"request_id": rid_of(item, i), "errors": errors})
        check_groups(groups)
        for doc in docs:
            doc["id"] = sb.store.next_id("note", 4000001)
            sb.store.put(note_kind(entity), doc["id"], doc)
    webhook_events.emit_notes(sb, entity, docs)
    out = [
        {
            "id": d["id"],
            "entity_id": d["entity_id"],
            "request_id": rid_of(item, i),
            "_links": links(req, f"/api/v4/{entity}/{d['entity_id']}/notes/{d['id']}"),
        }
        for i, (d, item) in enumerate(zip(docs, items, strict=True))
    ]
    return json_response(200, {"_links": links(req, req.path), "_embedded": {"notes": out}})
