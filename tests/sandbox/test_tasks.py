"""Tasks: batch create/update in amoCRM's shapes, the list filters, closing with a result, the 400 bodies and
the ``task[...]`` webhooks (https://www.amocrm.ru/developers/content/crm_platform/tasks-api)."""

from __future__ import annotations

from tests.sandbox.helpers import create, errors_of
from tests.sandbox.test_webhook_events import subscribe

DUE = 1900000000


def add_tasks(sb, items):
    resp = sb.api("POST", "tasks", json=items)
    assert resp.status_code == 200, resp.text
    return [row["id"] for row in resp.json()["_embedded"]["tasks"]]


def listed(sb, **params):
    resp = sb.api("GET", "tasks", params=params)
    if resp.status_code == 204:
        return []
    assert resp.status_code == 200, resp.text
    return resp.json()["_embedded"]["tasks"]


def test_a_created_task_is_read_back_with_an_empty_result_list(sb):
    (lead,) = create(sb, "leads", [{"name": "Свадьба"}])
    item = {
        "text": "Позвонить",
        "complete_till": DUE,
        "entity_type": "leads",
        "entity_id": lead,
        "request_id": "1",
    }
    resp = sb.api("POST", "tasks", json=[dict(item, responsible_user_id=100002)])
    assert resp.status_code == 200
    (row,) = resp.json()["_embedded"]["tasks"]
    assert row["request_id"] == "1" and set(row) == {"id", "request_id", "_links"}
    task = sb.api("GET", f"tasks/{row['id']}").json()
    assert task["result"] == [] and task["is_completed"] is False
    assert (task["responsible_user_id"], task["entity_id"], task["task_type_id"]) == (100002, lead, 1)


def test_the_list_filters_by_entity_and_completion(sb):
    a, b = create(sb, "leads", [{"name": "A"}, {"name": "B"}])
    ta, tb = add_tasks(
        sb,
        [
            {"text": "x", "complete_till": DUE, "entity_type": "leads", "entity_id": a},
            {"text": "y", "complete_till": DUE, "entity_type": "leads", "entity_id": b},
        ],
    )
    sb.api("PATCH", f"tasks/{tb}", json={"is_completed": True, "result": {"text": "ok"}})
    assert [
        t["id"] for t in listed(sb, **{"filter[entity_type]": "leads", "filter[entity_id][]": [a, b]})
    ] == [ta, tb]
    assert [t["id"] for t in listed(sb, **{"filter[entity_type]": "leads", "filter[entity_id]": a})] == [ta]
    done = listed(sb, **{"filter[is_completed]": 1, "filter[entity_type]": "leads", "filter[entity_id]": b})
    assert [t["id"] for t in done] == [tb] and done[0]["result"] == {"text": "ok"}
    assert errors_of(sb.api("GET", "tasks", params={"filter[entity_id]": a}))[0]["errors"][0]["path"]


def test_a_batch_patch_moves_and_reassigns_and_answers_ids_only(sb):
    (lead,) = create(sb, "leads", [{"name": "Монтаж"}])
    (tid,) = add_tasks(
        sb, [{"text": "Монтаж", "complete_till": DUE, "entity_type": "leads", "entity_id": lead}]
    )
    resp = sb.api(
        "PATCH", "tasks", json=[{"id": tid, "complete_till": DUE + 3600, "responsible_user_id": 100003}]
    )
    assert resp.status_code == 200, resp.text
    (row,) = resp.json()["_embedded"]["tasks"]
    assert set(row) == {"id", "updated_at", "request_id", "_links"}
    task = sb.api("GET", f"tasks/{tid}").json()
    assert (task["complete_till"], task["responsible_user_id"]) == (DUE + 3600, 100003)


def test_bad_items_are_refused_all_or_nothing_with_amocrm_400(sb):
    before = len(listed(sb))
    items = [
        {"text": "ok", "complete_till": DUE},
        {"complete_till": "tomorrow", "request_id": "b"},
        {"text": "x", "complete_till": DUE, "entity_type": "leads", "entity_id": 999999999},
    ]
    groups = errors_of(sb.api("POST", "tasks", json=items))
    paths = {g["request_id"]: {e["path"] for e in g["errors"]} for g in groups}
    assert paths == {"b": {"text", "complete_till"}, "2": {"entity_id"}}
    assert len(listed(sb)) == before
    unknown = errors_of(sb.api("PATCH", "tasks", json=[{"id": 999999999, "is_completed": True}]))
    assert unknown[0]["errors"][0]["path"] == "id"


def test_tasks_fire_add_and_update_hooks_and_the_manager_closes_one(sb, receiver):
    subscribe(sb, receiver.url, "add_task", "update_task")
    (lead,) = create(sb, "leads", [{"name": "Звонок"}])
    (tid,) = add_tasks(
        sb, [{"text": "Позвонить", "complete_till": DUE, "entity_type": "leads", "entity_id": lead}]
    )
    closed = sb.control("POST", f"tasks/{tid}/complete", {"result": "Дозвонились"})
    assert closed["is_completed"] is True
    added, updated = receiver.wait_for(2)
    assert added["form"]["task[add][0][id]"] == str(tid)
    assert added["form"]["task[add][0][element_id]"] == str(lead)
    assert added["form"]["task[add][0][element_type]"] == "2"
    assert added["form"]["task[add][0][status]"] == "0"
    form = updated["form"]
    assert (form["task[update][0][status]"], form["task[update][0][action_close]"]) == ("1", "1")
    assert form["task[update][0][result][text]"] == "Дозвонились"
