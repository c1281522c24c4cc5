"""Links (per entity and mass), catalogs and elements, notes."""

from __future__ import annotations

from tests.sandbox.helpers import create, errors_of


def products(sb):
    catalogs = sb.api("GET", "catalogs").json()["_embedded"]["catalogs"]
    catalog = next(c for c in catalogs if c["type"] == "products")
    elements = sb.api("GET", f"catalogs/{catalog['id']}/elements").json()["_embedded"]["elements"]
    fields = sb.api("GET", f"catalogs/{catalog['id']}/custom_fields").json()["_embedded"]["custom_fields"]
    return catalog, elements, {f["code"]: f for f in fields}


def test_the_products_catalog_is_seeded_with_sku_and_price(sb):
    catalog, elements, fields = products(sb)
    assert catalog["name"] and catalog["type"] == "products"
    assert {"SKU", "PRICE"} <= set(fields) and fields["PRICE"]["type"] == "price"
    element = elements[0]
    assert {
        "id",
        "name",
        "catalog_id",
        "created_at",
        "updated_at",
        "is_deleted",
        "custom_fields_values",
    } <= set(element)
    codes = {cf["field_code"] for cf in element["custom_fields_values"]}
    assert codes == {"SKU", "PRICE"}


def test_elements_can_be_created_searched_and_patched(sb):
    catalog, _, fields = products(sb)
    path = f"catalogs/{catalog['id']}/elements"
    cfv = [
        {"field_code": "SKU", "values": [{"value": "SOFA-2"}]},
        {"field_code": "PRICE", "values": [{"value": 1500}]},
    ]
    resp = sb.api("POST", path, json=[{"name": "Диван", "custom_fields_values": cfv}])
    element = resp.json()["_embedded"]["elements"][0]
    assert element["request_id"] == "0"
    found = sb.api("GET", path, params={"query": "SOFA-2"}).json()["_embedded"]["elements"]
    assert [e["id"] for e in found] == [element["id"]]
    sb.api("PATCH", path, json=[{"id": element["id"], "name": "Диван 2"}])
    assert sb.api("GET", f"{path}/{element['id']}").json()["name"] == "Диван 2"
    assert sb.api("GET", "catalogs/1/elements").status_code == 404
    made = sb.api("POST", "catalogs", json=[{"name": "Склады"}]).json()["_embedded"]["catalogs"][0]
    assert made["type"] == "regular"


def test_linking_a_contact_and_a_product_to_a_lead(sb):
    catalog, elements, fields = products(sb)
    (lead_id,) = create(sb, "leads", [{"name": "L"}])
    c1, c2 = create(sb, "contacts", [{"name": "A"}, {"name": "B"}])
    items = [
        {"to_entity_id": c1, "to_entity_type": "contacts"},
        {"to_entity_id": c2, "to_entity_type": "contacts", "metadata": {"is_main": True}},
        {
            "to_entity_id": elements[0]["id"],
            "to_entity_type": "catalog_elements",
            "metadata": {"quantity": 3, "catalog_id": catalog["id"], "price_id": fields["PRICE"]["id"]},
        },
    ]
    resp = sb.api("POST", f"leads/{lead_id}/link", json=items)
    assert resp.status_code == 200
    body = resp.json()
    assert body["_total_items"] == 3
    assert set(body["_embedded"]["links"][0]) == {
        "entity_id",
        "entity_type",
        "to_entity_id",
        "to_entity_type",
        "metadata",
    }
    listed = sb.api("GET", f"leads/{lead_id}/links").json()["_embedded"]["links"]
    by_id = {x["to_entity_id"]: x for x in listed}
    assert by_id[c1]["metadata"] == {"main_contact": False}
    assert by_id[c2]["metadata"] == {"main_contact": True}
    assert by_id[elements[0]["id"]]["metadata"] == {
        "quantity": 3,
        "catalog_id": catalog["id"],
        "price_id": fields["PRICE"]["id"],
    }
    with_elements = sb.api("GET", f"leads/{lead_id}", params={"with": "catalog_elements,contacts"}).json()[
        "_embedded"
    ]
    assert with_elements["catalog_elements"][0]["metadata"]["quantity"] == 3
    filtered = sb.api(
        "GET", f"leads/{lead_id}/links", params={"filter[to_entity_type]": "catalog_elements"}
    ).json()
    assert filtered["_total_items"] == 1
    unlink = sb.api(
        "POST", f"leads/{lead_id}/unlink", json=[{"to_entity_id": c1, "to_entity_type": "contacts"}]
    )
    assert unlink.status_code == 204 and unlink.content == b""
    assert sb.api("GET", f"leads/{lead_id}/links").json()["_total_items"] == 2


