"""The amoCRM v4 REST surface: account, leads, contacts, companies, notes, links, catalogs, pipelines,
custom fields, tags and webhooks. Handlers take the sandbox and the request and return a ``Response``.

Entity documents are stored under their collection name (``leads``, ``contacts``, ``companies``); keys that
start with ``_`` are private (``_tags``). Links are stored once per direction under kind ``link`` with key
``{entity_type}:{entity_id}:{to_entity_type}:{to_entity_id}``.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .http import (
    MSG_ARRAY,
    MSG_BLANK,
    MSG_INT,
    MSG_STR,
    HttpError,
    Request,
    Response,
    ValidationFailed,
    as_list,
    json_response,
    no_content,
    problem,
    verror,
)

if TYPE_CHECKING:
    from .app import Sandbox

ENTITIES = ("leads", "contacts", "companies")
MAX_BATCH = 250
MAX_COMPLEX = 50
MAX_CF_VALUES_COMPLEX = 40
DEFAULT_LIMIT = 50
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
ID_START = {"leads": 1000001, "contacts": 2000001, "companies": 3000001}
CF_TYPES = {
    "text", "numeric", "checkbox", "select", "multiselect", "multitext", "date", "url", "textarea",
    "radiobutton", "streetaddress", "smart_address", "birthday", "legal_entity", "date_time", "items",
    "category", "price", "tracking_data", "linked_entity", "org_legal_name", "monetary", "chained_list",
    "file", "payer", "supplier",
}
ENUM_TYPES = {"select", "multiselect", "radiobutton"}
NUMERIC_TYPES = {"numeric", "price", "monetary"}
NOTE_TYPES = {
    "common", "call_in", "call_out", "service_message", "extended_service_message", "message_cashier",
    "invoice_paid", "geolocation", "sms_in", "sms_out", "attachment",
}
LINK_TARGETS = {
    "leads": {"contacts", "companies", "catalog_elements"},
    "contacts": {"companies", "leads", "catalog_elements", "customers"},
    "companies": {"contacts", "leads", "catalog_elements", "customers"},
}
WEBHOOK_EVENTS = {
    "add_lead", "update_lead", "delete_lead", "restore_lead", "status_lead", "responsible_lead",
    "note_lead", "add_contact", "update_contact", "delete_contact", "restore_contact",
    "responsible_contact", "note_contact", "add_company", "update_company", "delete_company",
    "restore_company", "responsible_company", "note_company", "add_customer", "update_customer",
    "delete_customer", "responsible_customer", "note_customer", "add_task", "update_task", "delete_task",
    "responsible_task", "add_talk", "add_message",
}
# fmt: on


# ------------------------------------------------------------ helpers
def now() -> int:
    return int(time.time())


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def links(req: Request, path: str) -> dict[str, Any]:
    return {"self": {"href": req.base + path}}


def entity_links(req: Request, entity: str, eid: int) -> dict[str, Any]:
    return links(req, f"/api/v4/{entity}/{eid}")


def fail_one(path: str, code: str, detail: str) -> ValidationFailed:
    return ValidationFailed([{"request_id": "0", "errors": [verror(path, code, detail)]}])


def page_params(req: Request) -> tuple[int, int]:
    """``page`` (≥ 1) and ``limit`` (1..250, default 50); a larger limit is a 400 validation error."""
    try:
        page = int(req.arg("page") or 1)
        limit = int(req.arg("limit") or DEFAULT_LIMIT)
    except ValueError as exc:
        raise fail_one("page", "InvalidType", MSG_INT) from exc
    if limit > MAX_BATCH:
        raise fail_one("limit", "InvalidValue", "This value should be 250 or less.")
    if limit < 1 or page < 1:
        raise fail_one("limit" if limit < 1 else "page", "InvalidValue", "This value should be 1 or more.")
    return page, limit


def paginate(req: Request, items: list[Any], key: str, render: Any = None, total: bool = False) -> Response:
    """A HAL page of ``items`` (204 when the page is empty), with ``self``/``next``/``prev`` links."""
    page, limit = page_params(req)
    chunk = items[(page - 1) * limit : page * limit]
    if not chunk:
        return no_content()
    rest = [(k, v) for k, v in req.pairs if k not in ("page", "limit")]

    def href(p: int) -> dict[str, str]:
        return {"href": f"{req.base}{req.path}?" + urlencode([*rest, ("page", p), ("limit", limit)])}

    body_links: dict[str, Any] = {"self": href(page)}
    if len(items) > page * limit:
        body_links["next"] = href(page + 1)
    if page > 1:
        body_links["prev"] = href(page - 1)
    body: dict[str, Any] = {"_page": page}
    if total:
        body["_total_items"] = len(items)
    body["_links"] = body_links
    body["_embedded"] = {key: [render(x) for x in chunk] if render else chunk}
    return json_response(200, body)


def batch_body(req: Request, min_items: int = 1, max_items: int = MAX_BATCH) -> list[Any]:
    """A JSON array body: 400 blank, 400 InvalidType for a non-array, 422 above the entity limit."""
    data = req.json()
    if not isinstance(data, list):
        raise fail_one("", "InvalidType", MSG_ARRAY)
    if len(data) > max_items:
        raise HttpError(problem(422, f"Limit {max_items} per page"))
    return data


def rid_of(item: Any, index: int) -> str:
    if isinstance(item, dict) and item.get("request_id") is not None:
        return str(item["request_id"])
    return str(index)


def check_groups(groups: list[dict[str, Any]]) -> None:
    bad = [g for g in groups if g["errors"]]
    if bad:
        raise ValidationFailed(bad)


def stamp(previous: int | None) -> int:
    """A new ``updated_at``: wall-clock seconds, never below the previous value."""
    return max(now(), previous or 0)


def matches_range(value: Any, spec: Any) -> bool:
    if not isinstance(spec, dict):
        return True
    if value is None:
        return False
    try:
        if "from" in spec and spec["from"] != "" and value < int(spec["from"]):
            return False
        if "to" in spec and spec["to"] != "" and value > int(spec["to"]):
            return False
    except ValueError:
        return False
    return True


def int_set(values: list[Any]) -> set[int]:
    out = set()
    for v in values:
        try:
            out.add(int(v))
        except (TypeError, ValueError):
            continue
    return out


# ------------------------------------------------------------ account
def account(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/account"""
    cfg = sb.config
    body: dict[str, Any] = {
        "id": cfg["account_id"],
        "name": cfg["account_name"],
        "subdomain": cfg["subdomain"],
        "created_at": sb.started_at,
        "created_by": 0,
        "updated_at": sb.started_at,
        "updated_by": 0,
        "current_user_id": sb.admin_user_id,
        "country": "RU",
        "currency": "RUB",
        "currency_symbol": "₽",
        "customers_mode": "disabled",
        "is_unsorted_on": True,
        "mobile_feature_version": 0,
        "is_loss_reason_enabled": True,
        "is_helpbot_enabled": False,
        "is_technical_account": True,
        "contact_name_display_order": 1,
    }
    with_ = set((req.arg("with") or "").split(","))
    if "amojo_id" in with_:
        body["amojo_id"] = sb.amojo_id
    if "uuid" in with_:
        body["uuid"] = sb.amojo_id
    if "version" in with_:
        body["version"] = 20260101
    body["_links"] = links(req, "/api/v4/account")
    return json_response(200, body)


