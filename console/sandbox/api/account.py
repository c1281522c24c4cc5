"""The account and its users: https://www.amocrm.ru/developers/content/crm_platform/account-info and
https://www.amocrm.ru/developers/content/crm_platform/users-api."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import HttpError, Request, Response, json_response
from .common import links, paginate

if TYPE_CHECKING:
    from ..app import Sandbox


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


def user_doc(user_id: int, name: str, email: str, *, admin: bool = False) -> dict[str, Any]:
    """A user as ``GET /api/v4/users`` shows it: id, name, e-mail, lang and the ``rights`` object."""
    entity_rights = {"view": "A", "edit": "A", "add": "A", "delete": "A" if admin else "D", "export": "A"}
    return {
        "id": user_id,
        "name": name,
        "email": email,
        "lang": "ru",
        "rights": {
            "leads": dict(entity_rights),
            "contacts": dict(entity_rights),
            "companies": dict(entity_rights),
            "tasks": {"edit": "A", "delete": "A"},
            "mail_access": False,
            "catalog_access": True,
            "is_admin": admin,
            "is_free": False,
            "is_active": True,
            "group_id": None,
            "role_id": None,
            "status_rights": [],
        },
    }


def rights_check(sb: Sandbox, actor: int, entity: str, action: str = "add") -> None:
    """Refuse as amoCRM does when ``actor`` lacks the right to ``action`` ``entity``: HTTP 400 whose
    ``detail`` carries error code 244 (amoCRM's "no rights" code, seen on POST /api/v4/leads)."""
    user = next((u for u in sb.users if u["id"] == actor), None)
    if user is None or user["rights"].get(entity, {}).get(action, "A") != "D":
        return
    raise HttpError(
        json_response(
            400,
            {
                "title": "Bad Request",
                "type": "https://httpstatus.es/400",
                "status": 400,
                "detail": "Код ошибки 244. В случае повторного возникновения ошибки, обращайтесь в "
                "техподдержку",
            },
            "application/problem+json",
        )
    )


def users(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/users (admin-only in amoCRM: a token of a non-admin user gets 403)"""
    items = [dict(u, _links=links(req, f"/api/v4/users/{u['id']}")) for u in sb.users]
    return paginate(req, items, "users", total=True)
