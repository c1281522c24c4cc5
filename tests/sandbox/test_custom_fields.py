"""Custom field definitions (select, numeric, textarea) and the ``custom_fields_values`` rules of writes."""

from __future__ import annotations

import pytest

from tests.sandbox.helpers import create, errors_of

TOO_FEW = {
    "code": "TooFew",
    "path": "custom_fields_values",
    "detail": "This collection should contain 1 element or more.",
}


def products_catalog(sb):
    return sb.api("GET", "catalogs").json()["_embedded"]["catalogs"][0]["id"]


@pytest.mark.parametrize("entity", ["leads", "contacts", "companies"])
def test_an_empty_custom_fields_values_list_is_too_few_on_add_and_update(sb, entity):
    resp = sb.api("POST", entity, json=[{"name": "a"}, {"name": "b", "custom_fields_values": []}])
    assert errors_of(resp) == [{"request_id": "1", "errors": [TOO_FEW]}]
    (eid,) = create(sb, entity, [{"name": "c"}])
    resp = sb.api("PATCH", entity, json=[{"id": eid, "custom_fields_values": [], "request_id": "r"}])
    assert errors_of(resp) == [{"request_id": "r", "errors": [TOO_FEW]}]
    assert errors_of(sb.api("PATCH", f"{entity}/{eid}", json={"custom_fields_values": []})) == [
        {"request_id": "0", "errors": [TOO_FEW]}
    ]
    assert sb.stats()[entity] == 1


@pytest.mark.parametrize("entity", ["leads", "contacts", "companies"])
def test_null_or_no_custom_fields_values_stay_accepted(sb, entity):
    (eid,) = create(sb, entity, [{"name": "a", "custom_fields_values": None}])
    assert sb.api("PATCH", f"{entity}/{eid}", json={"custom_fields_values": None}).status_code == 200
    assert sb.api("PATCH", entity, json=[{"id": eid, "name": "b"}]).status_code == 200
    assert sb.api("GET", f"{entity}/{eid}").json()["custom_fields_values"] is None


def test_an_empty_list_is_too_few_for_catalog_elements(sb):
    path = f"catalogs/{products_catalog(sb)}/elements"
    assert errors_of(sb.api("POST", path, json=[{"name": "Стол", "custom_fields_values": []}])) == [
        {"request_id": "0", "errors": [TOO_FEW]}
    ]
    (element,) = sb.api("POST", path, json=[{"name": "Стол", "custom_fields_values": None}]).json()[
        "_embedded"
    ]["elements"]
    resp = sb.api("PATCH", path, json=[{"id": element["id"], "custom_fields_values": []}])
    assert errors_of(resp) == [{"request_id": "0", "errors": [TOO_FEW]}]


def test_an_empty_list_is_too_few_in_complex_leads_and_their_contacts_and_companies(sb):
    before = sb.stats()
    on_lead = sb.api("POST", "leads/complex", json=[{"name": "x", "custom_fields_values": []}])
    assert errors_of(on_lead) == [{"request_id": "0", "errors": [TOO_FEW]}]
    for kind, part in (("contacts", {"first_name": "Ира"}), ("companies", {"name": "ООО"})):
        item = {"name": "x", "_embedded": {kind: [dict(part, custom_fields_values=[])]}}
        (group,) = errors_of(sb.api("POST", "leads/complex", json=[item]))
        assert group["errors"] == [dict(TOO_FEW, path=f"_embedded.{kind}.0.custom_fields_values")]
    assert sb.stats() == before


def test_the_control_api_refuses_an_empty_list_too(sb):
    resp = sb.http.post(f"{sb.url}/_sandbox/leads", json={"name": "x", "custom_fields_values": []})
    assert errors_of(resp) == [{"request_id": "0", "errors": [TOO_FEW]}]


def make_fields(sb):
    spec = [
        {
            "name": "Зал",
            "type": "select",
            "enums": [{"value": "Малый", "sort": 10}, {"value": "Большой", "sort": 20}],
        },
        {"name": "Гостей", "type": "numeric"},
        {"name": "Пожелания", "type": "textarea"},
    ]
    resp = sb.api("POST", "leads/custom_fields", json=spec)
    assert resp.status_code == 200, resp.text
    return resp.json()["_embedded"]["custom_fields"]


