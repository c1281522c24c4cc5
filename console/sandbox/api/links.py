"""Links between entities and to catalog elements:
https://www.amocrm.ru/developers/content/crm_platform/entity-links-api.

Links are stored once per direction under kind ``link`` with key
``{entity_type}:{entity_id}:{to_entity_type}:{to_entity_id}``; ``main_contact`` lives on the lead/company
side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import MSG_BLANK, MSG_INT, Request, Response, as_list, json_response, no_content, verror
from .common import ENTITIES, batch_body, check_groups, fail_one, int_set, is_int, links, paginate, rid_of
from .custom_fields import cf_kind

if TYPE_CHECKING:
    from ..app import Sandbox

LINK_TARGETS = {
    "leads": {"contacts", "companies", "catalog_elements"},
    "contacts": {"companies", "leads", "catalog_elements", "customers"},
    "companies": {"contacts", "leads", "catalog_elements", "customers"},
}


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


def _links_page(req: Request, items: list[dict[str, Any]], with_entity: bool) -> Response:
    """A page of links: ``_total_items``, ``self`` with ``page``/``limit`` (no ``_page``), 204 when empty."""
    return paginate(
        req, items, "links", lambda x: _render_link(req, x, with_entity), total=True, numbered=False
    )


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
    return _links_page(req, _filter_links(req, links_of(sb, entity, int(eid))), False)


def mass_links_list(sb: Sandbox, req: Request, entity: str) -> Response:
    """GET /api/v4/{entity}/links?filter[entity_id][]=..."""
    flt = req.nested().get("filter", {})
    ids = int_set(as_list(flt.get("entity_id"))) if isinstance(flt, dict) else set()
    if not ids:
        raise fail_one("filter.entity_id", "NotBlank", MSG_BLANK)
    items = []
    for eid in sorted(ids):
        items.extend(links_of(sb, entity, eid))
    return _links_page(req, _filter_links(req, items), True)


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