def users(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/users"""
    items = [dict(u, _links=links(req, f"/api/v4/users/{u['id']}")) for u in sb.users]
    return paginate(req, items, "users", total=True)


# ------------------------------------------------------------ pipelines
def _render_status(req: Request, status: dict[str, Any]) -> dict[str, Any]:
    path = f"/api/v4/leads/pipelines/{status['pipeline_id']}/statuses/{status['id']}"
    return dict(status, _links=links(req, path))


def _render_pipeline(req: Request, pipe: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in pipe.items() if k != "statuses"}
    out["_links"] = links(req, f"/api/v4/leads/pipelines/{pipe['id']}")
    out["_embedded"] = {"statuses": [_render_status(req, s) for s in pipe["statuses"]]}
    return out


def _doc_or_404(sb: Sandbox, kind: str, key: str, detail: str) -> dict[str, Any]:
    """The stored ``kind`` document ``key``, or a 404 problem with ``detail`` (amoCRM's wording)."""
    doc = sb.store.get(kind, key)
    if doc is None:
        raise HttpError(problem(404, detail))
    return doc


def _pipeline_or_404(sb: Sandbox, pid: str) -> dict[str, Any]:
    return _doc_or_404(sb, "pipeline", pid, "Pipeline not found")


def pipelines(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/leads/pipelines"""
    items = [_render_pipeline(req, p) for p in sb.store.all("pipeline")]
    if not items:
        return no_content()
    body = {"_total_items": len(items), "_links": links(req, req.path), "_embedded": {"pipelines": items}}
    return json_response(200, body)


def pipeline(sb: Sandbox, req: Request, pid: str) -> Response:
    """GET /api/v4/leads/pipelines/{id}"""
    return json_response(200, _render_pipeline(req, _pipeline_or_404(sb, pid)))


def statuses(sb: Sandbox, req: Request, pid: str) -> Response:
    """GET /api/v4/leads/pipelines/{id}/statuses"""
    pipe = _pipeline_or_404(sb, pid)
    items = [_render_status(req, s) for s in pipe["statuses"]]
    body = {"_total_items": len(items), "_links": links(req, req.path), "_embedded": {"statuses": items}}
    return json_response(200, body)


def status(sb: Sandbox, req: Request, pid: str, sid: str) -> Response:
    """GET /api/v4/leads/pipelines/{id}/statuses/{status_id}"""
    pipe = _pipeline_or_404(sb, pid)
    for s in pipe["statuses"]:
        if str(s["id"]) == sid:
            return json_response(200, _render_status(req, s))
    return no_content()


# ------------------------------------------------------------ custom fields
def cf_kind(entity: str) -> str:
    return f"cf:{entity}"


def _render_cf(req: Request, base: str, field: dict[str, Any]) -> dict[str, Any]:
    return dict(field, _links=links(req, f"{base}/{field['id']}"))


def custom_fields_list(sb: Sandbox, req: Request, entity: str) -> Response:
    """GET /api/v4/{entity}/custom_fields (also /catalogs/{id}/custom_fields)"""
    base = req.path.rstrip("/")
    fields = sb.store.all(cf_kind(entity))
    return paginate(req, fields, "custom_fields", lambda f: _render_cf(req, base, f), total=True)


def custom_field_one(sb: Sandbox, req: Request, entity: str, fid: str) -> Response:
    """GET /api/v4/{entity}/custom_fields/{id}"""
    field = sb.store.get(cf_kind(entity), fid)
    if field is None:
        return no_content()
    return json_response(200, _render_cf(req, f"/api/v4/{entity}/custom_fields", field))


def new_custom_field(sb: Sandbox, entity: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Store a field definition (used by the seed and by POST)."""
    fid = sb.store.next_id("cf", 600001)
    enums = None
    if spec.get("enums"):
        enums = []
        for i, e in enumerate(spec["enums"]):
            enums.append(
                {"id": sb.store.next_id("enum", 700001), "value": e["value"], "sort": e.get("sort", i + 1)}
            )
    field = {
        "id": fid,
        "name": spec["name"],
        "type": spec["type"],
        "account_id": sb.config["account_id"],
        "code": spec.get("code"),
        "sort": spec.get("sort", 500),
        "is_api_only": bool(spec.get("is_api_only", False)),
        "enums": enums,
        "group_id": None,
        "required_statuses": [],
        "is_deletable": not spec.get("code"),
        "is_predefined": bool(spec.get("code") in ("PHONE", "EMAIL", "POSITION", "WEB", "ADDRESS")),
        "entity_type": entity if not entity.startswith("catalog:") else "catalogs",
        "remind": None,
        "tracking_callback": None,
        "search_in": None,
        "is_visible": True,
        "is_required": False,
    }
    if entity.startswith("catalog:"):
        field["catalog_id"] = int(entity.split(":")[1])
    sb.store.put(cf_kind(entity), fid, field)
    return field


def custom_fields_create(sb: Sandbox, req: Request, entity: str) -> Response:
    """POST /api/v4/{entity}/custom_fields (array)"""
    items = batch_body(req)
    groups = []
    for i, item in enumerate(items):
        errors: list[dict[str, str]] = []
        if not isinstance(item, dict):
            errors.append(verror("", "InvalidType", "This value should be of type object."))
        else:
            if not isinstance(item.get("name"), str) or not item["name"].strip():
                errors.append(verror("name", "NotBlank", MSG_BLANK))
            if item.get("type") not in CF_TYPES:
                errors.append(verror("type"))
            if item.get("type") in ENUM_TYPES and not isinstance(item.get("enums"), list):
                errors.append(verror("enums", "InvalidType", MSG_ARRAY))
        groups.append({"request_id": rid_of(item, i), "errors": errors})
    check_groups(groups)
    base = f"/api/v4/{entity}/custom_fields"
    with sb.store.atomic():
        out = []
        for i, item in enumerate(items):
            field = new_custom_field(sb, entity, item)
            out.append(dict(_render_cf(req, base, field), request_id=rid_of(item, i)))
    body = {"_total_items": len(out), "_links": links(req, base), "_embedded": {"custom_fields": out}}
    return json_response(200, body)


def apply_cfv(
    sb: Sandbox,
    entity: str,
    current: list[dict[str, Any]] | None,
    incoming: Any,
    errors: list[dict[str, str]],
) -> list[dict[str, Any]] | None:
    """Merge written ``custom_fields_values`` into the stored ones (a sent field replaces its values)."""
    if incoming is None:
        return current
    if not isinstance(incoming, list):
        errors.append(verror("custom_fields_values", "InvalidType", MSG_ARRAY))
        return current
    defs = sb.store.all(cf_kind(entity))
    by_id = {f["id"]: f for f in defs}
    by_code = {f["code"]: f for f in defs if f.get("code")}
    result = {v["field_id"]: v for v in current or []}
    for i, cf in enumerate(incoming):
        path = f"custom_fields_values.{i}"
        if not isinstance(cf, dict):
            errors.append(verror(path, "InvalidType", "This value should be of type object."))
            continue
        if "field_id" in cf and cf["field_id"] is not None:
            if not is_int(cf["field_id"]):
                errors.append(verror(f"{path}.field_id", "InvalidType", MSG_INT))
                continue
            fdef = by_id.get(cf["field_id"])
            if fdef is None:
                errors.append(verror(f"{path}.field_id"))
                continue
        else:
            fdef = by_code.get(cf.get("field_code"))
            if fdef is None:
                errors.append(verror(f"{path}.field_code"))
                continue
        values = cf.get("values")
        if values is None or values == []:
            result.pop(fdef["id"], None)
            continue
        if not isinstance(values, list):
            errors.append(verror(f"{path}.values", "InvalidType", MSG_ARRAY))
            continue
        stored = [_cf_value(fdef, v, f"{path}.values.{j}", errors) for j, v in enumerate(values)]
        result[fdef["id"]] = {
            "field_id": fdef["id"],
            "field_name": fdef["name"],
            "field_code": fdef["code"],
            "field_type": fdef["type"],
            "values": [v for v in stored if v is not None],
        }
    return list(result.values()) or None


def _cf_value(fdef: dict[str, Any], v: Any, path: str, errors: list[dict[str, str]]) -> dict[str, Any] | None:
    if not isinstance(v, dict):
        errors.append(verror(path, "InvalidType", "This value should be of type object."))
        return None
    ftype = fdef["type"]
    enums = fdef.get("enums") or []
    if ftype in ENUM_TYPES:
        match = [
            e for e in enums if ("enum_id" in v and e["id"] == v["enum_id"]) or e["value"] == v.get("value")
        ]
        if not match:
            errors.append(verror(f"{path}.enum_id" if "enum_id" in v else f"{path}.value"))
            return None
        return {"value": match[0]["value"], "enum_id": match[0]["id"], "enum_code": None}
    value = v.get("value")
    if ftype == "multitext":
        if not isinstance(value, str):
            errors.append(verror(f"{path}.value", "InvalidType", MSG_STR))
            return None
        if "enum_id" in v:
            match = [e for e in enums if e["id"] == v["enum_id"]]
        else:
            code = v.get("enum_code", v.get("enum", "WORK"))
            match = [e for e in enums if e["value"] == code]
        if not match:
            errors.append(verror(f"{path}.enum_id" if "enum_id" in v else f"{path}.enum_code"))
            return None
        return {"value": value, "enum_id": match[0]["id"], "enum_code": match[0]["value"]}
    if ftype in NUMERIC_TYPES:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            errors.append(verror(f"{path}.value", "InvalidType", "This value should be of type numeric."))
            return None
        try:
            float(value)
        except ValueError:
            errors.append(verror(f"{path}.value", "InvalidType", "This value should be of type numeric."))
            return None
        return {"value": value}
    if ftype == "checkbox":
        if not isinstance(value, bool):
            errors.append(verror(f"{path}.value", "InvalidType", "This value should be of type bool."))
            return None
        return {"value": value}
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors.append(verror(f"{path}.value", "InvalidType", MSG_STR))
        return None
    return {"value": value}


# ------------------------------------------------------------ tags
def tag_kind(entity: str) -> str:
    return f"tag:{entity}"


def find_or_create_tag(sb: Sandbox, entity: str, name: str, color: str | None = None) -> dict[str, Any]:
    for tag in sb.store.all(tag_kind(entity)):
        if tag["name"].lower() == name.lower():
            return tag
    tag = {"id": sb.store.next_id("tag", 500001), "name": name, "color": color}
    sb.store.put(tag_kind(entity), tag["id"], tag)
    return tag


def resolve_tags(sb: Sandbox, entity: str, refs: Any, path: str, errors: list[dict[str, str]]) -> list[int]:
    """Tag ids for ``[{"id":..}|{"name":..}]``; unknown names create tags, unknown ids are errors."""
    if not isinstance(refs, list):
        errors.append(verror(path, "InvalidType", MSG_ARRAY))
        return []
    ids = []
    for i, ref in enumerate(refs):
        if isinstance(ref, dict) and is_int(ref.get("id")):
            if sb.store.get(tag_kind(entity), ref["id"]) is None:
                errors.append(verror(f"{path}.{i}.id"))
                continue
            ids.append(ref["id"])
        elif isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"].strip():
            ids.append(find_or_create_tag(sb, entity, ref["name"].strip())["id"])
        else:
            errors.append(verror(f"{path}.{i}", "InvalidType", "This value should be of type object."))
    return ids


def tags_list(sb: Sandbox, req: Request, entity: str) -> Response:
    """GET /api/v4/{entity}/tags"""
    items = sb.store.all(tag_kind(entity))
    query = (req.arg("query") or "").lower()
    flt = req.nested().get("filter", {})
    if query:
        items = [t for t in items if query in t["name"].lower()]
    if isinstance(flt, dict) and "id" in flt:
        ids = int_set(as_list(flt["id"]))
        items = [t for t in items if t["id"] in ids]
    if isinstance(flt, dict) and "name" in flt:
        names = {str(n).lower() for n in as_list(flt["name"])}
        items = [t for t in items if t["name"].lower() in names]
    return paginate(req, items, "tags")


def tags_create(sb: Sandbox, req: Request, entity: str) -> Response:
    """POST /api/v4/{entity}/tags (array of {name, color?})"""
    items = batch_body(req)
    groups = []
    for i, item in enumerate(items):
        ok = isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip()
        groups.append(
            {"request_id": rid_of(item, i), "errors": [] if ok else [verror("name", "NotBlank", MSG_BLANK)]}
        )
    check_groups(groups)
    with sb.store.atomic():
        out = [
            dict(
                find_or_create_tag(sb, entity, it["name"].strip(), it.get("color")), request_id=rid_of(it, i)
            )
            for i, it in enumerate(items)
        ]
    return json_response(200, {"_links": links(req, req.path), "_embedded": {"tags": out}})


# ------------------------------------------------------------ links
def link_key(etype: str, eid: int, ttype: str, tid: int) -> str:
    return f"{etype}:{eid}:{ttype}:{tid}"


def links_of(sb: Sandbox, etype: str, eid: int) -> list[dict[str, Any]]:
    return sb.store.all("link", prefix=f"{etype}:{eid}:")


def put_link(
    sb: Sandbox, etype: str, eid: int, ttype: str, tid: int, metadata: dict[str, Any] | None
) -> None:
    """Store a link in both directions; ``main_contact`` lives on the lead/company side, unique per entity."""
    if etype == "contacts" and ttype in ("leads", "companies"):
        put_link(sb, ttype, tid, "contacts", eid, metadata)
        return
    meta: dict[str, Any] | None = None
    if ttype == "contacts" and etype in ("leads", "companies"):
        existing = [x for x in links_of(sb, etype, eid) if x["to_entity_type"] == "contacts"]
        others = [x for x in existing if x["to_entity_id"] != tid]
        has_main = any((x["metadata"] or {}).get("main_contact") for x in others)
        want_main = bool((metadata or {}).get("is_main")) or not has_main
        if want_main:
            for other in others:
                if (other["metadata"] or {}).get("main_contact"):
                    other["metadata"] = {"main_contact": False}
                    sb.store.put("link", link_key(etype, eid, "contacts", other["to_entity_id"]), other)
        meta = {"main_contact": want_main}
    elif ttype == "catalog_elements":
        meta = {k: v for k, v in (metadata or {}).items() if k in ("quantity", "catalog_id", "price_id")}
        meta.setdefault("quantity", 1)
    doc = {
        "entity_id": eid,
        "entity_type": etype,
        "to_entity_id": tid,
        "to_entity_type": ttype,
        "metadata": meta,
    }
    sb.store.put("link", link_key(etype, eid, ttype, tid), doc)
    if ttype in ENTITIES:
        back = {
            "entity_id": tid,
            "entity_type": ttype,
            "to_entity_id": eid,
            "to_entity_type": etype,
            "metadata": None,
        }
        sb.store.put("link", link_key(ttype, tid, etype, eid), back)


def drop_link(sb: Sandbox, etype: str, eid: int, ttype: str, tid: int) -> None:
    sb.store.delete("link", link_key(etype, eid, ttype, tid))
    sb.store.delete("link", link_key(ttype, tid, etype, eid))


def _target_exists(sb: Sandbox, ttype: str, tid: int, meta: dict[str, Any]) -> bool:
    if ttype in ENTITIES:
        doc = sb.store.get(ttype, tid)
        return bool(doc) and not doc["is_deleted"]
    if ttype == "catalog_elements":
        el = sb.store.get("element", tid)
        return bool(el) and el["catalog_id"] == meta.get("catalog_id")
    return False


def _validate_link(sb: Sandbox, etype: str, item: Any, errors: list[dict[str, str]], mass: bool) -> None:
    if not isinstance(item, dict):
        errors.append(verror("", "InvalidType", "This value should be of type object."))
        return
    if mass:
        if not is_int(item.get("entity_id")):
            errors.append(verror("entity_id", "InvalidType", MSG_INT))
            return
        doc = sb.store.get(etype, item["entity_id"])
        if doc is None or doc["is_deleted"]:
            errors.append(verror("entity_id"))
    ttype = item.get("to_entity_type")
    if ttype not in LINK_TARGETS[etype] or ttype == "customers":
        errors.append(verror("to_entity_type"))
        return
    if not is_int(item.get("to_entity_id")):
        errors.append(verror("to_entity_id", "InvalidType", MSG_INT))
        return
    meta = item.get("metadata") or {}
    if not isinstance(meta, dict):
        errors.append(verror("metadata", "InvalidType", "This value should be of type object."))
        return
    if ttype == "catalog_elements":
        if not is_int(meta.get("catalog_id")):
            errors.append(verror("metadata.catalog_id", "InvalidType", MSG_INT))
            return
        qty = meta.get("quantity", 1)
        if isinstance(qty, bool) or not isinstance(qty, (int, float)) or qty < 0:
            errors.append(verror("metadata.quantity", "InvalidType", "This value should be of type numeric."))
        if "price_id" in meta and meta["price_id"] is not None:
            prices = [
                f["id"]
                for f in sb.store.all(cf_kind(f"catalog:{meta['catalog_id']}"))
                if f["type"] == "price"
            ]
            if meta["price_id"] not in prices:
                errors.append(verror("metadata.price_id"))
    if not _target_exists(sb, ttype, item["to_entity_id"], meta):
        errors.append(verror("to_entity_id"))


def _render_link(req: Request, link: dict[str, Any], with_entity: bool) -> dict[str, Any]:
    out = {}
    if with_entity:
        out = {"entity_id": link["entity_id"], "entity_type": link["entity_type"]}
    out.update(
        to_entity_id=link["to_entity_id"], to_entity_type=link["to_entity_type"], metadata=link["metadata"]
    )
    return out


def _links_body(req: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"_total_items": len(items), "_links": links(req, req.path), "_embedded": {"links": items}}


def _filter_links(req: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flt = req.nested().get("filter", {})
    if not isinstance(flt, dict):
        return items
    if "to_entity_id" in flt:
        ids = int_set(as_list(flt["to_entity_id"]))
        items = [x for x in items if x["to_entity_id"] in ids]
    if "to_entity_type" in flt:
        types = set(as_list(flt["to_entity_type"]))
        items = [x for x in items if x["to_entity_type"] in types]
    if "to_catalog_id" in flt:
        cats = int_set(as_list(flt["to_catalog_id"]))
        items = [x for x in items if (x["metadata"] or {}).get("catalog_id") in cats]
    return items


def entity_links_list(sb: Sandbox, req: Request, entity: str, eid: str) -> Response:
    """GET /api/v4/{entity}/{id}/links"""
    items = _filter_links(req, links_of(sb, entity, int(eid)))
    if not items:
        return no_content()
    return json_response(200, _links_body(req, [_render_link(req, x, False) for x in items]))


def mass_links_list(sb: Sandbox, req: Request, entity: str) -> Response:
    """GET /api/v4/{entity}/links?filter[entity_id][]=..."""
    flt = req.nested().get("filter", {})
    ids = int_set(as_list(flt.get("entity_id"))) if isinstance(flt, dict) else set()
    if not ids:
        raise fail_one("filter.entity_id", "NotBlank", MSG_BLANK)
    items = []
    for eid in sorted(ids):
        items.extend(links_of(sb, entity, eid))
    items = _filter_links(req, items)
    if not items:
        return no_content()
    return json_response(200, _links_body(req, [_render_link(req, x, True) for x in items]))


def link_entities(
    sb: Sandbox, req: Request, entity: str, eid: str | None = None, unlink: bool = False
) -> Response:
    """POST /api/v4/{entity}/{id}/link|unlink and the mass POST /api/v4/{entity}/link|unlink."""
    items = batch_body(req)
    mass = eid is None
    if not mass:
        doc = sb.store.get(entity, int(eid or 0))
        if doc is None or doc["is_deleted"]:
            raise fail_one("entity_id", "NotSupportedChoice", "The value you selected is not a valid choice.")
    groups = []
    for i, item in enumerate(items):
        errors: list[dict[str, str]] = []
        if unlink:
            if not isinstance(item, dict) or not is_int(item.get("to_entity_id")):
                errors.append(verror("to_entity_id", "InvalidType", MSG_INT))
            elif mass and not is_int(item.get("entity_id")):
                errors.append(verror("entity_id", "InvalidType", MSG_INT))
        else:
            _validate_link(sb, entity, item, errors, mass)
        groups.append({"request_id": rid_of(item, i), "errors": errors})
    check_groups(groups)
    out = []
    with sb.store.atomic():
        for item in items:
            source = item["entity_id"] if mass else int(eid or 0)
            ttype, tid = item["to_entity_type"], item["to_entity_id"]
            if unlink:
                drop_link(sb, entity, source, ttype, tid)
                continue
            put_link(sb, entity, source, ttype, tid, item.get("metadata"))
            out.append(sb.store.get("link", link_key(entity, source, ttype, tid)))
    if unlink:
        return no_content()
    return json_response(200, _links_body(req, [_render_link(req, x, True) for x in out if x]))


# ------------------------------------------------------------ entities
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


def _searchable(doc: dict[str, Any]) -> str:
    parts = [str(doc.get("name") or ""), str(doc.get("first_name") or ""), str(doc.get("last_name") or "")]
    for cf in doc.get("custom_fields_values") or []:
        parts.extend(str(v.get("value", "")) for v in cf["values"])
    return "\n".join(parts).lower()


def entity_list(sb: Sandbox, req: Request, entity: str) -> Response:
    """GET /api/v4/{leads|contacts|companies} with page, limit, query, filter, order and with."""
    with_ = _with(req)
    docs = sb.store.all(entity)
    only_deleted = "only_deleted" in with_
    docs = [d for d in docs if d["is_deleted"] == only_deleted]
    query = (req.arg("query") or "").strip().lower()
    if query:
        docs = [d for d in docs if query in _searchable(d) or query == str(d["id"])]
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
    t = now()
    doc = {k: None for k in FIELDS[entity]}
    doc.update(
        name="",
        responsible_user_id=actor,
        group_id=0,
        created_by=actor,
        updated_by=actor,
        created_at=t,
        updated_at=t,
        is_deleted=False,
        account_id=sb.config["account_id"],
        _tags=[],
    )
    if entity == "leads":
        doc.update(price=0)
    if entity == "contacts":
        doc.update(first_name="", last_name="", is_unsorted=False)
    return doc


def _check_int(item: dict[str, Any], key: str, errors: list[dict[str, str]], nullable: bool = False) -> bool:
    if key not in item:
        return False
    if item[key] is None and nullable:
        return True
    if not is_int(item[key]):
        errors.append(verror(key, "InvalidType", MSG_INT))
        return False
    return True


def _check_str(item: dict[str, Any], key: str, errors: list[dict[str, str]]) -> bool:
    if key not in item:
        return False
    if not isinstance(item[key], str):
        errors.append(verror(key, "InvalidType", MSG_STR))
        return False
    return True


def _first_open_status(pipe: dict[str, Any]) -> int:
    return next(s["id"] for s in pipe["statuses"] if s["type"] == 0 and s["id"] not in (WON, LOST))


def _place_lead(
    sb: Sandbox, doc: dict[str, Any], item: dict[str, Any], creating: bool, errors: list[Any]
) -> None:
    """Resolve pipeline_id/status_id of a written lead, with amoCRM's defaults and checks."""
    has_p = _check_int(item, "pipeline_id", errors)
    has_s = _check_int(item, "status_id", errors)
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
        if _check_str(item, key, errors):
            doc[key] = item[key]
    if entity == "contacts" and creating and not doc["name"]:
        doc["name"] = f"{doc['first_name']} {doc['last_name']}".strip()
    if entity == "leads":
        if _check_int(item, "price", errors, nullable=True):
            doc["price"] = item["price"] or 0
        _check_int(item, "loss_reason_id", errors, nullable=True) and doc.update(
            loss_reason_id=item["loss_reason_id"]
        )
        old_status = doc.get("status_id")
        _place_lead(sb, doc, item, creating, errors)
        if doc.get("status_id") != old_status:
            doc["closed_at"] = now() if doc["status_id"] in (WON, LOST) else None
    if _check_int(item, "responsible_user_id", errors):
        if item["responsible_user_id"] not in sb.user_ids:
            errors.append(verror("responsible_user_id"))
        else:
            doc["responsible_user_id"] = item["responsible_user_id"]
    for key in ("created_by", "updated_by"):
        if _check_int(item, key, errors):
            doc[key] = item[key]
    for key in (
        ("created_at", "closed_at", "closest_task_at") if creating else ("closed_at", "closest_task_at")
    ):
        if _check_int(item, key, errors, nullable=True):
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
    with sb.store.atomic():
        groups, docs = [], []
        for i, item in enumerate(items):
            errors: list[dict[str, str]] = []
            docs.append(write_entity(sb, entity, item, None, actor, errors))
            groups.append({"request_id": rid_of(item, i), "errors": errors})
        check_groups(groups)
        saved = [save_entity(sb, entity, d) for d in docs]
    sb.emit_changes(entity, [(None, d) for d in saved])
    out = [
        {"id": d["id"], "request_id": rid_of(item, i), "_links": entity_links(req, entity, d["id"])}
        for i, (d, item) in enumerate(zip(saved, items, strict=True))
    ]
    return json_response(200, {"_links": links(req, f"/api/v4/{entity}"), "_embedded": {entity: out}})


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
    sb.emit_changes(entity, pairs)
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


def leads_complex(sb: Sandbox, req: Request) -> Response:
    """POST /api/v4/leads/complex: ≤ 50 leads, each with ≤ 1 contact and ≤ 1 company; bare-array answer."""
    items = batch_body(req, max_items=MAX_COMPLEX)
    actor = sb.actor(req)
    created: list[tuple[str, dict[str, Any]]] = []
    out = []
    with sb.store.atomic():
        groups, plans = [], []
        for i, item in enumerate(items):
            errors: list[dict[str, str]] = []
            plan = _complex_plan(sb, item, actor, errors)
            plans.append(plan)
            groups.append({"request_id": rid_of(item, i), "errors": errors})
        check_groups(groups)
        for i, (lead, contact, company) in enumerate(plans):
            for kind, doc in (("contacts", contact), ("companies", company)):
                if doc is not None and doc.get("id") is None:
                    created.append((kind, save_entity(sb, kind, doc)))
            lead = save_entity(sb, "leads", lead)
            created.append(("leads", lead))
            if contact is not None:
                put_link(sb, "leads", lead["id"], "contacts", contact["id"], {"is_main": True})
            if company is not None:
                put_link(sb, "leads", lead["id"], "companies", company["id"], None)
            if contact is not None and company is not None:
                put_link(sb, "companies", company["id"], "contacts", contact["id"], None)
            out.append(
                {
                    "id": lead["id"],
                    "contact_id": contact["id"] if contact else None,
                    "company_id": company["id"] if company else None,
                    "request_id": [rid_of(items[i], i)],
                    "merged": False,
                }
            )
    for kind in ("companies", "contacts", "leads"):
        sb.emit_changes(kind, [(None, d) for k, d in created if k == kind])
    return json_response(200, out)


def _complex_plan(
    sb: Sandbox, item: Any, actor: int, errors: list[dict[str, str]]
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    if not isinstance(item, dict):
        errors.append(verror("", "InvalidType", "This value should be of type object."))
        return {}, None, None
    emb = item.get("_embedded") if isinstance(item.get("_embedded"), dict) else {}
    lead_item = dict(item, _embedded={k: v for k, v in emb.items() if k == "tags"})
    if len(item.get("custom_fields_values") or []) > MAX_CF_VALUES_COMPLEX:
        errors.append(
            verror(
                "custom_fields_values", "InvalidCount", "This collection should contain 40 elements or less."
            )
        )
    lead = write_entity(sb, "leads", lead_item, None, actor, errors)
    parts: list[dict[str, Any] | None] = []
    for kind in ("contacts", "companies"):
        refs = as_list(emb.get(kind))
        if len(refs) > 1:
            errors.append(
                verror(
                    f"_embedded.{kind}", "InvalidCount", "This collection should contain 1 element or less."
                )
            )
            parts.append(None)
            continue
        if not refs:
            parts.append(None)
            continue
        ref = refs[0]
        if isinstance(ref, dict) and ref.get("id") is not None:
            other = sb.store.get(kind, ref["id"]) if is_int(ref["id"]) else None
            if other is None or other["is_deleted"]:
                errors.append(verror(f"_embedded.{kind}.0.id"))
            parts.append(other)
            continue
        sub_errors: list[dict[str, str]] = []
        doc = write_entity(sb, kind, ref, None, actor, sub_errors)
        errors.extend(dict(e, path=f"_embedded.{kind}.0.{e['path']}".rstrip(".")) for e in sub_errors)
        parts.append(doc)
    return lead, parts[0], parts[1]


# ------------------------------------------------------------ notes
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
                t = now()
                docs.append(
                    {
                        "id": None,
                        "entity_id": target,
                        "created_by": actor,
                        "updated_by": actor,
                        "created_at": t,
                        "updated_at": t,
                        "responsible_user_id": item.get("responsible_user_id") or actor,
                        "group_id": 0,
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
    sb.emit_notes(entity, docs)
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


# ------------------------------------------------------------ catalogs
def _render_catalog(req: Request, cat: dict[str, Any]) -> dict[str, Any]:
    return dict(cat, _links=links(req, f"/api/v4/catalogs/{cat['id']}"))


def new_catalog(sb: Sandbox, name: str, ctype: str = "regular", actor: int = 0) -> dict[str, Any]:
    t = now()
    cat = {
        "id": sb.store.next_id("catalog", 8000001),
        "name": name,
        "created_by": actor,
        "updated_by": actor,
        "created_at": t,
        "updated_at": t,
        "sort": 10,
        "type": ctype,
        "can_add_elements": True,
        "can_show_in_cards": False,
        "can_link_multiple": True,
        "can_be_deleted": ctype == "regular",
        "sdk_widget_code": None,
        "account_id": sb.config["account_id"],
    }
    sb.store.put("catalog", cat["id"], cat)
    return cat


def _catalog_or_404(sb: Sandbox, cid: str) -> dict[str, Any]:
    return _doc_or_404(sb, "catalog", cid, "Catalog not found")


def catalogs_list(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/catalogs"""
    return paginate(req, sb.store.all("catalog"), "catalogs", lambda c: _render_catalog(req, c))


def catalog_get(sb: Sandbox, req: Request, cid: str) -> Response:
    """GET /api/v4/catalogs/{id}"""
    cat = sb.store.get("catalog", cid)
    return json_response(200, _render_catalog(req, cat)) if cat else no_content()


def catalogs_create(sb: Sandbox, req: Request) -> Response:
    """POST /api/v4/catalogs (array of {name, type?})"""
    items = batch_body(req)
    existing = sb.store.all("catalog")
    groups = []
    for i, item in enumerate(items):
        errors = []
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            errors.append(verror("name", "NotBlank", MSG_BLANK))
        elif item.get("type", "regular") not in ("regular", "invoices", "products"):
            errors.append(verror("type"))
        elif item.get("type") in ("invoices", "products") and any(
            c["type"] == item["type"] for c in existing
        ):
            errors.append(verror("type", "NotUnique", "Only one catalog of this type is allowed."))
        groups.append({"request_id": rid_of(item, i), "errors": errors})
    if len(existing) + len(items) > 10:
        groups[0]["errors"].append(verror("", "LimitExceeded", "At most 10 catalogs per account."))
    check_groups(groups)
    with sb.store.atomic():
        out = [
            dict(
                _render_catalog(req, new_catalog(sb, it["name"], it.get("type", "regular"), sb.actor(req))),
                request_id=rid_of(it, i),
            )
            for i, it in enumerate(items)
        ]
    return json_response(200, {"_links": links(req, "/api/v4/catalogs"), "_embedded": {"catalogs": out}})


def catalogs_update(sb: Sandbox, req: Request) -> Response:
    """PATCH /api/v4/catalogs (array of {id, name?, sort?, can_add_elements?, can_link_multiple?})"""
    items = batch_body(req)
    groups, docs = [], []
    for i, item in enumerate(items):
        errors: list[dict[str, str]] = []
        cat = (
            sb.store.get("catalog", item.get("id"))
            if isinstance(item, dict) and is_int(item.get("id"))
            else None
        )
        if cat is None:
            errors.append(verror("id"))
        else:
            if "name" in item and (not isinstance(item["name"], str) or not item["name"].strip()):
                errors.append(verror("name", "NotBlank", MSG_BLANK))
            for key in ("sort", "can_add_elements", "can_link_multiple", "can_show_in_cards"):
                if key in item:
                    cat[key] = item[key]
            if not errors:
                cat.update(name=item.get("name", cat["name"]), updated_at=stamp(cat["updated_at"]))
                docs.append(cat)
        groups.append({"request_id": rid_of(item, i), "errors": errors})
    check_groups(groups)
    with sb.store.atomic():
        for cat in docs:
            sb.store.put("catalog", cat["id"], cat)
    out = [
        dict(_render_catalog(req, c), request_id=rid_of(it, i))
        for i, (c, it) in enumerate(zip(docs, items, strict=True))
    ]
    return json_response(200, {"_links": links(req, "/api/v4/catalogs"), "_embedded": {"catalogs": out}})


def _render_element(req: Request, el: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in el.items() if not k.startswith("_")}
    out["_links"] = links(req, f"/api/v4/catalogs/{el['catalog_id']}/elements/{el['id']}")
    return out


def elements_list(sb: Sandbox, req: Request, cid: str) -> Response:
    """GET /api/v4/catalogs/{id}/elements with page, limit, query, filter[id][]"""
    _catalog_or_404(sb, cid)
    items = [e for e in sb.store.all("element") if e["catalog_id"] == int(cid) and not e["is_deleted"]]
    query = (req.arg("query") or "").strip().lower()
    if query:
        items = [e for e in items if query in _searchable(e)]
    flt = req.nested().get("filter", {})
    if isinstance(flt, dict) and "id" in flt:
        ids = int_set(as_list(flt["id"]))
        items = [e for e in items if e["id"] in ids]
    return paginate(req, items, "elements", lambda e: _render_element(req, e))


def element_get(sb: Sandbox, req: Request, cid: str, elid: str) -> Response:
    """GET /api/v4/catalogs/{id}/elements/{element_id}"""
    _catalog_or_404(sb, cid)
    el = sb.store.get("element", elid)
    if el is None or el["catalog_id"] != int(cid):
        return no_content()
    return json_response(200, _render_element(req, el))


def write_element(
    sb: Sandbox,
    cid: int,
    item: Any,
    existing: dict[str, Any] | None,
    actor: int,
    errors: list[dict[str, str]],
) -> dict[str, Any]:
    """Validate one catalog element write."""
    if not isinstance(item, dict):
        errors.append(verror("", "InvalidType", "This value should be of type object."))
        return {}
    t = now()
    doc = (
        dict(existing)
        if existing
        else {
            "id": None,
            "catalog_id": cid,
            "name": "",
            "created_by": actor,
            "updated_by": actor,
            "created_at": t,
            "updated_at": t,
            "is_deleted": False,
            "custom_fields_values": None,
            "account_id": sb.config["account_id"],
        }
    )
    if _check_str(item, "name", errors):
        doc["name"] = item["name"]
    elif existing is None and "name" not in item:
        errors.append(verror("name", "NotBlank", MSG_BLANK))
    if "custom_fields_values" in item:
        doc["custom_fields_values"] = apply_cfv(
            sb, f"catalog:{cid}", doc.get("custom_fields_values"), item["custom_fields_values"], errors
        )
    if existing:
        doc["updated_at"], doc["updated_by"] = stamp(existing["updated_at"]), actor
    return doc


def elements_write(sb: Sandbox, req: Request, cid: str) -> Response:
    """POST (create) and PATCH (update by ``id``) /api/v4/catalogs/{id}/elements"""
    _catalog_or_404(sb, cid)
    items = batch_body(req)
    actor = sb.actor(req)
    with sb.store.atomic():
        groups, docs = [], []
        for i, item in enumerate(items):
            errors: list[dict[str, str]] = []
            existing = None
            if req.method == "PATCH":
                eid = item.get("id") if isinstance(item, dict) else None
                existing = sb.store.get("element", eid) if is_int(eid) else None
                if existing is None or existing["catalog_id"] != int(cid):
                    errors.append(verror("id"))
                    existing = None
            if not errors:
                docs.append(write_element(sb, int(cid), item, existing, actor, errors))
            groups.append({"request_id": rid_of(item, i), "errors": errors})
        check_groups(groups)
        for doc in docs:
            if doc["id"] is None:
                doc["id"] = sb.store.next_id("element", 8100001)
            sb.store.put("element", doc["id"], doc)
    out = [
        dict(_render_element(req, d), request_id=rid_of(it, i))
        for i, (d, it) in enumerate(zip(docs, items, strict=True))
    ]
    return json_response(200, {"_links": links(req, req.path), "_embedded": {"elements": out}})


# ------------------------------------------------------------ webhooks
def _render_webhook(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hook.items() if not k.startswith("_")}


def webhooks_list(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/webhooks[?filter[destination]=url]"""
    hooks = sb.store.all("webhook")
    flt = req.nested().get("filter", {})
    if isinstance(flt, dict) and flt.get("destination"):
        hooks = [h for h in hooks if h["destination"] == flt["destination"]]
    if not hooks:
        return no_content()
    body = {
        "_total_items": len(hooks),
        "_links": links(req, "/api/v4/webhooks"),
        "_embedded": {"webhooks": [_render_webhook(h) for h in hooks]},
    }
    return json_response(200, body)


_URL = re.compile(r"^https?://[^\s/]+", re.I)


def webhooks_subscribe(sb: Sandbox, req: Request) -> Response:
    """POST /api/v4/webhooks {destination, settings, sort}; re-posting a destination updates it."""
    data = req.json()
    if not isinstance(data, dict):
        raise fail_one("", "InvalidType", "This value should be of type object.")
    errors = []
    dest = data.get("destination")
    if not isinstance(dest, str) or not _URL.match(dest):
        errors.append(verror("destination"))
    settings = data.get("settings")
    if not isinstance(settings, list) or not settings:
        errors.append(verror("settings", "InvalidType", MSG_ARRAY))
    else:
        errors.extend(verror(f"settings.{i}") for i, s in enumerate(settings) if s not in WEBHOOK_EVENTS)
    if "sort" in data and not is_int(data["sort"]):
        errors.append(verror("sort", "InvalidType", MSG_INT))
    if errors:
        raise ValidationFailed([{"request_id": "0", "errors": errors}])
    with sb.store.atomic():
        hook = sb.store.get("webhook", dest)
        t = now()
        if hook is None:
            if sb.store.count("webhook") >= 100:
                raise fail_one("destination", "LimitExceeded", "At most 100 webhooks per account.")
            hook = {
                "id": sb.store.next_id("webhook", 900001),
                "destination": dest,
                "created_at": t,
                "updated_at": t,
                "account_id": sb.config["account_id"],
                "created_by": sb.admin_user_id,
                "sort": 1,
                "disabled": False,
                "settings": [],
            }
        hook.update(
            settings=list(dict.fromkeys(settings)),
            disabled=False,
            updated_at=t,
            sort=data.get("sort", hook["sort"]),
        )
        sb.store.put("webhook", dest, hook)
    sb.hooks.enable(dest)
    return json_response(200, _render_webhook(hook))


def webhooks_delete(sb: Sandbox, req: Request) -> Response:
    """DELETE /api/v4/webhooks {destination} -> 204 (unknown destinations too)."""
    data = req.json()
    if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
        raise fail_one("destination", "NotBlank", MSG_BLANK)
    sb.store.delete("webhook", data["destination"])
    return no_content()
