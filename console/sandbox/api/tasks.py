"""Tasks tied to leads, contacts and companies: https://www.amocrm.ru/developers/content/crm_platform/tasks-api.

Tasks are stored under kind ``task``. POST answers 200 (not 201); there is no DELETE in v4. ``result`` reads
``[]`` while empty and ``{"text": ...}`` once given, as amoCRM's list does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import webhook_events
from ..http import MSG_INT, MSG_STR, Request, Response, as_list, json_response, no_content, verror
from .common import (
    ENTITIES,
    authored,
    batch_body,
    check_groups,
    fail_one,
    int_set,
    is_int,
    links,
    matches_range,
    paginate,
    rid_of,
    stamp,
)

if TYPE_CHECKING:
    from ..app import Sandbox

KIND = "task"
TASK_TYPES = {1, 2}
MSG_BOOL = "This value should be of type bool."


def _render(req: Request, task: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in task.items() if not k.startswith("_")}
    out["result"] = {"text": task["_result"]} if task.get("_result") is not None else []
    out["_links"] = links(req, f"/api/v4/tasks/{task['id']}")
    return out


def tasks_list(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/tasks, ``filter[id|responsible_user_id|task_type|is_completed|entity_type|entity_id]``."""
    tasks = sb.store.all(KIND)
    flt = req.nested().get("filter", {})
    if isinstance(flt, dict):
        tasks = _filtered(tasks, flt)
    tasks.sort(key=lambda t: t["id"])
    return paginate(req, tasks, "tasks", lambda t: _render(req, t))


def _filtered(tasks: list[dict[str, Any]], flt: dict[str, Any]) -> list[dict[str, Any]]:
    if "entity_id" in flt and "entity_type" not in flt:
        raise fail_one("filter.entity_type", "NotBlank", "This value should not be blank.")
    for key, field in (
        ("id", "id"),
        ("responsible_user_id", "responsible_user_id"),
        ("entity_id", "entity_id"),
    ):
        if key in flt:
            ids = int_set(as_list(flt[key]))
            tasks = [t for t in tasks if t[field] in ids]
    for key in ("task_type", "task_type_id"):
        if key in flt:
            types = int_set(as_list(flt[key]))
            tasks = [t for t in tasks if t["task_type_id"] in types]
    if "entity_type" in flt:
        kinds = set(as_list(flt["entity_type"]))
        tasks = [t for t in tasks if t["entity_type"] in kinds]
    if "is_completed" in flt:
        done = str(flt["is_completed"]) in ("1", "true")
        tasks = [t for t in tasks if t["is_completed"] is done]
    if "updated_at" in flt:
        spec = flt["updated_at"]
        spec = spec if isinstance(spec, dict) else {"from": spec}
        tasks = [t for t in tasks if matches_range(t["updated_at"], spec)]
    return tasks


def _check_fields(sb: Sandbox, item: dict[str, Any], creating: bool) -> list[dict[str, str]]:
    """Type and reference checks of create and update (``text``, ``complete_till`` required on create)."""
    errors: list[dict[str, str]] = []
    if ("text" in item or creating) and (not isinstance(item.get("text"), str) or not item.get("text")):
        errors.append(verror("text", "InvalidType", MSG_STR))
    if ("complete_till" in item or creating) and not is_int(item.get("complete_till")):
        errors.append(verror("complete_till", "InvalidType", MSG_INT))
    for key in ("responsible_user_id", "duration"):
        if key in item and not is_int(item[key]):
            errors.append(verror(key, "InvalidType", MSG_INT))
    user = item.get("responsible_user_id")
    if is_int(user) and user not in {u["id"] for u in sb.users}:
        errors.append(verror("responsible_user_id"))
    if "task_type_id" in item and item["task_type_id"] not in TASK_TYPES:
        errors.append(verror("task_type_id"))
    if "is_completed" in item and not isinstance(item["is_completed"], bool):
        errors.append(verror("is_completed", "InvalidType", MSG_BOOL))
    result = item.get("result")
    if result is not None and not (isinstance(result, dict) and isinstance(result.get("text", ""), str)):
        errors.append(verror("result.text", "InvalidType", MSG_STR))
    errors.extend(_check_owner(sb, item))
    return errors


def _check_owner(sb: Sandbox, item: dict[str, Any]) -> list[dict[str, str]]:
    if "entity_id" not in item and "entity_type" not in item:
        return []
    entity, eid = item.get("entity_type"), item.get("entity_id")
    if entity not in ENTITIES:
        return [verror("entity_type")]
    if not is_int(eid):
        return [verror("entity_id", "InvalidType", MSG_INT)]
    parent = sb.store.get(entity, eid)
    if parent is None or parent.get("is_deleted"):
        return [verror("entity_id")]
    return []


