"""What every family of the v4 surface shares: HAL links, ``page``/``limit`` pagination, batch bodies and
their all-or-nothing ``validation-errors`` groups, field type checks, filters and ``updated_at`` stamps.

Lists take ``page`` and ``limit`` (at most 250, as in
https://www.amocrm.ru/developers/content/crm_platform/leads-api#leads-list).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..http import (
    MSG_ARRAY,
    MSG_INT,
    MSG_STR,
    HttpError,
    Request,
    Response,
    ValidationFailed,
    json_response,
    no_content,
    problem,
    verror,
)

if TYPE_CHECKING:
    from ..app import Sandbox

ENTITIES = ("leads", "contacts", "companies")
MAX_BATCH = 250
DEFAULT_LIMIT = 50


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


def paginate(
    req: Request,
    items: list[Any],
    key: str,
    render: Any = None,
    total: bool = False,
    numbered: bool = True,
) -> Response:
    """A HAL page of ``items`` (204 when the page is empty), with ``self``/``next``/``prev`` links;
    ``_total_items`` when ``total``, ``_page`` unless ``numbered`` is false (the links lists have none)."""
    page, limit = page_params(req)
    chunk = items[(page - 1) * limit : page * limit]
    if not chunk:
        return no_content()
    body: dict[str, Any] = {"_page": page} if numbered else {}
    if total:
        body["_total_items"] = len(items)
    body["_links"] = page_links(req, page, limit, len(items) > page * limit)
    body["_embedded"] = {key: [render(x) for x in chunk] if render else chunk}
    return json_response(200, body)


def page_href(req: Request, page: int, limit: int) -> dict[str, str]:
    """The list URL of ``page``: the request's query in its own order with ``page``/``limit`` set in place,
    and whichever of them the request lacked appended (``page`` before ``limit``). amoCRM answers
    ``?page=1&limit=20`` to ``?page=1&limit=20`` and ``?limit=2&page=1`` to ``?limit=2``."""
    values = {"page": str(page), "limit": str(limit)}
    pairs: list[tuple[str, str]] = []
    placed: set[str] = set()
    for k, v in req.pairs:
        if k in values:
            if k in placed:
                continue
            placed.add(k)
            v = values[k]
        pairs.append((k, v))
    pairs += [(k, v) for k, v in values.items() if k not in placed]
    return {"href": f"{req.base}{req.path}?{urlencode(pairs)}"}


def page_links(req: Request, page: int, limit: int, more: bool) -> dict[str, Any]:
    """``self``, ``next`` (when ``more``) and ``prev`` (after page 1) of a list answer."""
    out: dict[str, Any] = {"self": page_href(req, page, limit)}
    if more:
        out["next"] = page_href(req, page + 1, limit)
    if page > 1:
        out["prev"] = page_href(req, page - 1, limit)
    return out


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


def authored(actor: int, responsible: Any = None) -> dict[str, Any]:
    """The authorship fields every new note, task and entity carries: who made it, whose it is, when."""
    t = now()
    return {
        "created_by": actor,
        "updated_by": actor,
        "created_at": t,
        "updated_at": t,
        "responsible_user_id": responsible or actor,
        "group_id": 0,
    }


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


def doc_or_404(sb: Sandbox, kind: str, key: str, detail: str) -> dict[str, Any]:
    """The stored ``kind`` document ``key``, or a 404 problem with ``detail`` (amoCRM's wording)."""
    doc = sb.store.get(kind, key)
    if doc is None:
        raise HttpError(problem(404, detail))
    return doc


def check_int(item: dict[str, Any], key: str, errors: list[dict[str, str]], nullable: bool = False) -> bool:
    """True when ``item`` carries an integer ``key`` (or None if ``nullable``); a wrong type adds an error."""
    if key not in item:
        return False
    if item[key] is None and nullable:
        return True
    if not is_int(item[key]):
        errors.append(verror(key, "InvalidType", MSG_INT))
        return False
    return True


def check_str(item: dict[str, Any], key: str, errors: list[dict[str, str]]) -> bool:
    """True when ``item`` carries a string ``key``; a wrong type adds an error."""
    if key not in item:
        return False
    if not isinstance(item[key], str):
        errors.append(verror(key, "InvalidType", MSG_STR))
        return False
    return True


def searchable(doc: dict[str, Any]) -> str:
    """The lower-cased text a ``query`` searches: the names and every custom field value."""
    parts = [str(doc.get("name") or ""), str(doc.get("first_name") or ""), str(doc.get("last_name") or "")]
    for cf in doc.get("custom_fields_values") or []:
        parts.extend(str(v.get("value", "")) for v in cf["values"])
    return "\n".join(parts).lower()
