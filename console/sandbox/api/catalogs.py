"""Catalogs (lists) and their elements: https://www.amocrm.ru/developers/content/crm_platform/catalogs-api."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import MSG_BLANK, Request, Response, as_list, json_response, no_content, verror
from .common import (
    batch_body,
    check_groups,
    check_str,
    doc_or_404,
    int_set,
    is_int,
    links,
    now,
    paginate,
    rid_of,
    searchable,
    stamp,
)
from .custom_fields import apply_cfv

if TYPE_CHECKING:
    from ..app import Sandbox


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
    return doc_or_404(sb, "catalog", cid, "Catalog not found")


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
        items = [e for e in items if query in searchable(e)]
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
            "is_deleted": None,
            "custom_fields_values": None,
            "account_id": sb.config["account_id"],
        }
    )
    if check_str(item, "name", errors):
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
