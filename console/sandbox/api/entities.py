"""Leads, contacts and companies: list, get, create and update, with their tags, custom fields and embedded
links. https://www.amocrm.ru/developers/content/crm_platform/leads-api,
https://www.amocrm.ru/developers/content/crm_platform/contacts-api and
https://www.amocrm.ru/developers/content/crm_platform/companies-api.

Documents are stored under their collection name (``leads``, ``contacts``, ``companies``); keys that start
with ``_`` are private (``_tags``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import webhook_events
from ..http import MSG_INT, Request, Response, as_list, json_response, no_content, verror
from .account import rights_check
from .common import (
    authored,
    batch_body,
    check_groups,
    check_int,
    check_str,
    entity_links,
    fail_one,
    int_set,
    is_int,
    links,
    matches_range,
    now,
    paginate,
    rid_of,
    searchable,
    stamp,
)
from .custom_fields import apply_cfv
from .links import LINK_TARGETS, links_of, put_link
from .loss_reasons import check_loss_reason, embedded_loss_reason
from .tags import resolve_tags, tag_kind

if TYPE_CHECKING:
    from ..app import Sandbox

WON, LOST = 142, 143

# fmt: off
FIELDS = {
    "leads": [
        "id", "name", "price", "responsible_user_id", "group_id", "status_id", "pipeline_id",
        "loss_reason_id", "created_by", "updated_by", "created_at", "updated_at", "closed_at",
        "closest_task_at", "is_deleted", "custom_fields_values", "score", "account_id", "labor_cost",
    ],
    "contacts": [
        "id", "name", "first_name", "last_name", "responsible_user_id", "group_id", "created_by",
        "updated_by", "created_at", "updated_at", "closest_task_at", "is_deleted", "is_unsorted",
        "custom_fields_values", "account_id",
    ],
    "companies": [
        "id", "name", "responsible_user_id", "group_id", "created_by", "updated_by", "created_at",
        "updated_at", "closest_task_at", "is_deleted", "custom_fields_values", "account_id",
    ],
}
# fmt: on
ID_START = {"leads": 1000001, "contacts": 2000001, "companies": 3000001}


def render_entity(
    sb: Sandbox, req: Request, entity: str, doc: dict[str, Any], with_: set[str]
) -> dict[str, Any]:
    """The v4 JSON of a lead/contact/company with ``_links`` and ``_embedded``."""
    out = {k: doc.get(k) for k in FIELDS[entity]}
    out["_links"] = entity_links(req, entity, doc["id"])
    tags = [sb.store.get(tag_kind(entity), t) for t in doc.get("_tags", [])]
    emb: dict[str, Any] = {"tags": [t for t in tags if t]}
    all_links = links_of(sb, entity, doc["id"]) if entity != "companies" or with_ else []
    if entity in ("leads", "contacts"):
        emb["companies"] = [
            {"id": x["to_entity_id"], "_links": entity_links(req, "companies", x["to_entity_id"])}
            for x in all_links
            if x["to_entity_type"] == "companies"
        ]
    if "contacts" in with_ and entity in ("leads", "companies"):
        emb["contacts"] = [
            {
                "id": x["to_entity_id"],
                "is_main": bool((x["metadata"] or {}).get("main_contact")),
                "_links": entity_links(req, "contacts", x["to_entity_id"]),
            }
            for x in all_links
            if x["to_entity_type"] == "contacts"
        ]
    if "leads" in with_ and entity in ("contacts", "companies"):
        emb["leads"] = [
            {"id": x["to_entity_id"], "_links": entity_links(req, "leads", x["to_entity_id"])}
            for x in all_links
            if x["to_entity_type"] == "leads"
        ]
    if "loss_reason" in with_ and entity == "leads":
        emb["loss_reason"] = embedded_loss_reason(sb, req, doc)
    if "catalog_elements" in with_:
        emb["catalog_elements"] = [
            {"id": x["to_entity_id"], "metadata": x["metadata"]}
            for x in all_links
            if x["to_entity_type"] == "catalog_elements"
        ]
    out["_embedded"] = emb
    return out


def _with(req: Request) -> set[str]:
    return {w.strip() for w in (req.arg("with") or "").split(",") if w.strip()}


def entity_list(sb: Sandbox, req: Request, entity: str) -> Response:
    """GET /api/v4/{leads|contacts|companies} with page, limit, query, filter, order and with."""
    with_ = _with(req)
    docs = sb.store.all(entity)
    only_deleted = "only_deleted" in with_
    docs = [d for d in docs if d["is_deleted"] == only_deleted]
    query = (req.arg("query") or "").strip().lower()
    if query:
        docs = [d for d in docs if query in searchable(d) or query == str(d["id"])]
    nested = req.nested()
    flt = nested.get("filter", {})
    if isinstance(flt, dict):
        docs = _apply_filter(docs, flt)
    order = nested.get("order", {})
    if isinstance(order, dict):
        for field, direction in order.items():
            if field in ("id", "created_at", "updated_at"):
                docs.sort(key=lambda d, f=field: (d.get(f) or 0, d["id"]), reverse=str(direction) == "desc")
    return paginate(req, docs, entity, lambda d: render_entity(sb, req, entity, d, with_))


def _apply_filter(docs: list[dict[str, Any]], flt: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("id", "responsible_user_id", "created_by", "updated_by", "pipeline_id"):
        if key in flt:
            wanted = int_set(as_list(flt[key]))
            docs = [d for d in docs if d.get(key) in wanted]
    if "name" in flt:
        names = {str(n) for n in as_list(flt["name"])}
        docs = [d for d in docs if d.get("name") in names]
    if "price" in flt:
        docs = [d for d in docs if matches_range(d.get("price"), flt["price"])]
    for key in ("created_at", "updated_at", "closed_at", "closest_task_at"):
        if key in flt:
            docs = [d for d in docs if matches_range(d.get(key), flt[key])]
    if "statuses" in flt:
        pairs = []
        for spec in as_list(flt["statuses"]):
            if isinstance(spec, dict):
                pairs.append((int_set([spec.get("pipeline_id")]), int_set([spec.get("status_id")])))
        docs = [
            d
            for d in docs
            if any(
                (not p or d.get("pipeline_id") in p) and (not s or d.get("status_id") in s) for p, s in pairs
            )
        ]
    return docs


def entity_get(sb: Sandbox, req: Request, entity: str, eid: str) -> Response:
    """GET /api/v4/{entity}/{id}; 204 when missing or deleted."""
    doc = sb.store.get(entity, eid)
    if doc is None or doc["is_deleted"]:
        return no_content()
    return json_response(200, render_entity(sb, req, entity, doc, _with(req)))


def new_doc(sb: Sandbox, entity: str, actor: int) -> dict[str, Any]:
    doc = {k: None for k in FIELDS[entity]}
    doc.update(
        authored(actor),
        name="",
        is_deleted=False,
        account_id=sb.config["account_id"],
        _tags=[],
    )
    if entity == "leads":
        doc.update(price=0)
    if entity == "contacts":
        doc.update(first_name="", last_name="", is_unsorted=False)
    return doc


def _first_open_status(pipe: dict[str, Any]) -> int:
    return next(s["id"] for s in pipe["statuses"] if s["type"] == 0 and s["id"] not in (WON, LOST))


def _place_lead(
    sb: Sandbox, doc: dict[str, Any], item: dict[str, Any], creating: bool, errors: list[Any]
) -> None:
    """Resolve pipeline_id/status_id of a written lead, with amoCRM's defaults and checks."""
    has_p = check_int(item, "pipeline_id", errors)
    has_s = check_int(item, "status_id", errors)
    if ("pipeline_id" in item and not has_p) or ("status_id" in item and not has_s):
        return
    pipes = {p["id"]: p for p in sb.store.all("pipeline")}
    main = next(p for p in pipes.values() if p["is_main"])
    pid = item["pipeline_id"] if has_p else (None if creating else doc["pipeline_id"])
    if has_p and pid not in pipes:
        errors.append(verror("pipeline_id"))
        return
    if not has_s:
        if creating or (has_p and pid != doc["pipeline_id"]):
            pipe = pipes[pid] if pid else main
            doc["pipeline_id"], doc["status_id"] = pipe["id"], _first_open_status(pipe)
        return
    sid = item["status_id"]
    if pid is None:
        pid = (
            main["id"]
            if sid in (WON, LOST)
            else next((p["id"] for p in pipes.values() if any(s["id"] == sid for s in p["statuses"])), None)
        )
    found = [s for s in pipes[pid]["statuses"] if s["id"] == sid] if pid in pipes else []
    if not found or found[0]["type"] == 1:
        errors.append(verror("status_id"))
        return
    doc["pipeline_id"], doc["status_id"] = pid, sid


