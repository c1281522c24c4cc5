"""Webhook subscriptions: https://www.amocrm.ru/developers/content/crm_platform/webhooks-api."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..http import (
    MSG_ARRAY,
    MSG_BLANK,
    MSG_INT,
    Request,
    Response,
    ValidationFailed,
    json_response,
    no_content,
    verror,
)
from .common import fail_one, is_int, links, now

if TYPE_CHECKING:
    from ..app import Sandbox

# fmt: off
WEBHOOK_EVENTS = {
    "add_lead", "update_lead", "delete_lead", "restore_lead", "status_lead", "responsible_lead",
    "note_lead", "add_contact", "update_contact", "delete_contact", "restore_contact",
    "responsible_contact", "note_contact", "add_company", "update_company", "delete_company",
    "restore_company", "responsible_company", "note_company", "add_customer", "update_customer",
    "delete_customer", "responsible_customer", "note_customer", "add_task", "update_task", "delete_task",
    "responsible_task", "add_talk", "add_message",
}
# fmt: on


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
    """POST /api/v4/webhooks {destination, settings, sort}; re-posting a destination updates it (and
    re-enables a disabled one only with config ``webhook_repost_enables``)."""
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
        # Whether a re-POST clears ``disabled`` in amoCRM is unconfirmed: by default it does not here.
        enables = bool(sb.config.get("webhook_repost_enables"))
        hook.update(
            settings=list(dict.fromkeys(settings)),
            disabled=bool(hook["disabled"]) and not enables,
            updated_at=t,
            sort=data.get("sort", hook["sort"]),
        )
        sb.store.put("webhook", dest, hook)
    if not hook["disabled"]:
        sb.hooks.enable(dest)
    return json_response(200, _render_webhook(hook))


def webhooks_delete(sb: Sandbox, req: Request) -> Response:
    """DELETE /api/v4/webhooks {destination} -> 204 (unknown destinations too)."""
    data = req.json()
    if not isinstance(data, dict) or not isinstance(data.get("destination"), str):
        raise fail_one("destination", "NotBlank", MSG_BLANK)
    sb.store.delete("webhook", data["destination"])
    return no_content()
