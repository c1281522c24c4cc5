"""``POST /api/v4/leads/complex``: leads created together with one contact and one company each,
https://www.amocrm.ru/developers/content/crm_platform/leads-api#leads-complex-add."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import webhook_events
from ..http import Request, Response, as_list, json_response, verror
from .account import rights_check
from .common import batch_body, check_groups, is_int, rid_of
from .entities import save_entity, write_entity
from .links import put_link

if TYPE_CHECKING:
    from ..app import Sandbox

MAX_COMPLEX = 50
MAX_CF_VALUES_COMPLEX = 40


def leads_complex(sb: Sandbox, req: Request) -> Response:
    """POST /api/v4/leads/complex: ≤ 50 leads, each with ≤ 1 contact and ≤ 1 company; bare-array answer."""
    items = batch_body(req, max_items=MAX_COMPLEX)
    actor = sb.actor(req)
    rights_check(sb, actor, "leads")
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
        webhook_events.emit_changes(sb, kind, [(None, d) for k, d in created if k == kind])
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