def _new_doc(sb: Sandbox, item: dict[str, Any], actor: int) -> dict[str, Any]:
    result = item.get("result") or {}
    return {
        "id": None,
        **authored(actor, item.get("responsible_user_id")),
        "entity_id": item.get("entity_id"),
        "entity_type": item.get("entity_type"),
        "duration": item.get("duration") or 0,
        "is_completed": bool(item.get("is_completed", False)),
        "task_type_id": item.get("task_type_id", 1),
        "text": item["text"],
        "complete_till": item["complete_till"],
        "account_id": sb.config["account_id"],
        "_result": result.get("text") if result else None,
    }


def tasks_create(sb: Sandbox, req: Request) -> Response:
    """POST /api/v4/tasks (array): all or nothing; 200 with ``_embedded.tasks[{id, request_id, _links}]``."""
    items = batch_body(req)
    actor = sb.actor(req)
    groups, docs = [], []
    with sb.store.atomic():
        for i, item in enumerate(items):
            errors = (
                _check_fields(sb, item, creating=True)
                if isinstance(item, dict)
                else [verror("", "InvalidType", "This value should be of type object.")]
            )
            groups.append({"request_id": rid_of(item, i), "errors": errors})
            if not errors:
                docs.append(_new_doc(sb, item, actor))
        check_groups(groups)
        for doc in docs:
            doc["id"] = sb.store.next_id(KIND, 5000001)
            sb.store.put(KIND, doc["id"], doc)
    webhook_events.emit_tasks(sb, [(None, d) for d in docs])
    out = [
        {"id": d["id"], "request_id": rid_of(item, i), "_links": links(req, f"/api/v4/tasks/{d['id']}")}
        for i, (d, item) in enumerate(zip(docs, items, strict=True))
    ]
    return json_response(200, {"_links": links(req, req.path), "_embedded": {"tasks": out}})


def update_tasks(
    sb: Sandbox, items: list[Any], actor: int, single_id: int | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Validate and apply task changes (all or nothing); fires ``update_task``/``responsible_task``."""
    groups, pairs = [], []
    with sb.store.atomic():
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                groups.append({"request_id": rid_of(item, i), "errors": [verror("", "InvalidType", MSG_STR)]})
                continue
            tid = single_id if single_id is not None else item.get("id")
            old = sb.store.get(KIND, tid) if is_int(tid) else None
            errors = [verror("id", "InvalidType", MSG_INT)] if not is_int(tid) else []
            if is_int(tid) and old is None:
                errors.append(verror("id"))
            errors.extend(_check_fields(sb, item, creating=False))
            groups.append({"request_id": rid_of(item, i), "errors": errors})
            if not errors and old is not None:
                pairs.append((old, _applied(old, item, actor)))
        check_groups(groups)
        for _, new in pairs:
            sb.store.put(KIND, new["id"], new)
    webhook_events.emit_tasks(sb, pairs)
    return pairs


def _applied(old: dict[str, Any], item: dict[str, Any], actor: int) -> dict[str, Any]:
    new = dict(old)
    for key in ("text", "complete_till", "responsible_user_id", "duration", "task_type_id", "is_completed"):
        if key in item:
            new[key] = item[key]
    if "entity_id" in item:
        new["entity_id"], new["entity_type"] = item["entity_id"], item["entity_type"]
    if isinstance(item.get("result"), dict) and item["result"].get("text") is not None:
        new["_result"] = item["result"]["text"]
    new["updated_by"] = actor
    new["updated_at"] = stamp(old["updated_at"])
    return new


def tasks_update(sb: Sandbox, req: Request) -> Response:
    """PATCH /api/v4/tasks (array of items with ``id``): ``_embedded.tasks[{id, updated_at, request_id}]``."""
    items = batch_body(req)
    pairs = update_tasks(sb, items, sb.actor(req))
    out = []
    for i, (item, (_, new)) in enumerate(zip(items, pairs, strict=True)):
        row = {"id": new["id"], "updated_at": new["updated_at"], "request_id": rid_of(item, i)}
        out.append(dict(row, _links=links(req, f"/api/v4/tasks/{new['id']}")))
    return json_response(200, {"_links": links(req, "/api/v4/tasks"), "_embedded": {"tasks": out}})


def task_get(sb: Sandbox, req: Request, tid: str) -> Response:
    """GET /api/v4/tasks/{id}"""
    task = sb.store.get(KIND, int(tid))
    return json_response(200, _render(req, task)) if task else no_content()


def task_update_one(sb: Sandbox, req: Request, tid: str) -> Response:
    """PATCH /api/v4/tasks/{id} (one object): ``id``/``updated_at`` at the top level."""
    item = req.json()
    if not isinstance(item, dict):
        raise fail_one("", "InvalidType", "This value should be of type object.")
    ((_, new),) = update_tasks(sb, [item], sb.actor(req), single_id=int(tid))
    body = {
        "id": new["id"],
        "updated_at": new["updated_at"],
        "_links": links(req, f"/api/v4/tasks/{new['id']}"),
    }
    return json_response(200, body)
