"""Pipelines, custom fields, account, webhooks API, generic errors (404, 405, 402) and the human UI."""

from __future__ import annotations

import requests

from tests.sandbox.helpers import create, errors_of, main_pipeline


def test_pipelines_carry_russian_stages_and_the_system_statuses(sb):
    body = sb.api("GET", "leads/pipelines").json()
    assert body["_total_items"] == len(body["_embedded"]["pipelines"]) == 2
    pipe = main_pipeline(sb)
    assert set(pipe) >= {
        "id",
        "name",
        "sort",
        "is_main",
        "is_unsorted_on",
        "is_archive",
        "account_id",
        "_links",
        "_embedded",
    }
    statuses = pipe["_embedded"]["statuses"]
    names = [s["name"] for s in statuses]
    assert names == [
        "Неразобранное",
        "Новая заявка",
        "Бронь",
        "В аренде",
        "Монтаж/демонтаж",
        "Завершено",
        "Успешно реализовано",
        "Закрыто и не реализовано",
    ]
    assert statuses[0]["type"] == 1 and statuses[1]["type"] == 0
    assert [s["id"] for s in statuses[-2:]] == [142, 143]
    assert set(statuses[0]) == {
        "id",
        "name",
        "sort",
        "is_editable",
        "pipeline_id",
        "color",
        "type",
        "account_id",
        "_links",
    }
    one = sb.api("GET", f"leads/pipelines/{pipe['id']}/statuses").json()
    assert one["_total_items"] == 8


def test_an_unknown_pipeline_is_404_pipeline_not_found(sb):
    resp = sb.api("GET", "leads/pipelines/0/statuses")
    assert resp.status_code == 404
    assert resp.json() == {
        "title": "Not Found",
        "type": "https://httpstatus.es/404",
        "status": 404,
        "detail": "Pipeline not found",
    }


def test_unknown_paths_are_404_and_wrong_verbs_405(sb):
    resp = sb.api("GET", "nothing-here")
    assert resp.status_code == 404
    assert resp.json()["detail"] == f"Cannot GET {sb.url}/api/v4/nothing-here"
    resp = sb.api("DELETE", "leads")
    assert resp.status_code == 405
    assert resp.json() == {
        "title": "Method Not Allowed",
        "type": "https://httpstatus.es/405",
        "status": 405,
        "detail": "Method not allowed",
    }
    assert resp.headers["Content-Type"] == "application/problem+json" and resp.headers["X-Request-Id"]


def test_an_unpaid_account_answers_402(sb):
    sb.configure(unpaid=True)
    resp = sb.api("GET", "leads")
    assert resp.status_code == 402
    assert resp.json() == {
        "title": "Payment Required",
        "type": "https://httpstatus.es/402",
        "status": 402,
        "detail": "Payment required",
    }


def test_custom_fields_are_listed_and_created(sb):
    body = sb.api("GET", "contacts/custom_fields").json()
    codes = {f["code"] for f in body["_embedded"]["custom_fields"]}
    assert {"PHONE", "EMAIL"} <= codes
    phone = next(f for f in body["_embedded"]["custom_fields"] if f["code"] == "PHONE")
    assert phone["type"] == "multitext" and {e["value"] for e in phone["enums"]} >= {"WORK", "MOB"}
    company_codes = {
        f["code"] for f in sb.api("GET", "companies/custom_fields").json()["_embedded"]["custom_fields"]
    }
    assert {"PHONE", "EMAIL"} <= company_codes
    made = sb.api(
        "POST",
        "leads/custom_fields",
        json=[{"name": "Ид заказа консоли", "type": "numeric", "code": "CONSOLE_ID"}],
    )
    field = made.json()["_embedded"]["custom_fields"][0]
    assert field["code"] == "CONSOLE_ID" and field["request_id"] == "0" and isinstance(field["id"], int)
    (lead_id,) = create(
        sb, "leads", [{"custom_fields_values": [{"field_code": "CONSOLE_ID", "values": [{"value": 7}]}]}]
    )
    assert sb.api("GET", f"leads/{lead_id}").json()["custom_fields_values"][0]["values"] == [{"value": 7}]
    assert (
        errors_of(sb.api("POST", "leads/custom_fields", json=[{"name": "x", "type": "hologram"}]))[0][
            "errors"
        ][0]["path"]
        == "type"
    )
    limited = sb.api("GET", "contacts/custom_fields", params={"limit": 1}).json()
    assert len(limited["_embedded"]["custom_fields"]) == 1 and "next" in limited["_links"]