def write_entity(
    sb: Sandbox,
    entity: str,
    item: Any,
    existing: dict[str, Any] | None,
    actor: int,
    errors: list[dict[str, str]],
) -> dict[str, Any]:
    """Validate one written item and return the new document (not stored)."""
    if not isinstance(item, dict):
        errors.append(verror("", "InvalidType", "This value should be of type object."))
        return {}
    creating = existing is None
    doc = new_doc(sb, entity, actor) if creating else dict(existing)
    for key in ("name", "first_name", "last_name") if entity == "contacts" else ("name",):
        if check_str(item, key, errors):
            doc[key] = item[key]
    if entity == "contacts" and creating and not doc["name"]:
        doc["name"] = f"{doc['first_name']} {doc['last_name']}".strip()
    if entity == "leads":
        if check_int(item, "price", errors, nullable=True):
            doc["price"] = item["price"] or 0
        old_status = doc.get("status_id")
        _place_lead(sb, doc, item, creating, errors)
        check_loss_reason(sb, doc, item, errors)
        if doc.get("status_id") != old_status:
            doc["closed_at"] = now() if doc["status_id"] in (WON, LOST) else None
    if check_int(item, "responsible_user_id", errors):
        if item["responsible_user_id"] not in sb.user_ids:
            errors.append(verror("responsible_user_id"))
        else:
            doc["responsible_user_id"] = item["responsible_user_id"]
    for key in ("created_by", "updated_by"):
        if check_int(item, key, errors):
            doc[key] = item[key]
    for key in (
        ("created_at", "closed_at", "closest_task_at") if creating else ("closed_at", "closest_task_at")
    ):
        if check_int(item, key, errors, nullable=True):
            doc[key] = item[key]
    if "custom_fields_values" in item:
        doc["custom_fields_values"] = apply_cfv(
            sb, entity, doc.get("custom_fields_values"), item["custom_fields_values"], errors
        )
    emb = item.get("_embedded")
    if emb is not None and not isinstance(emb, dict):
        errors.append(verror("_embedded", "InvalidType", "This value should be of type object."))
        emb = None
    if emb and "tags" in emb:
        doc["_tags"] = (
            [] if emb["tags"] is None else resolve_tags(sb, entity, emb["tags"], "_embedded.tags", errors)
        )
    if "tags_to_add" in item:
        for tid in resolve_tags(sb, entity, item["tags_to_add"], "tags_to_add", errors):
            if tid not in doc["_tags"]:
                doc["_tags"] = [*doc["_tags"], tid]
    if "tags_to_delete" in item:
        drop = set(resolve_tags(sb, entity, item["tags_to_delete"], "tags_to_delete", errors))
        doc["_tags"] = [t for t in doc["_tags"] if t not in drop]
    doc["_links_to"] = []
    for target in ("contacts", "companies"):
        refs = (emb or {}).get(target)
        if refs is None or target not in LINK_TARGETS[entity] or target == entity:
            continue
        for i, ref in enumerate(as_list(refs)):
            tid = ref.get("id") if isinstance(ref, dict) else None
            other = sb.store.get(target, tid) if is_int(tid) else None
            if other is None or other["is_deleted"]:
                errors.append(verror(f"_embedded.{target}.{i}.id"))
            else:
                meta = {"is_main": bool(ref.get("is_main"))} if target == "contacts" else None
                doc["_links_to"].append((target, tid, meta))
    if not creating:
        doc["updated_by"] = item["updated_by"] if is_int(item.get("updated_by")) else actor
        doc["updated_at"] = stamp(existing["updated_at"]) if existing else now()
    return doc


