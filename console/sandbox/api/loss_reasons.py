"""Loss reasons of leads, read only (managed in amoCRM's UI):
https://www.amocrm.ru/developers/content/crm_platform/leads-api (``loss_reason_id``, ``with=loss_reason``) and
GET /api/v4/leads/loss_reasons[/{id}] as Kommo documents it. Paging of the list is UNCONFIRMED: the sandbox
pages it like every other list (``page``/``limit``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import MSG_INT, Request, Response, json_response, verror
from .common import doc_or_404, is_int, links, now, paginate

if TYPE_CHECKING:
    from ..app import Sandbox

KIND = "loss_reason"
LOST = 143
SEED = ["Дорого", "Нет нужной мебели на дату", "Выбрали другого подрядчика", "Мероприятие отменено"]


def seed_loss_reasons(sb: Sandbox) -> None:
    """The account's reasons (ids from 9000001, sort in steps of 10)."""
    for i, name in enumerate(SEED):
        rid = sb.store.next_id(KIND, 9000001)
        t = now()
        reason = {"id": rid, "name": name, "sort": (i + 1) * 10, "created_at": t, "updated_at": t}
        sb.store.put(KIND, rid, reason)


def render(req: Request, reason: dict[str, Any]) -> dict[str, Any]:
    return dict(reason, _links=links(req, f"/api/v4/leads/loss_reasons/{reason['id']}"))


def loss_reasons_list(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/leads/loss_reasons (204 when the account has none)."""
    items = sorted(sb.store.all(KIND), key=lambda r: (r["sort"], r["id"]))
    return paginate(req, items, "loss_reasons", lambda r: render(req, r))


def loss_reason_get(sb: Sandbox, req: Request, rid: str) -> Response:
    """GET /api/v4/leads/loss_reasons/{id} (404 problem when unknown)."""
    return json_response(200, render(req, doc_or_404(sb, KIND, rid, "Loss reason not found")))


def check_loss_reason(sb: Sandbox, doc: dict[str, Any], item: dict[str, Any], errors: list[Any]) -> None:
    """Apply ``loss_reason_id`` of a written lead. amoCRM's docs leave open whether a reason is refused off
    status 143; the sandbox does the stricter thing: an unknown reason, or a reason on a lead that is not
    (being) closed lost, is a ``NotSupportedChoice`` validation error on ``loss_reason_id``."""
    if "loss_reason_id" not in item:
        if doc.get("status_id") != LOST:
            doc["loss_reason_id"] = None
        return
    value = item["loss_reason_id"]
    if value is None:
        doc["loss_reason_id"] = None
        return
    if not is_int(value):
        errors.append(verror("loss_reason_id", "InvalidType", MSG_INT))
        return
    if sb.store.get(KIND, value) is None or doc.get("status_id") != LOST:
        errors.append(verror("loss_reason_id"))
        return
    doc["loss_reason_id"] = value


def embedded_loss_reason(sb: Sandbox, req: Request, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """``_embedded.loss_reason`` of ``with=loss_reason``: amoCRM's example shows an array of one full reason
    (its table an object); the sandbox answers the array, empty when the lead has no reason."""
    reason = sb.store.get(KIND, doc.get("loss_reason_id")) if doc.get("loss_reason_id") else None
    return [render(req, reason)] if reason else []
