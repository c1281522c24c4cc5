"""Small answer details amoCRM has: list links with ``page``/``limit``, the contact create answer, catalog
elements' ``is_deleted``."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from tests.fixtures.samples import sample
from tests.sandbox.helpers import create


def query_of(link):
    return urlsplit(link["href"]).query


def get_url(sb, url):
    return sb.http.get(url, headers={"Authorization": f"Bearer {sb.token()}"}, timeout=10)


def test_a_list_self_link_repeats_page_and_limit_in_the_recorded_order(sb):
    create(sb, "leads", [{"name": "Продать стул"}])
    recorded = json.loads(sample("api-01-leads-list.json"))["_links"]["self"]
    body = get_url(sb, sb.url + "/api/v4/leads?page=1&limit=20").json()
    assert query_of(body["_links"]["self"]) == query_of(recorded) == "page=1&limit=20"
    assert body["_links"]["self"]["href"] == sb.url + "/api/v4/leads?page=1&limit=20"


def test_a_limit_only_request_gets_limit_then_page_as_in_the_reference(sb):
    create(sb, "leads", [{"name": f"L{i}"} for i in range(5)])
    first = get_url(sb, sb.url + "/api/v4/leads?limit=2").json()["_links"]
    assert first["self"]["href"] == sb.url + "/api/v4/leads?limit=2&page=1"
    assert first["next"]["href"] == sb.url + "/api/v4/leads?limit=2&page=2"
    assert "prev" not in first
    second = get_url(sb, first["next"]["href"]).json()["_links"]
    assert query_of(second["self"]) == "limit=2&page=2"
    assert query_of(second["prev"]) == "limit=2&page=1" and query_of(second["next"]) == "limit=2&page=3"
    last = get_url(sb, second["next"]["href"]).json()
    assert query_of(last["_links"]["self"]) == "limit=2&page=3" and "next" not in last["_links"]
    assert [x["name"] for x in last["_embedded"]["leads"]] == ["L4"]


def test_a_bare_list_request_gets_page_and_limit_appended(sb):
    create(sb, "contacts", [{"name": "A"}])
    body = sb.api("GET", "contacts").json()
    assert query_of(body["_links"]["self"]) == "page=1&limit=50"
    with_ = get_url(sb, sb.url + "/api/v4/contacts?with=leads&page=1").json()
    assert query_of(with_["_links"]["self"]) == "with=leads&page=1&limit=50"


def test_links_lists_carry_page_and_limit_and_the_total(sb):
    (lead_id,) = create(sb, "leads", [{"name": "L"}])
    (cid,) = create(sb, "contacts", [{"name": "C"}])
    sb.api("POST", f"leads/{lead_id}/link", json=[{"to_entity_id": cid, "to_entity_type": "contacts"}])
    body = sb.api("GET", f"leads/{lead_id}/links").json()
    assert set(body) == {"_total_items", "_links", "_embedded"} and body["_total_items"] == 1
    assert body["_links"]["self"]["href"] == f"{sb.url}/api/v4/leads/{lead_id}/links?page=1&limit=50"


def test_a_contact_create_answer_carries_is_deleted_and_is_unsorted(sb):
    resp = sb.api("POST", "contacts", json=[{"name": "Ольга", "request_id": "c1"}, {"name": "Пётр"}])
    rows = resp.json()["_embedded"]["contacts"]
    recorded = json.loads(sample("api-11-post-leads.json"))["_embedded"]["leads"][0]
    for row, rid in zip(rows, ("c1", "1"), strict=True):
        assert list(row) == ["id", "is_deleted", "is_unsorted", "request_id", "_links"]
        assert set(row) == set(recorded) | {"is_deleted", "is_unsorted"}
        assert row["is_deleted"] is False and row["is_unsorted"] is False and row["request_id"] == rid
    company = sb.api("POST", "companies", json=[{"name": "ООО"}]).json()["_embedded"]["companies"][0]
    assert set(company) == set(recorded)


def test_catalog_elements_have_a_null_is_deleted(sb):
    catalog = sb.api("GET", "catalogs").json()["_embedded"]["catalogs"][0]
    path = f"catalogs/{catalog['id']}/elements"
    seeded = sb.api("GET", path).json()["_embedded"]["elements"]
    assert seeded and all(e["is_deleted"] is None for e in seeded)
    made = sb.api("POST", path, json=[{"name": "Скатерть"}]).json()["_embedded"]["elements"][0]
    assert made["is_deleted"] is None
    assert sb.api("GET", f"{path}/{made['id']}").json()["is_deleted"] is None
    patched = sb.api("PATCH", path, json=[{"id": made["id"], "name": "Скатерть белая"}]).json()
    assert patched["_embedded"]["elements"][0]["is_deleted"] is None
    found = sb.api("GET", path, params={"query": "Скатерть"}).json()["_embedded"]["elements"]
    assert [e["id"] for e in found] == [made["id"]]