def save_entity(sb: Sandbox, entity: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Store a written document (allocating its id) and the links it asked for."""
    link_to = doc.pop("_links_to", [])
    if doc.get("id") is None:
        doc["id"] = sb.store.next_id(entity, ID_START[entity])
    sb.store.put(entity, doc["id"], doc)
    for target, tid, meta in link_to:
        put_link(sb, entity, doc["id"], target, tid, meta)
    return doc


def entity_create(sb: Sandbox, req: Request, entity: str) -> Response:
    """POST /api/v4/{entity} (array, ≤ 250, atomic: any invalid item fails the whole batch)."""
    items = batch_body(req)
    actor = sb.actor(req)
    rights_check(sb, actor, entity)
    with sb.store.atomic():
        groups, docs = [], []
        for i, item in enumerate(items):
            errors: list[dict[str, str]] = []
            docs.append(write_entity(sb, entity, item, None, actor, errors))
            groups.append({"request_id": rid_of(item, i), "errors": errors})
        check_groups(groups)
        saved = [save_entity(sb, entity, d) for d in docs]
    webhook_events.emit_changes(sb, entity, [(None, d) for d in saved])
    out = [
        _created_row(req, entity, d, rid_of(item, i))
        for i, (d, item) in enumerate(zip(saved, items, strict=True))
    ]
    return json_response(200, {"_links": links(req, f"/api/v4/{entity}"), "_embedded": {entity: out}})


def _created_row(req: Request, entity: str, doc: dict[str, Any], request_id: str) -> dict[str, Any]:
    """One item of a create answer: leads and companies ``{id, request_id, _links}``; contacts also carry
    ``is_deleted`` and ``is_unsorted`` (both false), as amoCRM answers ``POST /api/v4/contacts``."""
    row: dict[str, Any] = {"id": doc["id"]}
    if entity == "contacts":
        row.update(is_deleted=False, is_unsorted=False)
    row.update(request_id=request_id, _links=entity_links(req, entity, doc["id"]))
    return row


def update_items(
    sb: Sandbox, entity: str, items: list[Any], actor: int, single_id: int | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Validate and store updates; returns ``(old, new)`` pairs. Raises ValidationFailed."""
    with sb.store.atomic():
        groups, pairs = [], []
        for i, item in enumerate(items):
            errors: list[dict[str, str]] = []
            eid = single_id if single_id is not None else (item.get("id") if isinstance(item, dict) else None)
            old = sb.store.get(entity, eid) if is_int(eid) else None
            if not is_int(eid):
                errors.append(verror("id", "InvalidType", MSG_INT))
            elif old is None or old["is_deleted"]:
                errors.append(verror("id"))
            else:
                pairs.append((old, write_entity(sb, entity, item, old, actor, errors)))
            groups.append({"request_id": rid_of(item, i), "errors": errors})
        check_groups(groups)
        for _, new in pairs:
            save_entity(sb, entity, new)
    webhook_events.emit_changes(sb, entity, pairs)
    return pairs


def entity_update(sb: Sandbox, req: Request, entity: str) -> Response:
    """PATCH /api/v4/{entity} (array of items with ``id``)."""
    items = batch_body(req)
    pairs = update_items(sb, entity, items, sb.actor(req))
    out = []
    for item, (_, new) in zip(items, pairs, strict=True):
        row: dict[str, Any] = {"id": new["id"], "updated_at": new["updated_at"]}
        if item.get("request_id") is not None:
            row["request_id"] = str(item["request_id"])
        row["_links"] = entity_links(req, entity, new["id"])
        out.append(row)
    return json_response(200, {"_links": links(req, f"/api/v4/{entity}"), "_embedded": {entity: out}})


def entity_update_one(sb: Sandbox, req: Request, entity: str, eid: str) -> Response:
    """PATCH /api/v4/{entity}/{id} (one object); the answer carries ``id``/``updated_at`` at the top level."""
    item = req.json()
    if not isinstance(item, dict):
        raise fail_one("", "InvalidType", "This value should be of type object.")
    (_, new), *_ = update_items(sb, entity, [item], sb.actor(req), single_id=int(eid))
    body = {"id": new["id"], "updated_at": new["updated_at"], "_links": entity_links(req, entity, new["id"])}
    return json_response(200, body)
