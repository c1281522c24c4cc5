"""Which events the sandbox's actions fire for leads, contacts and companies, and the items they carry."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest

from tests.fixtures.samples import sample
from tests.sandbox.helpers import create

GROUP = {"leads": "leads", "contacts": "contacts", "companies": "contacts"}
SINGULAR = {"leads": "lead", "contacts": "contact", "companies": "company"}


def subscribe(sb, url, *events):
    resp = sb.api("POST", "webhooks", json={"destination": url, "settings": list(events)})
    assert resp.status_code == 200, resp.text


def item_keys(raw):
    """The field names of item 0 in a body, in order, without custom fields, tags and the account."""
    names = [re.sub(r"^\w+\[\w+\]\[0\]", "", k) for k, _ in parse_qsl(raw) if not k.startswith("account")]
    return [n for n in names if not n.startswith(("[custom_fields]", "[tags]"))]


def in_order(recorded, got):
    """True when every recorded key is in ``got``, in the recorded order."""
    rest = iter(got)
    return all(key in rest for key in recorded)


def add_note(sb, entity, eid, text="Перезвонить в пятницу"):
    item = {"entity_id": eid, "note_type": "common", "params": {"text": text}}
    resp = sb.api("POST", f"{entity}/notes", json=[item])
    assert resp.status_code == 200, resp.text
    return resp.json()["_embedded"]["notes"][0]["id"]


def test_a_lead_note_carries_the_lead_in_element_id_and_no_item_id(sb, receiver):
    subscribe(sb, receiver.url, "note_lead")
    (lead_id,) = create(sb, "leads", [{"name": "Свадьба"}])
    note_id = add_note(sb, "leads", lead_id)
    (hit,) = receiver.wait_for(1)
    form = hit["form"]
    note = sb.api("GET", f"leads/notes/{note_id}").json()
    p = "leads[note][0][note]"
    got = {k[len(p) + 1 : -1]: v for k, v in form.items() if k.startswith(p)}
    expected = {
        "element_id": str(lead_id),
        "element_type": "2",
        "note_type": "4",
        "text": "Перезвонить в пятницу",
        "id": str(note_id),
        "created_at": str(note["created_at"]),
        "updated_at": str(note["updated_at"]),
        "created_by": "100001",
        "main_user_id": "100001",
        "account_id": "31000001",
    }
    assert expected.items() <= got.items()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", got["date_create"])
    assert all(k.startswith(p) for k in form if k.startswith("leads[note][0]"))
    assert form["account[subdomain]"] == "demo"


@pytest.mark.parametrize(("entity", "element_type"), [("contacts", "1"), ("companies", "3")])
def test_contact_and_company_notes_arrive_under_contacts(sb, receiver, entity, element_type):
    subscribe(sb, receiver.url, f"note_{SINGULAR[entity]}")
    (eid,) = create(sb, entity, [{"name": "x"}])
    add_note(sb, entity, eid, "Прислать КП")
    (hit,) = receiver.wait_for(1)
    p = "contacts[note][0][note]"
    assert hit["form"][f"{p}[element_id]"] == str(eid)
    assert hit["form"][f"{p}[element_type]"] == element_type
    assert hit["form"][f"{p}[text]"] == "Прислать КП"


def lead_fields(sb):
    fields = sb.api("GET", "leads/custom_fields").json()["_embedded"]["custom_fields"]
    by_type = {f["type"]: f for f in fields}
    return by_type["text"], by_type["select"]


@pytest.mark.parametrize("by", ["api", "manager"])
def test_changed_custom_fields_fire_update_lead_with_the_v2_custom_fields(sb, receiver, by):
    text, select = lead_fields(sb)
    (lead_id,) = create(sb, "leads", [{"name": "Банкет"}])
    subscribe(sb, receiver.url, "update_lead")
    enum = select["enums"][1]
    cfv = [
        {"field_id": text["id"], "values": [{"value": "Заказ 42"}]},
        {
            "field_id": select["id"],
            "values": [{"enum_id": enum["id"]} if by == "api" else {"value": enum["value"]}],
        },
    ]
    if by == "api":
        assert (
            sb.api("PATCH", "leads", json=[{"id": lead_id, "custom_fields_values": cfv}]).status_code == 200
        )
    else:
        sb.control("POST", f"leads/{lead_id}/edit", {"custom_fields_values": cfv})
    (hit,) = receiver.wait_for(1)
    form, cf = hit["form"], "leads[update][0][custom_fields]"
    at = {form[f"{cf}[{i}][id]"]: f"{cf}[{i}]" for i in range(2)}
    t, s = at[str(text["id"])], at[str(select["id"])]
    assert (form[f"{t}[name]"], form[f"{t}[values][0][value]"]) == (text["name"], "Заказ 42")
    assert f"{t}[values][0][enum]" not in form
    assert (form[f"{s}[name]"], form[f"{s}[values][0][value]"]) == (select["name"], enum["value"])
    assert form[f"{s}[values][0][enum]"] == str(enum["id"])
    assert form["leads[update][0][modified_user_id]"] == ("100001" if by == "api" else "100002")
    assert {k for k, _ in parse_qsl(sample("webhook-21-update_lead-custom_fields.txt"))} <= set(form)


@pytest.mark.parametrize("entity", ["leads", "contacts", "companies"])
def test_delete_and_restore_fire_their_events(sb, receiver, entity):
    single, group = SINGULAR[entity], GROUP[entity]
    subscribe(sb, receiver.url, f"delete_{single}", f"restore_{single}")
    (eid,) = create(sb, entity, [{"name": "В корзину"}])
    assert sb.control("POST", f"{entity}/{eid}/delete")["ok"] is True
    assert sb.api("GET", f"{entity}/{eid}").status_code == 204
    assert sb.control("POST", f"{entity}/{eid}/restore")["ok"] is True
    assert sb.api("GET", f"{entity}/{eid}").json()["is_deleted"] is False
    deleted, restored = receiver.wait_for(2)
    gone = deleted["form"]
    assert gone[f"{group}[delete][0][id]"] == str(eid)
    if entity == "leads":
        assert {f"{group}[delete][0][status_id]", f"{group}[delete][0][pipeline_id]"} <= set(gone)
    else:
        assert gone[f"{group}[delete][0][type]"] == single
    back = restored["form"]
    assert back[f"{group}[restore][0][id]"] == str(eid)
    assert back[f"{group}[restore][0][name]"] == "В корзину"
    assert back[f"{group}[restore][0][modified_user_id]"] == "100002"


def test_delete_and_restore_refuse_what_is_not_there(sb):
    (cid,) = create(sb, "contacts", [{"name": "x"}])
    assert sb.http.post(f"{sb.url}/_sandbox/contacts/{cid}/restore").status_code == 404
    sb.control("POST", f"contacts/{cid}/delete")
    assert sb.http.post(f"{sb.url}/_sandbox/contacts/{cid}/delete").status_code == 404
    assert sb.http.post(f"{sb.url}/_sandbox/companies/999/delete").status_code == 404
    listed = sb.api("GET", "contacts", params={"with": "only_deleted"}).json()["_embedded"]["contacts"]
    assert [c["id"] for c in listed] == [cid]


def test_a_restored_contact_carries_the_recorded_keys_in_order(sb, receiver):
    subscribe(sb, receiver.url, "restore_contact")
    (cid,) = create(sb, "contacts", [{"name": "Some name"}])
    sb.control("POST", f"contacts/{cid}/delete")
    sb.control("POST", f"contacts/{cid}/restore")
    (hit,) = receiver.wait_for(1)
    assert in_order(item_keys(sample("webhook-24-restore_contact.txt")), item_keys(hit["raw"]))


@pytest.mark.parametrize(
    ("entity", "name"),
    [
        ("leads", "webhook-19-add_lead-custom_fields.txt"),
        ("contacts", "webhook-23-add_contact.txt"),
        ("companies", "webhook-18-add_company.txt"),
    ],
)
def test_add_bodies_list_the_recorded_keys_in_the_recorded_order(sb, receiver, entity, name):
    subscribe(sb, receiver.url, f"add_{SINGULAR[entity]}")
    create(sb, entity, [{"name": "qaz"}])
    (hit,) = receiver.wait_for(1)
    assert in_order(item_keys(sample(name)), item_keys(hit["raw"]))


@pytest.mark.parametrize("entity", ["contacts", "companies"])
def test_a_new_responsible_user_fires_responsible_for_contacts_and_companies(sb, receiver, entity):
    single = SINGULAR[entity]
    subscribe(sb, receiver.url, f"responsible_{single}", f"update_{single}")
    (eid,) = create(sb, entity, [{"name": "x"}])
    sb.api("PATCH", f"{entity}/{eid}", json={"responsible_user_id": 100002})
    hits = receiver.wait_for(2)
    forms = {next(iter(h["form"])).split("[0]")[0]: h["form"] for h in hits}
    moved = forms["contacts[responsible]"]
    assert moved["contacts[responsible][0][responsible_user_id]"] == "100002"
    assert moved["contacts[responsible][0][old_responsible_user_id]"] == "100001"
    assert moved["contacts[responsible][0][type]"] == single
    assert forms["contacts[update]"]["contacts[update][0][id]"] == str(eid)


@pytest.mark.parametrize("entity", ["contacts", "companies"])
def test_contact_and_company_adds_and_updates_fire(sb, receiver, entity):
    single = SINGULAR[entity]
    subscribe(sb, receiver.url, f"add_{single}", f"update_{single}")
    made = sb.control("POST", entity, {"name": "Из amoCRM"})
    sb.control("POST", f"{entity}/{made['id']}/edit", {"name": "Из amoCRM 2"})
    added, updated = receiver.wait_for(2)
    assert added["form"]["contacts[add][0][type]"] == single
    assert updated["form"]["contacts[update][0][name]"] == "Из amoCRM 2"