def test_select_numeric_and_textarea_fields_can_be_created_with_enum_ids(sb):
    select, numeric, textarea = make_fields(sb)
    assert [f["type"] for f in (select, numeric, textarea)] == ["select", "numeric", "textarea"]
    assert [(e["value"], e["sort"]) for e in select["enums"]] == [("Малый", 10), ("Большой", 20)]
    assert all(isinstance(e["id"], int) for e in select["enums"])
    assert numeric["enums"] is None and textarea["enums"] is None
    assert [f["request_id"] for f in (select, numeric, textarea)] == ["0", "1", "2"]
    listed = sb.api("GET", f"leads/custom_fields/{select['id']}").json()
    assert listed["enums"] == select["enums"] and listed["entity_type"] == "leads"


def test_select_values_are_set_by_enum_id_or_value_and_read_back_with_both(sb):
    select, numeric, textarea = make_fields(sb)
    small, big = select["enums"]
    cfv = [
        {"field_id": select["id"], "values": [{"enum_id": big["id"]}]},
        {"field_id": numeric["id"], "values": [{"value": 120}]},
        {"field_id": textarea["id"], "values": [{"value": "Без орехов\nСцена у окна"}]},
    ]
    (lead_id,) = create(sb, "leads", [{"name": "Банкет", "custom_fields_values": cfv}])
    got = {v["field_id"]: v for v in sb.api("GET", f"leads/{lead_id}").json()["custom_fields_values"]}
    assert got[select["id"]]["field_type"] == "select"
    assert got[select["id"]]["values"] == [{"value": "Большой", "enum_id": big["id"], "enum_code": None}]
    assert got[numeric["id"]]["values"] == [{"value": 120}]
    assert got[textarea["id"]]["values"] == [{"value": "Без орехов\nСцена у окна"}]
    by_value = [{"field_id": select["id"], "values": [{"value": "Малый"}]}]
    assert sb.api("PATCH", f"leads/{lead_id}", json={"custom_fields_values": by_value}).status_code == 200
    got = {v["field_id"]: v for v in sb.api("GET", f"leads/{lead_id}").json()["custom_fields_values"]}
    assert got[select["id"]]["values"] == [{"value": "Малый", "enum_id": small["id"], "enum_code": None}]
    assert got[numeric["id"]]["values"] == [{"value": 120}]


def test_an_enum_id_wins_over_a_value_and_unknown_enums_are_refused(sb):
    select, _, _ = make_fields(sb)
    small, big = select["enums"]
    cfv = [{"field_id": select["id"], "values": [{"enum_id": big["id"], "value": "Малый"}]}]
    (lead_id,) = create(sb, "leads", [{"custom_fields_values": cfv}])
    (field,) = sb.api("GET", f"leads/{lead_id}").json()["custom_fields_values"]
    assert field["values"][0]["enum_id"] == big["id"]
    for value, path in (({"enum_id": 1}, "enum_id"), ({"value": "Нет такого"}, "value")):
        bad = [{"field_id": select["id"], "values": [value]}]
        (group,) = errors_of(sb.api("POST", "leads", json=[{"custom_fields_values": bad}]))
        assert group["errors"][0]["path"] == f"custom_fields_values.0.values.0.{path}"


def test_malformed_enums_are_validation_errors(sb):
    spec = [
        {
            "name": "Зал",
            "type": "select",
            "enums": [{"value": "Малый"}, {"sort": 2}, {"value": "x", "sort": "a"}],
        }
    ]
    (group,) = errors_of(sb.api("POST", "leads/custom_fields", json=spec))
    assert [(e["path"], e["code"]) for e in group["errors"]] == [
        ("enums.1.value", "NotBlank"),
        ("enums.2.sort", "InvalidType"),
    ]
    (group,) = errors_of(sb.api("POST", "leads/custom_fields", json=[{"name": "Зал", "type": "select"}]))
    assert group["errors"][0]["path"] == "enums"
