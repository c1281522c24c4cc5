"""Tags of leads, contacts and companies: https://www.amocrm.ru/developers/content/crm_platform/tags-api.

Tags are stored under kind ``tag:{entity}``; an entity keeps the ids of its tags in its private ``_tags``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import MSG_ARRAY, MSG_BLANK, Request, Response, as_list, json_response, verror
from .common import batch_body, check_groups, int_set, is_int, links, paginate, rid_of

if TYPE_CHECKING:
    from ..app import Sandbox


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
