"""Custom field definitions (of entities and of catalogs) and the ``custom_fields_values`` an entity write
carries: https://www.amocrm.ru/developers/content/crm_platform/custom-fields.

Definitions are stored under kind ``cf:{entity}`` (``cf:catalog:{id}`` for a catalog's fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import (
    MSG_ARRAY,
    MSG_BLANK,
    MSG_INT,
    MSG_STR,
    Request,
    Response,
    json_response,
    no_content,
    verror,
)
from .common import batch_body, check_groups, is_int, links, paginate, rid_of

if TYPE_CHECKING:
    from ..app import Sandbox

# fmt: off
CF_TYPES = {
    "text", "numeric", "checkbox", "select", "multiselect", "multitext", "date", "url", "textarea",
    "radiobutton", "streetaddress", "smart_address", "birthday", "legal_entity", "date_time", "items",
    "category", "price", "tracking_data", "linked_entity", "org_legal_name", "monetary", "chained_list",
    "file", "payer", "supplier",
}
# fmt: on
ENUM_TYPES = {"select", "multiselect", "radiobutton"}
NUMERIC_TYPES = {"numeric", "price", "monetary"}


def cf_kind(entity: str) -> str:
    return f"cf:{entity}"


def _render_cf(req: Request, base: str, field: dict[str, Any]) -> dict[str, Any]:
    return dict(field, _links=links(req, f"{base}/{field['id']}"))


def custom_fields_list(sb: Sandbox, req: Request, entity: str) -> Response:
    """GET /api/v4/{entity}/custom_fields (also /catalogs/{id}/custom_fields)"""
    base = req.path.rstrip("/")
    fields = sb.store.all(cf_kind(entity))
    return paginate(req, fields, "custom_fields", lambda f: _render_cf(req, base, f), total=True)


def catalog_fields_list(sb: Sandbox, req: Request, cid: str) -> Response:
    """GET /api/v4/catalogs/{id}/custom_fields"""
    return custom_fields_list(sb, req, f"catalog:{cid}")


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
            elif item.get("enums") is not None:
                errors.extend(_enum_errors(item["enums"]))
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


def _enum_errors(enums: Any) -> list[dict[str, str]]:
    """Problems of a written ``enums`` list: each item ``{"value": "...", "sort"?: int}``."""
    if not isinstance(enums, list):
        return [verror("enums", "InvalidType", MSG_ARRAY)]
    errors = []
    for i, enum in enumerate(enums):
        if not isinstance(enum, dict) or not isinstance(enum.get("value"), str) or not enum["value"].strip():
            errors.append(verror(f"enums.{i}.value", "NotBlank", MSG_BLANK))
        elif "sort" in enum and not is_int(enum["sort"]):
            errors.append(verror(f"enums.{i}.sort", "InvalidType", MSG_INT))
    return errors


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
    if not incoming:
        errors.append(
            verror("custom_fields_values", "TooFew", "This collection should contain 1 element or more.")
        )
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
        if "enum_id" in v:
            match = [e for e in enums if e["id"] == v["enum_id"]]
        else:
            match = [e for e in enums if e["value"] == v.get("value")]
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
