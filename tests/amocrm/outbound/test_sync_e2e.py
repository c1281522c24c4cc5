"""End to end: orders written through /api/v1/orders/ become amoCRM deals in the sandbox (sync mode)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.models import CustomerAmoLink, OrderSync, SyncLog
from console.amocrm.outbound import controls, payloads, queueing
from console.orders.models import Order
from tests.fixtures.sync import (
    calls,
    cf,
    clear,
    committed,
    entities,
    lead_of,
    links_of,
    notes_of,
    patch_order,
    post_order,
    products_of,
    stage,
    state,
)


def element_ids(order: Order) -> dict[int, int]:
    from console.amocrm.models import CatalogElementLink

    ids = {c.sku: c.element_id for c in CatalogElementLink.objects.all()}
    return {ids[i.product.sku]: i.quantity for i in order.items.select_related("product")}


# --- creation ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_storefront_order_becomes_a_lead_with_contact_products_price_fields_note_and_stage(
    amo: Any, api_client: Any, order_payload: Callable[..., dict]
) -> None:
    order = post_order(api_client, order_payload())

    sync_row = state(order)
    assert sync_row.state == OrderSync.State.SYNCED
    lead = lead_of(amo, order)
    assert lead["name"] == f"Заказ {order.number} — Анна Смирнова"
    assert lead["price"] == payloads.whole_roubles(order.total_amount)
    assert (lead["pipeline_id"], lead["status_id"]) == stage("new")
    field_ids = amo_field_ids()
    assert cf(lead, field_ids["order_number"]) == order.number
    assert cf(lead, field_ids["source"]) == "сайт"
    assert cf(lead, field_ids["delivery_address"]) == "Москва, ул. Тверская, д. 1"
    assert cf(lead, field_ids["installation_date"]) == payloads.date_to_unix(order.installation_date)
    contacts = lead["_embedded"]["contacts"]
    assert [c["id"] for c in contacts] == [sync_row.contact_id]
    assert products_of(amo, lead["id"]) == element_ids(order)
    notes = notes_of(amo, lead["id"])
    assert len(notes) == 1 and "Источник: сайт" in notes[0] and "Test chair" in notes[0]
    log = SyncLog.objects.get(order=order)
    assert (log.outcome, log.action, log.trigger, log.event) == ("ok", "create", "storefront", "created")
    assert log.http_calls >= 3 and log.lead_id == lead["id"]


def amo_field_ids() -> dict[str, int]:
    from console.amocrm.models import AmoConnection

    return {k: int(v) for k, v in AmoConnection.get_solo().lead_field_ids.items()}


@pytest.mark.django_db
def test_a_business_customer_gets_a_company_linked_to_the_contact_and_the_lead(
    amo: Any, api_client: Any, order_payload: Callable[..., dict]
) -> None:
    customer = {
        "customer_type": "business",
        "first_name": "Олег",
        "last_name": "Кузнецов",
        "phone": "+7 916 000-11-22",
        "company": {"name": "ООО Праздник", "inn": "7707083893"},
    }
    order = post_order(api_client, order_payload(customer=customer))

    sync_row = state(order)
    assert sync_row.company_id and sync_row.contact_id
    lead_links = links_of(amo, sync_row.lead_id)
    assert {"companies", "contacts"} <= {link["to_entity_type"] for link in lead_links}
    contact_links = amo.api("GET", f"contacts/{sync_row.contact_id}/links").json()["_embedded"]["links"]
    assert any(link["to_entity_id"] == sync_row.company_id for link in contact_links)
    assert len(entities(amo, "companies")) == 1


@pytest.mark.django_db
def test_an_existing_company_is_found_by_inn_instead_of_created(
    amo: Any, api_client: Any, order_payload: Callable[..., dict]
) -> None:
    field = {"name": "ИНН", "type": "text"}
    created = amo.api("POST", "companies/custom_fields", json=[field]).json()["_embedded"]["custom_fields"][0]
    values = [{"field_id": created["id"], "values": [{"value": "7707083893"}]}]
    existing = amo.api("POST", "companies", json=[{"name": "Праздник", "custom_fields_values": values}])
    company_id = existing.json()["_embedded"]["companies"][0]["id"]
    customer = {"customer_type": "business", "name": "Олег", "phone": "+7 916 000-11-23",
                "company": {"name": "ООО Праздник", "inn": "7707083893"}}  # fmt: skip

    order = post_order(api_client, order_payload(customer=customer))

    assert state(order).company_id == company_id
    assert len(entities(amo, "companies")) == 1


@pytest.mark.django_db
def test_a_repeat_customer_needs_no_contact_search_and_a_create_costs_three_calls(
    amo: Any, api_client: Any, order_payload: Callable[..., dict]
) -> None:
    first = post_order(api_client, order_payload())
    clear(amo)

    second = post_order(api_client, order_payload(comment="второй заказ"))

    seen = calls(amo)
    assert "GET /api/v4/contacts" not in seen
    assert sum(seen.values()) <= 5, seen
    assert state(second).contact_id == state(first).contact_id
    assert len(entities(amo, "contacts")) == 1
    assert CustomerAmoLink.objects.count() == 1


# --- updates ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_status_change_moves_the_lead_to_the_mapped_stage_with_one_call(
    amo: Any, api_client: Any, staff_client: Any, order_payload: Callable[..., dict]
) -> None:
    order = post_order(api_client, order_payload())
    clear(amo)

    patch_order(staff_client, order, {"status": "in_rent"})

    assert calls(amo) == {f"PATCH /api/v4/leads/{state(order).lead_id}": 1}
    assert (lead_of(amo, order)["status_id"]) == stage("in_rent")[1]
    assert state(order).pushed_status_id == stage("in_rent")[1]


@pytest.mark.django_db
def test_a_save_that_changes_nothing_mapped_makes_no_call(amo: Any, make_order: Callable[..., Order]) -> None:
    from console.orders.services import order_update

    with committed():
        order = make_order()
    clear(amo)

    with committed():
        order_update(order=order, data={"comment": order.comment}, origin="manager", actor="m")
    with committed():
        queueing.order_sync_request(order_id=order.pk, trigger="manager:m")

    assert calls(amo) == {}
    assert SyncLog.objects.filter(order=order).first().outcome == "noop"


@pytest.mark.django_db
def test_an_items_change_rebuilds_the_product_links_and_the_price(
    amo: Any, staff_client: Any, api_client: Any, order_payload: Callable[..., dict], products: list
) -> None:
    order = post_order(api_client, order_payload())
    items = [{"sku": products[0].sku, "quantity": 5}, {"sku": products[2].sku, "quantity": 1}]

    patch_order(staff_client, order, {"items": items})

    order.refresh_from_db()
    lead = lead_of(amo, order)
    assert products_of(amo, lead["id"]) == element_ids(order)
    assert len(products_of(amo, lead["id"])) == 2
    assert lead["price"] == payloads.whole_roubles(order.total_amount)


@pytest.mark.django_db
def test_new_dates_and_address_are_pushed_to_the_custom_fields(
    amo: Any, staff_client: Any, api_client: Any, order_payload: Callable[..., dict]
) -> None:
    order = post_order(api_client, order_payload())
    start = order.installation_date + datetime.timedelta(days=1)

    patch_order(
        staff_client, order, {"installation_date": start.isoformat(), "delivery_address": "Тула, Ленина 2"}
    )

    lead = lead_of(amo, order)
    assert cf(lead, amo_field_ids()["installation_date"]) == payloads.date_to_unix(start)
    assert cf(lead, amo_field_ids()["delivery_address"]) == "Тула, Ленина 2"


@pytest.mark.django_db
def test_cancel_moves_the_lead_to_the_lost_stage(amo: Any, make_order: Callable[..., Order]) -> None:
    from console.orders.services import order_cancel

    with committed():
        order = make_order()
    with committed():
        order_cancel(order=order, origin="manager", actor="m")

    assert lead_of(amo, order)["status_id"] == 143


@pytest.mark.django_db
def test_a_soft_delete_through_the_api_moves_the_lead_to_the_lost_stage(
    amo: Any, staff_client: Any, api_client: Any, order_payload: Callable[..., dict]
) -> None:
    order = post_order(api_client, order_payload())
    with committed():
        assert staff_client.delete(f"/api/v1/orders/{order.pk}/").status_code == 204

    assert lead_of(amo, order)["status_id"] == 143


@pytest.mark.django_db
def test_an_order_cancelled_before_its_first_sync_creates_no_lead(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    from console.orders.services import order_cancel

    order = make_order(sync_disabled=True)
    order_cancel(order=order, origin="manager", actor="m")
    with committed():
        controls.order_unskip(order_id=order.pk, trigger="manager:m")

    assert state(order).lead_id is None
    assert entities(amo, "leads") == []


# --- manager controls -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_marked_not_to_sync_starts_skipped_and_unskip_pushes_it(
    amo: Any, staff_client: Any, make_customer: Callable[..., Any], products: list
) -> None:
    payload = {
        "customer": make_customer().pk,
        "installation_date": "2031-01-10",
        "dismantle_date": "2031-01-12",
        "sync_to_crm": False,
        "items": [{"sku": products[0].sku, "quantity": 1}],
    }
    order = post_order(staff_client, payload)
    assert state(order).state == OrderSync.State.SKIPPED
    patch_order(staff_client, order, {"comment": "ещё"})
    assert calls(amo) == {} and state(order).lead_id is None

    with committed():
        controls.order_unskip(order_id=order.pk, trigger="manager:anna")

    assert state(order).state == OrderSync.State.SYNCED
    assert lead_of(amo, order)["name"].startswith(f"Заказ {order.number}")


@pytest.mark.django_db
def test_skip_stops_syncing_an_order_and_leaves_its_lead_alone(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    from console.orders.services import order_set_status

    with committed():
        order = make_order()
    controls.order_skip(order_id=order.pk, trigger="manager:anna")
    clear(amo)

    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="anna")

    assert calls(amo) == {}
    assert state(order).state == OrderSync.State.SKIPPED
    assert lead_of(amo, order)["status_id"] == stage("new")[1]


@pytest.mark.django_db
def test_unlink_forgets_the_lead_without_touching_amocrm_and_keeps_history(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order()
    lead_id = state(order).lead_id
    clear(amo)

    controls.order_unlink(order_id=order.pk, trigger="manager:anna")

    assert calls(amo) == {}
    row = state(order)
    assert (row.state, row.lead_id) == (OrderSync.State.UNLINKED, None)
    assert amo.api("GET", f"leads/{lead_id}").status_code == 200
    assert list(SyncLog.objects.filter(order=order).values_list("action", flat=True)) == ["unlink", "create"]


@pytest.mark.django_db
def test_link_to_an_existing_lead_checks_it_and_makes_it_match_the_order(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    order = make_order(sync_disabled=True)
    existing = amo.api("POST", "leads", json=[{"name": "Сделка из amoCRM", "price": 1}])
    lead_id = existing.json()["_embedded"]["leads"][0]["id"]

    with committed():
        controls.order_link_to_lead(order_id=order.pk, lead_id=lead_id, trigger="manager:anna")

    assert state(order).lead_id == lead_id
    lead = lead_of(amo, order)
    assert lead["name"].startswith(f"Заказ {order.number}")
    assert lead["price"] == payloads.whole_roubles(order.total_amount)
    assert products_of(amo, lead_id) == element_ids(order)
    assert state(order).contact_id in [c["id"] for c in lead["_embedded"]["contacts"]]
    assert len(entities(amo, "leads")) == 1


@pytest.mark.django_db
def test_link_to_a_lead_that_does_not_exist_is_refused(amo: Any, make_order: Callable[..., Order]) -> None:
    from console.amocrm.api.errors import NotFound

    order = make_order(sync_disabled=True)
    with pytest.raises(NotFound):
        controls.order_link_to_lead(order_id=order.pk, lead_id=999999, trigger="manager:anna")
    assert not OrderSync.objects.filter(order=order, lead_id__isnull=False).exists()


@pytest.mark.django_db
def test_unlinking_notes_the_old_deal_and_the_next_push_asks_new_or_relink(
    amo: Any, make_order: Callable[..., Order], django_user_model: Any
) -> None:
    django_user_model.objects.create_user("anna", first_name="Анна", last_name="Петрова")
    with committed():
        order = make_order()
    first = state(order).lead_id
    with committed():
        controls.order_unlink(order_id=order.pk, trigger="manager:anna")
    assert notes_of(amo, first)[-1].startswith(
        f"Сделка отвязана от заказа {order.number} в консоли (Анна Петрова);"
    )
    assert state(order).previous_lead_id == first

    assert controls.order_push(order_id=order.pk, trigger="manager:anna") == controls.PushResult.CHOOSE
    assert state(order).state == "unlinked"  # nothing happened yet
    with committed():
        assert controls.order_push(order_id=order.pk, trigger="m", mode="new") == controls.PushResult.QUEUED

    assert state(order).lead_id not in (None, first)
    assert len(entities(amo, "leads")) == 2


@pytest.mark.django_db
def test_an_unlinked_order_can_take_its_old_deal_back(amo: Any, make_order: Callable[..., Order]) -> None:
    with committed():
        order = make_order()
    first = state(order).lead_id
    with committed():
        controls.order_unlink(order_id=order.pk, trigger="manager:anna")
    with committed():
        result = controls.order_push(order_id=order.pk, trigger="manager:anna", mode="relink")
    assert result == controls.PushResult.RELINKING
    assert (state(order).lead_id, state(order).state, state(order).previous_lead_id) == (
        first,
        "synced",
        None,
    )
    assert len(entities(amo, "leads")) == 1


@pytest.mark.django_db
def test_pushing_a_cancelled_order_without_a_deal_says_nothing_will_happen(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    order = make_order(status="cancelled", sync_disabled=False)
    with committed():
        assert controls.order_push(order_id=order.pk, trigger="m") == controls.PushResult.NOTHING
    assert calls(amo) == {}


@pytest.mark.django_db
def test_skip_and_unskip_keep_one_do_not_sync_flag(amo: Any, make_order: Callable[..., Order]) -> None:
    with committed():
        order = make_order()
    with committed():
        controls.order_skip(order_id=order.pk, trigger="manager:anna")
    order.refresh_from_db()
    assert order.sync_disabled and state(order).state == "skipped"
    with committed():
        controls.order_unskip(order_id=order.pk, trigger="manager:anna")
    order.refresh_from_db()
    assert not order.sync_disabled and state(order).state == "synced"


@pytest.mark.django_db
def test_push_now_puts_right_what_was_changed_by_hand_in_amocrm(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    with committed():
        order = make_order()
    lead_id = state(order).lead_id
    (element_id,) = products_of(amo, lead_id)
    unlink = [
        {"to_entity_id": element_id, "to_entity_type": "catalog_elements", "metadata": {"catalog_id": 0}}
    ]
    amo.api("POST", f"leads/{lead_id}/unlink", json=unlink)
    amo.api("PATCH", f"leads/{lead_id}", json={"price": 1, "status_id": stage("in_rent")[1]})

    with committed():
        controls.order_push(order_id=order.pk, trigger="manager:anna")

    lead = lead_of(amo, order)
    assert products_of(amo, lead_id) == element_ids(order)
    assert (lead["price"], lead["status_id"]) == (payloads.whole_roubles(order.total_amount), stage("new")[1])


@pytest.mark.django_db
def test_changing_the_customer_moves_the_lead_to_the_new_contact(
    amo: Any, staff_client: Any, make_order: Callable[..., Order], make_customer: Callable[..., Any]
) -> None:
    with committed():
        order = make_order()
    old_contact = state(order).contact_id
    other = make_customer(first_name="Мария", last_name="Новая")

    patch_order(staff_client, order, {"customer": other.pk})

    lead = lead_of(amo, order)
    contacts = [c["id"] for c in lead["_embedded"]["contacts"]]
    assert state(order).contact_id in contacts and old_contact not in contacts
    assert lead["name"] == f"Заказ {order.number} — Мария Новая"


@pytest.mark.django_db
def test_an_order_whose_deal_was_deleted_in_amocrm_fails_without_a_call(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    from django.utils import timezone

    from console.orders.services import order_set_status

    with committed():
        order = make_order()
    OrderSync.objects.filter(order=order).update(lead_deleted_at=timezone.now())
    clear(amo)

    with committed():
        order_set_status(order=order, status="reserved", origin="manager", actor="m")

    assert calls(amo) == {}
    assert state(order).state == OrderSync.State.FAILED
    assert "deleted in AmoCRM" in state(order).last_error_title


@pytest.mark.django_db
def test_the_sync_command_pushes_orders_from_the_shell(amo: Any, make_order: Callable[..., Order]) -> None:
    from io import StringIO

    from django.core.management import call_command

    order = make_order()  # the receivers did not run: never synced
    out = StringIO()
    call_command("amocrm_sync", "--all-unsynced", stdout=out)

    assert f"order {order.pk}: ok" in out.getvalue()
    assert state(order).state == OrderSync.State.SYNCED
    assert SyncLog.objects.get(order=order).trigger == "manager:shell"


@pytest.mark.django_db
def test_an_order_deleted_outright_moves_its_deal_to_lost_with_a_note(
    amo: Any, make_order: Callable[..., Order]
):
    from console.amocrm.models import DetachedLead

    with committed():
        order = make_order()
    lead_id, number = state(order).lead_id, order.number
    with committed():
        Order.objects.get(pk=order.pk).delete()

    lead = amo.api("GET", f"leads/{lead_id}").json()
    assert (lead["pipeline_id"], lead["status_id"]) == (stage("new")[0], 143)
    assert notes_of(amo, lead_id)[-1] == f"Заказ {number} удалён в консоли: сделка закрыта."
    closure = DetachedLead.objects.get(lead_id=lead_id)
    assert closure.done_at and closure.attempts == 0
    assert SyncLog.objects.filter(action="lead_deleted", lead_id=lead_id, outcome="ok").exists()


@pytest.mark.django_db
def test_closing_a_deleted_orders_deal_is_retried_after_a_server_error(
    amo: Any, make_order: Callable[..., Order]
):
    from console.amocrm.models import DetachedLead
    from console.amocrm.outbound import detached

    with committed():
        order = make_order()
    lead_id = state(order).lead_id
    amo.fault(kind="500", method="PATCH", times=4)
    with committed():
        Order.objects.get(pk=order.pk).delete()
    closure = DetachedLead.objects.get(lead_id=lead_id)
    assert (closure.done_at, closure.attempts) == (None, 1) and closure.next_retry_at
    DetachedLead.objects.update(next_retry_at=None)
    assert detached.detached_leads_run() == 1
    assert amo.api("GET", f"leads/{lead_id}").json()["status_id"] == 143


@pytest.mark.django_db
def test_a_payment_set_by_a_manager_is_pushed_to_the_lead_fields(amo: Any, make_order: Callable[..., Order]):
    from console.amocrm.models import AmoConnection
    from console.orders.services import order_set_payment

    with committed():
        order = make_order()
    connection = AmoConnection.get_solo()
    with committed():
        order_set_payment(
            order=order, paid_amount="1500.50", payment_status="prepaid", origin="manager", actor="m"
        )

    lead = lead_of(amo, order)
    values = {f["field_id"]: f["values"][0] for f in lead["custom_fields_values"]}
    assert str(values[connection.lead_field_ids["paid_amount"]]["value"]) == "1500.5"
    status = values[connection.lead_field_ids["payment_status"]]
    assert status["enum_id"] == connection.lead_field_enums["payment_status"]["prepaid"]
    assert status["value"] == "Предоплата"