def test_link_validation_errors(sb):
    (lead_id,) = create(sb, "leads", [{"name": "L"}])
    bad = [
        {"to_entity_id": 1, "to_entity_type": "contacts"},
        {"to_entity_id": 1, "to_entity_type": "planets"},
        {
            "to_entity_id": 8100001,
            "to_entity_type": "catalog_elements",
            "metadata": {"catalog_id": 8000001, "price_id": 1},
        },
    ]
    groups = errors_of(sb.api("POST", f"leads/{lead_id}/link", json=bad))
    assert [g["errors"][0]["path"] for g in groups] == ["to_entity_id", "to_entity_type", "metadata.price_id"]


def test_mass_link_and_unlink(sb):
    a, b = create(sb, "leads", [{"name": "a"}, {"name": "b"}])
    (cid,) = create(sb, "contacts", [{"name": "C"}])
    items = [
        {
            "entity_id": a,
            "entity_type": "leads",
            "to_entity_id": cid,
            "to_entity_type": "contacts",
            "metadata": {"is_main": True},
        },
        {"entity_id": b, "entity_type": "leads", "to_entity_id": cid, "to_entity_type": "contacts"},
    ]
    assert sb.api("POST", "leads/link", json=items).status_code == 200
    listed = sb.api("GET", "leads/links", params={"filter[entity_id][]": [a, b]}).json()["_embedded"]["links"]
    assert {(x["entity_id"], x["to_entity_id"]) for x in listed} == {(a, cid), (b, cid)}
    contact_links = sb.api("GET", f"contacts/{cid}/links").json()["_embedded"]["links"]
    assert {x["to_entity_id"] for x in contact_links} == {a, b}
    assert sb.api("POST", "leads/unlink", json=items).status_code == 204
    assert sb.api("GET", f"leads/{a}/links").status_code == 204


def test_notes_are_created_and_listed(sb):
    (lead_id,) = create(sb, "leads", [{"name": "L"}])
    resp = sb.api(
        "POST",
        "leads/notes",
        json=[
            {
                "entity_id": lead_id,
                "note_type": "common",
                "params": {"text": "Перезвонить"},
                "request_id": "n1",
            }
        ],
    )
    row = resp.json()["_embedded"]["notes"][0]
    assert set(row) == {"id", "entity_id", "request_id", "_links"} and row["request_id"] == "n1"
    sb.api(
        "POST",
        f"leads/{lead_id}/notes",
        json=[{"note_type": "service_message", "params": {"service": "Консоль", "text": "x"}}],
    )
    notes = sb.api("GET", f"leads/{lead_id}/notes").json()["_embedded"]["notes"]
    assert [n["note_type"] for n in notes] == ["common", "service_message"]
    keys = {
        "id",
        "entity_id",
        "created_by",
        "updated_by",
        "created_at",
        "updated_at",
        "responsible_user_id",
        "group_id",
        "note_type",
        "params",
        "account_id",
        "_links",
    }
    assert set(notes[0]) == keys and notes[0]["params"] == {"text": "Перезвонить"}
    assert sb.api("GET", f"leads/notes/{row['id']}").json()["entity_id"] == lead_id
    assert (
        sb.api("GET", "leads/notes", params={"filter[note_type]": "common"}).json()["_embedded"]["notes"][0][
            "id"
        ]
        == row["id"]
    )
    assert sb.api("GET", "contacts/notes").status_code == 204
    groups = errors_of(
        sb.api("POST", "leads/notes", json=[{"entity_id": 1, "note_type": "bogus", "params": {}}])
    )
    assert [e["path"] for e in groups[0]["errors"]] == ["entity_id", "note_type"]


def test_catalogs_can_be_renamed(sb):
    catalog, _, _ = products(sb)
    resp = sb.api("PATCH", "catalogs", json=[{"id": catalog["id"], "name": "Мебель"}])
    assert resp.json()["_embedded"]["catalogs"][0]["name"] == "Мебель"
    assert (
        errors_of(sb.api("PATCH", "catalogs", json=[{"id": 1, "name": "x"}]))[0]["errors"][0]["path"] == "id"
    )
