"""Leads, contacts and companies: HAL shapes, pagination, filters, writes, complex add and error bodies."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.samples import sample
from tests.sandbox.helpers import create, errors_of, main_pipeline

LEAD_KEYS = {
    "id",
    "name",
    "price",
    "responsible_user_id",
    "group_id",
    "status_id",
    "pipeline_id",
    "loss_reason_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "closed_at",
    "closest_task_at",
    "is_deleted",
    "custom_fields_values",
    "score",
    "account_id",
    "labor_cost",
    "_links",
    "_embedded",
}


def test_a_lead_list_has_the_recorded_shape(sb):
    create(sb, "leads", [{"name": "Продать стул", "price": 10000}])
    resp = sb.api("GET", "leads", params={"page": 1, "limit": 20})
    assert resp.headers["Content-Type"] == "application/hal+json"
    assert resp.headers["X-Request-Id"]
    body = resp.json()
    recorded = json.loads(sample("api-01-leads-list.json"))
    assert set(body) == set(recorded)
    lead = body["_embedded"]["leads"][0]
    assert set(lead) == set(recorded["_embedded"]["leads"][0]) == LEAD_KEYS
    assert set(lead["_embedded"]) == {"tags", "companies"}
    assert lead["custom_fields_values"] is None
    assert isinstance(lead["created_at"], int) and lead["name"] == "Продать стул"
    assert "next" not in body["_links"]


def test_post_answers_with_request_ids_like_the_recording(sb):
    resp = sb.api("POST", "leads", json=[{"name": "A", "request_id": "r-1"}, {"name": "B"}])
    body = resp.json()
    recorded = json.loads(sample("api-11-post-leads.json"))
    assert set(body) == set(recorded)
    rows = body["_embedded"]["leads"]
    assert set(rows[0]) == set(recorded["_embedded"]["leads"][0])
    assert [r["request_id"] for r in rows] == ["r-1", "1"]
    assert rows[0]["_links"]["self"]["href"].endswith(f"/api/v4/leads/{rows[0]['id']}")


def test_the_account_has_the_recorded_shape(sb):
    body = sb.api("GET", "account", params={"with": "amojo_id"}).json()
    recorded = json.loads(sample("api-25-account.json"))
    assert set(body) == set(recorded)
    assert body["subdomain"] == "demo" and body["currency"] == "RUB"


def test_new_leads_default_to_the_first_stage_of_the_main_pipeline(sb):
    (lead_id,) = create(sb, "leads", [{"name": "x"}])
    lead = sb.api("GET", f"leads/{lead_id}").json()
    pipe = main_pipeline(sb)
    assert lead["pipeline_id"] == pipe["id"]
    first = pipe["_embedded"]["statuses"][1]
    assert first["name"] == "Новая заявка" and lead["status_id"] == first["id"]


def test_missing_ids_empty_lists_and_pages_past_the_end_are_204(sb):
    for path in ("leads/999", "contacts/999", "companies/999", "leads", "contacts", "companies"):
        resp = sb.api("GET", path)
        assert resp.status_code == 204 and resp.content == b"", path
    create(sb, "leads", [{"name": "one"}])
    assert sb.api("GET", "leads", params={"page": 2}).status_code == 204


def test_pages_link_to_the_next_page_until_the_end(sb):
    create(sb, "leads", [{"name": f"L{i}"} for i in range(5)])
    url, names = sb.url + "/api/v4/leads?limit=2", []
    while url:
        body = sb.http.get(url, headers={"Authorization": f"Bearer {sb.token()}"}).json()
        names += [lead["name"] for lead in body["_embedded"]["leads"]]
        url = body["_links"].get("next", {}).get("href")
    assert names == [f"L{i}" for i in range(5)]
    page2 = sb.api("GET", "leads", params={"limit": 2, "page": 2}).json()
    assert page2["_page"] == 2 and "prev" in page2["_links"]


def test_a_limit_above_250_is_a_validation_error(sb):
    groups = errors_of(sb.api("GET", "leads", params={"limit": 251}))
    assert groups[0]["errors"][0]["path"] == "limit"


def test_filters_by_id_status_pipeline_and_updated_at(sb):
    pipe = main_pipeline(sb)
    booked = next(s["id"] for s in pipe["_embedded"]["statuses"] if s["name"] == "Бронь")
    a, b, c = create(sb, "leads", [{"name": "a"}, {"name": "b", "status_id": booked}, {"name": "c"}])
    ids = lambda params: [x["id"] for x in sb.api("GET", "leads", params=params).json()["_embedded"]["leads"]]  # noqa: E731
    assert ids({"filter[id][]": [a, c]}) == [a, c]
    assert ids(
        {"filter[statuses][0][pipeline_id]": pipe["id"], "filter[statuses][0][status_id]": booked}
    ) == [b]
    assert ids({"filter[pipeline_id][]": pipe["id"]}) == [a, b, c]
    lead = sb.api("GET", f"leads/{a}").json()
    assert a in ids(
        {"filter[updated_at][from]": lead["updated_at"], "filter[updated_at][to]": lead["updated_at"]}
    )
    assert (
        sb.api("GET", "leads", params={"filter[updated_at][from]": lead["updated_at"] + 1000}).status_code
        == 204
    )
    assert ids({"order[id]": "desc"}) == [c, b, a]
    assert ids({"query": "b"}) == [b]


def test_contact_search_is_a_plain_substring_so_plus_seven_and_eight_differ(sb):
    phone = {"field_code": "PHONE", "values": [{"value": "+79991234567", "enum_code": "MOB"}]}
    email = {"field_code": "EMAIL", "values": [{"value": "ivan@example.com"}]}
    (cid,) = create(
        sb,
        "contacts",
        [{"first_name": "Иван", "last_name": "Петров", "custom_fields_values": [phone, email]}],
    )
    found = lambda q: sb.api("GET", "contacts", params={"query": q})  # noqa: E731
    assert found("+7999123").json()["_embedded"]["contacts"][0]["id"] == cid
    assert found("9991234567").status_code == 200
    assert found("89991234567").status_code == 204
    assert found("ivan@example").status_code == 200
    assert found("Петров").status_code == 200
    contact = sb.api("GET", f"contacts/{cid}").json()
    assert contact["name"] == "Иван Петров"
    cf = {c["field_code"]: c for c in contact["custom_fields_values"]}
    assert cf["PHONE"]["values"][0]["enum_code"] == "MOB" and isinstance(
        cf["PHONE"]["values"][0]["enum_id"], int
    )
    assert cf["PHONE"]["field_type"] == "multitext" and cf["EMAIL"]["values"][0]["enum_code"] == "WORK"
    assert set(contact["_embedded"]) == {"tags", "companies"}


def test_non_int_price_is_invalid_type_and_nothing_is_created(sb):
    groups = errors_of(
        sb.api("POST", "leads", json=[{"name": "ok"}, {"name": "x", "price": "100", "request_id": "r"}])
    )
    assert groups == [
        {
            "request_id": "r",
            "errors": [
                {"code": "InvalidType", "path": "price", "detail": "This value should be of type int."}
            ],
        }
    ]
    assert sb.stats()["leads"] == 0


def test_unknown_custom_field_enum_and_stage_are_not_supported_choices(sb):
    fields = sb.api("GET", "leads/custom_fields").json()["_embedded"]["custom_fields"]
    select = next(f for f in fields if f["type"] == "select")
    items = [
        {"custom_fields_values": [{"field_id": 1, "values": [{"value": "x"}]}]},
        {"custom_fields_values": [{"field_id": select["id"], "values": [{"enum_id": 1}]}]},
        {"status_id": 1},
        {"pipeline_id": 1},
    ]
    groups = errors_of(sb.api("POST", "leads", json=items))
    paths = [(g["request_id"], g["errors"][0]["path"], g["errors"][0]["code"]) for g in groups]
    assert paths == [
        ("0", "custom_fields_values.0.field_id", "NotSupportedChoice"),
        ("1", "custom_fields_values.0.values.0.enum_id", "NotSupportedChoice"),
        ("2", "status_id", "NotSupportedChoice"),
        ("3", "pipeline_id", "NotSupportedChoice"),
    ]
    assert groups[0]["errors"][0]["detail"] == "The value you selected is not a valid choice."


def test_custom_field_values_are_stored_with_names_and_enums(sb):
    fields = sb.api("GET", "leads/custom_fields").json()["_embedded"]["custom_fields"]
    select = next(f for f in fields if f["type"] == "select")
    text = next(f for f in fields if f["type"] == "text")
    cfv = [
        {"field_id": text["id"], "values": [{"value": "З-42"}]},
        {"field_id": select["id"], "values": [{"enum_id": select["enums"][1]["id"]}]},
    ]
    (lead_id,) = create(sb, "leads", [{"name": "cf", "custom_fields_values": cfv}])
    stored = sb.api("GET", f"leads/{lead_id}").json()["custom_fields_values"]
    assert stored[0] == {
        "field_id": text["id"],
        "field_name": text["name"],
        "field_code": None,
        "field_type": "text",
        "values": [{"value": "З-42"}],
    }
    assert stored[1]["values"][0]["value"] == "Самовывоз"
    sb.api(
        "PATCH", f"leads/{lead_id}", json={"custom_fields_values": [{"field_id": text["id"], "values": None}]}
    )
    assert len(sb.api("GET", f"leads/{lead_id}").json()["custom_fields_values"]) == 1


def test_blank_and_non_array_bodies_are_rejected(sb):
    blank = sb.api("POST", "leads", data="", headers={"Content-Type": "application/json"})
    assert blank.status_code == 400
    assert blank.json() == {
        "title": "Bad Request",
        "type": "https://httpstatus.es/400",
        "status": 400,
        "detail": "Request data cannot be blank",
    }
    assert sb.api("POST", "leads", json=[]).json()["detail"] == "Request data cannot be blank"
    assert errors_of(sb.api("POST", "leads", json={"name": "x"}))[0]["errors"][0]["code"] == "InvalidType"


def test_more_than_250_entities_is_422(sb):
    resp = sb.api("POST", "leads", json=[{"name": "x"}] * 251)
    assert resp.status_code == 422
    assert resp.json() == {
        "title": "Unprocessable Entity",
        "type": "https://httpstatus.es/422",
        "status": 422,
        "detail": "Limit 250 per page",
    }


def test_batch_patch_and_single_patch_answer_with_updated_at(sb):
    a, b = create(sb, "leads", [{"name": "a"}, {"name": "b"}])
    resp = sb.api("PATCH", "leads", json=[{"id": a, "price": 5}, {"id": b, "name": "bb"}])
    rows = resp.json()["_embedded"]["leads"]
    assert [set(r) for r in rows] == [{"id", "updated_at", "_links"}] * 2
    one = sb.api("PATCH", f"leads/{a}", json={"name": "Новое имя"}).json()
    assert set(one) == {"id", "updated_at", "_links"} and one["id"] == a
    lead = sb.api("GET", f"leads/{a}").json()
    assert lead["name"] == "Новое имя" and lead["price"] == 5
    assert errors_of(sb.api("PATCH", "leads", json=[{"id": 42, "name": "x"}]))[0]["errors"][0]["path"] == "id"


def test_moving_to_won_sets_closed_at(sb):
    (lead_id,) = create(sb, "leads", [{"name": "w"}])
    sb.api("PATCH", f"leads/{lead_id}", json={"status_id": 142, "pipeline_id": main_pipeline(sb)["id"]})
    lead = sb.api("GET", f"leads/{lead_id}").json()
    assert lead["status_id"] == 142 and isinstance(lead["closed_at"], int)


def test_tags_are_created_by_name_and_can_be_cleared(sb):
    (lead_id,) = create(sb, "leads", [{"name": "t", "_embedded": {"tags": [{"name": "VIP"}]}}])
    tags = sb.api("GET", f"leads/{lead_id}").json()["_embedded"]["tags"]
    assert tags[0]["name"] == "VIP" and isinstance(tags[0]["id"], int)
    listed = sb.api("GET", "leads/tags").json()["_embedded"]["tags"]
    assert [t["name"] for t in listed] == ["VIP"]
    sb.api("PATCH", f"leads/{lead_id}", json={"_embedded": {"tags": None}})
    assert sb.api("GET", f"leads/{lead_id}").json()["_embedded"]["tags"] == []
    made = sb.api("POST", "contacts/tags", json=[{"name": "опт"}]).json()["_embedded"]["tags"]
    assert made[0]["name"] == "опт" and made[0]["request_id"] == "0"


def test_complex_add_creates_linked_lead_contact_and_company(sb):
    phone = {"field_code": "PHONE", "values": [{"value": "+79990000001"}]}
    items = [
        {
            "name": "Свадьба",
            "price": 5000,
            "_embedded": {
                "contacts": [{"first_name": "Анна", "custom_fields_values": [phone]}],
                "companies": [{"name": "ООО Праздник"}],
            },
        },
        {"name": "Без контакта", "request_id": "x"},
    ]
    resp = sb.api("POST", "leads/complex", json=items)
    assert resp.status_code == 200
    rows = resp.json()
    assert isinstance(rows, list) and set(rows[0]) == {
        "id",
        "contact_id",
        "company_id",
        "request_id",
        "merged",
    }
    assert rows[0]["request_id"] == ["0"] and rows[0]["merged"] is False
    assert rows[1]["contact_id"] is None and rows[1]["request_id"] == ["x"]
    lead = sb.api("GET", f"leads/{rows[0]['id']}", params={"with": "contacts"}).json()
    assert lead["_embedded"]["contacts"][0]["id"] == rows[0]["contact_id"]
    assert lead["_embedded"]["contacts"][0]["is_main"] is True
    assert lead["_embedded"]["companies"][0]["id"] == rows[0]["company_id"]
    contact = sb.api("GET", f"contacts/{rows[0]['contact_id']}", params={"with": "leads"}).json()
    assert contact["_embedded"]["leads"][0]["id"] == rows[0]["id"]
    assert contact["_embedded"]["companies"][0]["id"] == rows[0]["company_id"]


def test_complex_add_limits(sb):
    assert sb.api("POST", "leads/complex", json=[{"name": "x"}] * 51).status_code == 422
    two = [{"name": "x", "_embedded": {"contacts": [{"name": "a"}, {"name": "b"}]}}]
    assert (
        errors_of(sb.api("POST", "leads/complex", json=two))[0]["errors"][0]["path"] == "_embedded.contacts"
    )


@pytest.mark.parametrize("entity", ["contacts", "companies"])
def test_contacts_and_companies_follow_the_same_pattern(sb, entity):
    (eid,) = create(sb, entity, [{"name": "Сущность"}])
    body = sb.api("GET", entity).json()
    assert body["_embedded"][entity][0]["id"] == eid
    assert sb.api("PATCH", f"{entity}/{eid}", json={"name": "Новое"}).status_code == 200
    assert sb.api("GET", f"{entity}/{eid}").json()["name"] == "Новое"
    assert sb.api("PATCH", entity, json=[{"id": eid, "name": "Третье"}]).status_code == 200


def test_creating_a_lead_with_embedded_contacts_links_them(sb):
    (cid,) = create(sb, "contacts", [{"name": "C"}])
    (company,) = create(sb, "companies", [{"name": "Co"}])
    (lead_id,) = create(
        sb, "leads", [{"name": "L", "_embedded": {"contacts": [{"id": cid}], "companies": [{"id": company}]}}]
    )
    company_view = sb.api("GET", f"companies/{company}", params={"with": "leads,contacts"}).json()
    assert company_view["_embedded"]["leads"][0]["id"] == lead_id
    bad = sb.api("POST", "leads", json=[{"_embedded": {"contacts": [{"id": 1}]}}])
    assert errors_of(bad)[0]["errors"][0]["path"] == "_embedded.contacts.0.id"
