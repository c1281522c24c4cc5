"""Loss reasons: the read-only list and item, ``loss_reason_id`` on leads (refused off status 143, the
stricter choice), ``with=loss_reason`` and the manager's close-lost with a reason."""

from __future__ import annotations

from tests.sandbox.helpers import create, errors_of, main_pipeline

LOST = 143


def reasons(sb):
    resp = sb.api("GET", "leads/loss_reasons")
    assert resp.status_code == 200, resp.text
    return resp.json()["_embedded"]["loss_reasons"]


def test_the_seeded_reasons_are_listed_in_sort_order_with_links(sb):
    items = reasons(sb)
    assert [r["name"] for r in items][:2] == ["Дорого", "Нет нужной мебели на дату"]
    assert [r["sort"] for r in items] == sorted(r["sort"] for r in items)
    assert set(items[0]) == {"id", "name", "sort", "created_at", "updated_at", "_links"}
    one = sb.api("GET", f"leads/loss_reasons/{items[0]['id']}")
    assert one.status_code == 200 and one.json()["name"] == "Дорого"
    assert one.json()["_links"]["self"]["href"].endswith(f"/api/v4/leads/loss_reasons/{items[0]['id']}")


def test_an_unknown_reason_is_a_404_problem(sb):
    resp = sb.api("GET", "leads/loss_reasons/1")
    assert resp.status_code == 404 and resp.json()["detail"] == "Loss reason not found"


def test_closing_lost_with_a_reason_in_the_same_patch_and_reading_it_back(sb):
    reason = reasons(sb)[1]
    (lead_id,) = create(sb, "leads", [{"name": "Свадьба"}])
    pipe = main_pipeline(sb)
    patch = [{"id": lead_id, "pipeline_id": pipe["id"], "status_id": LOST, "loss_reason_id": reason["id"]}]
    assert sb.api("PATCH", "leads", json=patch).status_code == 200
    lead = sb.api("GET", f"leads/{lead_id}", params={"with": "loss_reason"}).json()
    assert lead["loss_reason_id"] == reason["id"] and lead["closed_at"]
    assert [r["name"] for r in lead["_embedded"]["loss_reason"]] == [reason["name"]]
    plain = sb.api("GET", f"leads/{lead_id}").json()
    assert "loss_reason" not in plain["_embedded"]


def test_a_reason_off_status_143_or_unknown_is_refused(sb):
    reason = reasons(sb)[0]
    (lead_id,) = create(sb, "leads", [{"name": "Открытая"}])
    resp = sb.api("PATCH", "leads", json=[{"id": lead_id, "loss_reason_id": reason["id"]}])
    assert errors_of(resp)[0]["errors"][0]["path"] == "loss_reason_id"
    resp = sb.api("PATCH", "leads", json=[{"id": lead_id, "status_id": LOST, "loss_reason_id": 5}])
    assert errors_of(resp)[0]["errors"][0]["code"] == "NotSupportedChoice"
    resp = sb.api("PATCH", "leads", json=[{"id": lead_id, "status_id": LOST, "loss_reason_id": "x"}])
    assert errors_of(resp)[0]["errors"][0]["code"] == "InvalidType"
    assert sb.api("GET", f"leads/{lead_id}").json()["loss_reason_id"] is None


def test_reopening_a_lost_lead_drops_its_reason(sb):
    reason = reasons(sb)[0]
    (lead_id,) = create(sb, "leads", [{"name": "Вернулись"}])
    sb.move_lead(lead_id, LOST, loss_reason_id=reason["id"])
    assert sb.api("GET", f"leads/{lead_id}").json()["loss_reason_id"] == reason["id"]
    open_stage = next(s["id"] for s in main_pipeline(sb)["_embedded"]["statuses"] if s["type"] == 0)
    sb.move_lead(lead_id, open_stage)
    assert sb.api("GET", f"leads/{lead_id}").json()["loss_reason_id"] is None