def test_webhook_subscriptions_are_listed_and_deleted_by_destination(sb):
    assert sb.api("GET", "webhooks").status_code == 204
    made = sb.api(
        "POST",
        "webhooks",
        json={"destination": "https://example.org/h", "settings": ["add_lead", "status_lead"], "sort": 10},
    )
    hook = made.json()
    assert set(hook) == {
        "id",
        "destination",
        "created_at",
        "updated_at",
        "account_id",
        "created_by",
        "sort",
        "disabled",
        "settings",
    }
    assert hook["settings"] == ["add_lead", "status_lead"] and hook["disabled"] is False
    listed = sb.api("GET", "webhooks", params={"filter[destination]": "https://example.org/h"}).json()
    assert listed["_total_items"] == 1
    deleted = sb.api("DELETE", "webhooks", json={"destination": "https://example.org/h"})
    assert deleted.status_code == 204
    assert sb.api("GET", "webhooks").status_code == 204
    bad = sb.api("POST", "webhooks", json={"destination": "nope", "settings": ["eat_lead"]})
    assert [e["path"] for e in errors_of(bad)[0]["errors"]] == ["destination", "settings.0"]


def test_users_are_listed(sb):
    users = sb.api("GET", "users").json()["_embedded"]["users"]
    assert {u["id"] for u in users} == {100001, 100002, 100003}
    admin = next(u for u in users if u["id"] == 100001)
    assert admin["rights"]["is_admin"] is True and admin["rights"]["leads"]["add"] == "A"


def test_a_user_without_the_add_right_gets_error_244_and_reset_gives_it_back(sb):
    taken = sb.control(
        "POST", "rights", {"user_id": 100001, "entity": "leads", "action": "add", "value": "D"}
    )
    assert taken["rights"]["leads"]["add"] == "D"
    refused = sb.api("POST", "leads", json=[{"name": "x"}])
    assert refused.status_code == 400 and "Код ошибки 244" in refused.json()["detail"]
    assert sb.api("POST", "contacts", json=[{"name": "x"}]).status_code == 200
    sb.control("POST", "rights", {"user_id": 100001, "entity": "leads", "action": "add", "value": "A"})
    assert sb.api("POST", "leads", json=[{"name": "x"}]).status_code == 200


def test_the_board_shows_leads_by_stage_and_the_lead_page_moves_them(sb):
    (lead_id,) = create(sb, "leads", [{"name": "Юбилей"}])
    board = requests.get(sb.url + "/")
    assert board.status_code == 200 and "Юбилей" in board.text and "Бронь" in board.text
    page = requests.get(f"{sb.url}/_sandbox/ui/leads/{lead_id}")
    assert "Переместить" in page.text
    card = requests.get(f"{sb.url}/leads/detail/{lead_id}")  # amoCRM's own address of a deal card
    assert card.status_code == 200 and "Юбилей" in card.text
    pipe = main_pipeline(sb)
    booked = next(s["id"] for s in pipe["_embedded"]["statuses"] if s["name"] == "Бронь")
    moved = requests.post(
        f"{sb.url}/_sandbox/ui/leads/{lead_id}/move",
        data={"target": f"{pipe['id']}:{booked}"},
        allow_redirects=False,
    )
    assert moved.status_code == 303
    assert sb.api("GET", f"leads/{lead_id}").json()["status_id"] == booked
    made = requests.post(
        f"{sb.url}/_sandbox/ui/leads", data={"name": "Из интерфейса", "price": "500"}, allow_redirects=False
    )
    assert made.status_code == 303 and sb.stats()["leads"] == 2


def test_control_move_and_state_counts(sb):
    (lead_id,) = create(sb, "leads", [{"name": "x"}])
    lead = sb.move_lead(lead_id, 143)
    assert lead["status_id"] == 143 and lead["updated_by"] == 100002
    assert sb.control("POST", f"leads/{lead_id}/delete")["ok"] is True
    stats = sb.stats()
    assert stats["leads"] == 0 and stats["deleted_leads"] == 1
    bad = sb.http.post(f"{sb.url}/_sandbox/leads/{lead_id}/move", json={"status_id": 1})
    assert bad.status_code == 400


def test_the_lead_page_lists_contacts_with_phones(sb):
    phone = {"field_code": "PHONE", "values": [{"value": "+79995556677"}]}
    item = {
        "name": "Банкет",
        "_embedded": {"contacts": [{"first_name": "Мария", "custom_fields_values": [phone]}]},
    }
    (row,) = sb.api("POST", "leads/complex", json=[item]).json()
    page = requests.get(f"{sb.url}/_sandbox/ui/leads/{row['id']}")
    assert page.status_code == 200 and "Мария" in page.text and "+79995556677" in page.text
    assert requests.get(f"{sb.url}/_sandbox/ui/leads/1").status_code == 404
