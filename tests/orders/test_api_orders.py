from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from console.customers.models import Company, Customer
from console.orders.models import Order, OrderItem, OrderStatusChange, Product
from tests.fixtures.builders import future

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Order, OrderItem, Customer, Company, OrderStatusChange))


# --- Storefront checkout ------------------------------------------------------------------------------------


def test_an_anonymous_checkout_creates_a_storefront_order_with_server_totals(
    api_client, order_payload
) -> None:
    response = api_client.post(URL, order_payload(total_amount="1.00"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"].startswith("R-") and body["source"] == "storefront" and body["status"] == "new"
    assert body["rental_days"] == 3
    assert body["total_amount"] == "8254.50"  # 2 x 1000 x 3 + 3 x 250.50 x 3; the client's total is ignored
    assert [(i["sku"], i["quantity"], i["unit_price"], i["line_total"]) for i in body["items"]] == [
        ("T-CHAIR", 2, "1000.00", "6000.00"),
        ("T-TABLE", 3, "250.50", "2254.50"),
    ]
    assert "customer" not in body  # the storefront never sees the customer record it was matched to
    order = Order.objects.get()
    assert order.customer.phone_normalized == "+79991234567"
    assert order.created_by is None


@pytest.mark.parametrize("phone", ["8 (999) 123-45-67", "+7 999 123 45 67", "9991234567"])
def test_an_inline_customer_is_found_by_any_spelling_of_the_phone(
    api_client, order_payload, make_customer, phone: str
) -> None:
    existing = make_customer(phone="+79991234567", email="")
    customer = {"name": "Аня", "phone": phone}
    assert api_client.post(URL, order_payload(customer=customer), format="json").status_code == 201
    assert Order.objects.get().customer_id == existing.pk
    assert Customer.objects.count() == 1


def test_three_checkouts_with_three_spellings_make_one_customer(api_client, order_payload) -> None:
    for phone in ["8 (999) 123-45-67", "+7 999 123 45 67", "9991234567"]:
        response = api_client.post(
            URL, order_payload(customer={"name": "Аня", "phone": phone}), format="json"
        )
        assert response.status_code == 201
    assert Customer.objects.count() == 1
    assert Order.objects.values("customer").distinct().count() == 1


def test_an_inline_customer_is_found_by_email(api_client, order_payload, make_customer) -> None:
    existing = make_customer(email="anna@example.com")
    customer = {"name": "Аня", "email": "ANNA@example.com"}
    assert api_client.post(URL, order_payload(customer=customer), format="json").status_code == 201
    assert Order.objects.get().customer_id == existing.pk


def test_a_business_checkout_creates_the_company_by_inn(api_client, order_payload) -> None:
    customer = {
        "name": "Пётр",
        "phone": "9990001111",
        "customer_type": "business",
        "company": {"name": "ООО Ромашка", "inn": "7707083893", "kpp": "770701001"},
    }
    assert api_client.post(URL, order_payload(customer=customer), format="json").status_code == 201
    customer2 = customer | {"phone": "9990002222"}
    assert api_client.post(URL, order_payload(customer=customer2), format="json").status_code == 201
    assert Company.objects.count() == 1
    assert Customer.objects.filter(company__inn="7707083893", customer_type="business").count() == 2


@pytest.mark.parametrize(
    ("customer", "field"),
    [
        ({"name": "Аня"}, "phone"),
        ({"phone": "9991234567"}, "name"),
        ({"name": "Аня", "phone": "12345"}, "phone"),
        ({"name": "Аня", "email": "not-an-email"}, "email"),
        ({"name": "Аня", "phone": "9991234567", "customer_type": "business"}, "company"),
        (
            {
                "name": "Аня",
                "phone": "9991234567",
                "customer_type": "business",
                "company": {"name": "X", "inn": "7707083894"},
            },
            "company",
        ),
        ({"name": "Аня", "phone": "9991234567", "customer_type": "alien"}, "customer_type"),
    ],
)
def test_inline_customer_validation(api_client, order_payload, customer: dict, field: str) -> None:
    response = api_client.post(URL, order_payload(customer=customer), format="json")
    assert response.status_code == 400
    assert field in response.json()["customer"]
    assert counts() == (0, 0, 0, 0, 0)


def test_the_storefront_cannot_name_a_customer_by_id(api_client, order_payload, customer) -> None:
    response = api_client.post(URL, order_payload(customer=customer.pk), format="json")
    assert response.status_code == 400
    assert "customer" in response.json()


def test_the_storefront_cannot_set_status_or_source(api_client, order_payload) -> None:
    payload = order_payload(status="archived", source="manager")
    assert api_client.post(URL, payload, format="json").status_code == 201
    order = Order.objects.get()
    assert (order.status, order.source, order.sync_disabled) == ("new", "storefront", False)


@pytest.mark.parametrize("value", [False, True])
def test_the_storefront_may_not_decide_about_crm_sync(api_client, order_payload, value: bool) -> None:
    # Changed deliberately: sync_to_crm is a manager's decision; the storefront used to be allowed to send it.
    response = api_client.post(URL, order_payload(sync_to_crm=value), format="json")
    assert response.status_code == 400
    assert "sync_to_crm" in response.json()
    assert counts() == (0, 0, 0, 0, 0)


def test_storefront_checkout_is_throttled(api_client, order_payload, monkeypatch) -> None:
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"storefront": "2/min"})
    cache.clear()
    statuses = [api_client.post(URL, order_payload(), format="json").status_code for _ in range(3)]
    cache.clear()
    assert statuses == [201, 201, 429]


# --- Validation rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"delivery_method": "delivery", "delivery_address": ""}, "delivery_address"),
        ({"delivery_method": "delivery_installation", "delivery_address": "   "}, "delivery_address"),
        (
            {"installation_date": future(10).isoformat(), "dismantle_date": future(9).isoformat()},
            "dismantle_date",
        ),
        ({"items": []}, "items"),
        ({"items": [{"sku": "T-CHAIR", "quantity": 0}]}, "items"),
        ({"items": [{"sku": "T-CHAIR", "quantity": 10001}]}, "items"),
        ({"items": [{"sku": "T-CHAIR", "quantity": -1}]}, "items"),
        ({"items": [{"sku": "NO-SUCH-SKU", "quantity": 1}]}, "items"),
        ({"items": [{"product": 999999, "quantity": 1}]}, "items"),
        ({"items": [{"quantity": 1}]}, "items"),
        ({"items": [{"sku": "T-CHAIR", "quantity": 1}, {"sku": "T-CHAIR", "quantity": 2}]}, "items"),
        ({"installation_date": future(-1).isoformat()}, "installation_date"),
        ({"installation_date": "2026-02-30"}, "installation_date"),
        ({"dismantle_date": "9999-12-31"}, "dismantle_date"),
        ({"delivery_method": "teleport"}, "delivery_method"),
        ({"comment": "x" * 10_000}, "comment"),
        ({"delivery_address": "д" * 501}, "delivery_address"),
    ],
)
def test_a_rule_breaking_order_is_a_400_naming_the_field_and_writes_nothing(
    api_client, order_payload, overrides: dict, field: str
) -> None:
    response = api_client.post(URL, order_payload(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert counts() == (0, 0, 0, 0, 0)


def test_the_same_product_twice_is_a_400_with_a_clear_message(api_client, order_payload, product) -> None:
    items = [{"sku": product.sku, "quantity": 1}, {"product": product.pk, "quantity": 2}]
    response = api_client.post(URL, order_payload(items=items), format="json")
    assert response.status_code == 400
    assert "appears twice" in response.json()["items"][0]


def test_an_inactive_product_is_a_400(api_client, order_payload, product) -> None:
    Product.objects.filter(pk=product.pk).update(is_active=False)
    response = api_client.post(URL, order_payload(items=[{"sku": product.sku, "quantity": 1}]), format="json")
    assert response.status_code == 400
    assert "not available" in response.json()["items"][0]


def test_quantity_bounds_are_inclusive(api_client, order_payload, products) -> None:
    items = [{"sku": products[0].sku, "quantity": 1}, {"sku": products[1].sku, "quantity": 10_000}]
    assert api_client.post(URL, order_payload(items=items), format="json").status_code == 201


def test_a_pickup_order_needs_no_address(api_client, order_payload) -> None:
    payload = order_payload(delivery_method="pickup", delivery_address="")
    assert api_client.post(URL, payload, format="json").status_code == 201


def test_the_catalog_products_can_be_ordered_by_sku(api_client, order_payload) -> None:
    sku = Product.objects.exclude(sku__startswith="T-").values_list("sku", flat=True).first()
    assert (
        api_client.post(URL, order_payload(items=[{"sku": sku, "quantity": 1}]), format="json").status_code
        == 201
    )


# --- Staff --------------------------------------------------------------------------------------------------


def test_staff_create_defaults_to_the_manager_source_and_may_set_it(
    staff_client, order_payload, customer, staff_user
) -> None:
    response = staff_client.post(URL, order_payload(customer=customer.pk), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["source"] == "manager"
    assert response.json()["customer"]["id"] == customer.pk
    assert Order.objects.get().created_by == staff_user
    response = staff_client.post(URL, order_payload(customer=customer.pk, source="storefront"), format="json")
    assert response.json()["source"] == "storefront"


def test_sync_to_crm_false_sets_the_do_not_sync_flag(staff_client, order_payload, customer) -> None:
    response = staff_client.post(URL, order_payload(customer=customer.pk, sync_to_crm=False), format="json")
    assert response.status_code == 201
    assert response.json()["sync_to_crm"] is False
    assert Order.objects.get().sync_disabled is True


def test_an_unknown_customer_id_is_a_400(staff_client, order_payload) -> None:
    response = staff_client.post(URL, order_payload(customer=987654), format="json")
    assert response.status_code == 400
    assert "customer" in response.json()


def test_the_order_response_has_the_documented_shape(staff_client, make_order) -> None:
    order = make_order()
    body = staff_client.get(f"{URL}{order.pk}/").json()
    assert set(body) == {
        "id",
        "number",
        "status",
        "customer",
        "items",
        "rental_days",
        "total_amount",
        "paid_amount",
        "payment_status",
        "installation_date",
        "dismantle_date",
        "delivery_method",
        "delivery_address",
        "comment",
        "source",
        "sync_to_crm",
        "tracking_token",
        "checkout_contact",
        "is_active",
        "created_at",
        "updated_at",
    }
    assert set(body["customer"]) == {
        "id",
        "customer_type",
        "name",
        "phone",
        "phone_normalized",
        "email",
        "company",
    }
    assert set(body["items"][0]) == {"id", "product", "sku", "name", "quantity", "unit_price", "line_total"}


def test_patch_synchronises_items_and_recomputes_the_total(staff_client, make_order, products) -> None:
    chair, table, lamp = products
    order = make_order(items=[(chair, 2), (table, 1)], installation_date=future(1), dismantle_date=future(3))
    items = [{"product": chair.pk, "quantity": 1}, {"sku": lamp.sku, "quantity": 10}]
    response = staff_client.patch(f"{URL}{order.pk}/", {"items": items}, format="json")
    assert response.status_code == 200, response.json()
    assert [(i["sku"], i["quantity"]) for i in response.json()["items"]] == [("T-CHAIR", 1), ("T-LAMP", 10)]
    assert Decimal(response.json()["total_amount"]) == Decimal("2000.00") + Decimal("1999.80")


def test_patch_without_items_keeps_the_lines(staff_client, make_order) -> None:
    order = make_order()
    response = staff_client.patch(f"{URL}{order.pk}/", {"comment": "Позвонить 📞"}, format="json")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1 and response.json()["comment"] == "Позвонить 📞"


def test_patch_status_writes_the_history(staff_client, make_order, staff_user) -> None:
    order = make_order()
    assert staff_client.patch(f"{URL}{order.pk}/", {"status": "reserved"}, format="json").status_code == 200
    change = OrderStatusChange.objects.filter(order=order).first()
    assert (change.to_status, change.origin, change.actor) == ("reserved", "manager", staff_user.username)


def test_put_needs_the_whole_order(staff_client, make_order) -> None:
    order = make_order()
    response = staff_client.put(f"{URL}{order.pk}/", {"comment": "x"}, format="json")
    assert response.status_code == 400
    assert {"customer", "installation_date", "dismantle_date", "items"} <= set(response.json())


def test_put_replaces_the_order(staff_client, make_order, order_payload, customer) -> None:
    order = make_order()
    payload = order_payload(customer=customer.pk, delivery_method="pickup", delivery_address="")
    response = staff_client.put(f"{URL}{order.pk}/", payload, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["customer"]["id"] == customer.pk
    assert len(response.json()["items"]) == 2


def test_an_invalid_patch_writes_nothing(staff_client, make_order, products) -> None:
    order = make_order(comment="before")
    items = [{"product": products[1].pk, "quantity": 1}]
    payload = {"comment": "after", "items": items, "delivery_method": "delivery", "delivery_address": ""}
    response = staff_client.patch(f"{URL}{order.pk}/", payload, format="json")
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.comment == "before" and order.items.get().product_id == products[0].pk


def test_delete_is_a_soft_delete(staff_client, make_order) -> None:
    order = make_order()
    assert staff_client.delete(f"{URL}{order.pk}/").status_code == 204
    order.refresh_from_db()
    assert order.is_active is False
    assert staff_client.get(f"{URL}{order.pk}/").json()["is_active"] is False
    assert staff_client.patch(f"{URL}{order.pk}/", {"comment": "x"}, format="json").status_code == 400


def test_api_writes_send_one_signal_each(
    staff_client, api_client, order_payload, order_signals, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order_id = api_client.post(URL, order_payload(), format="json").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"{URL}{order_id}/", {"status": "cancelled"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"{URL}{order_id}/", {"status": "cancelled"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.delete(f"{URL}{order_id}/")
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post(URL, order_payload(items=[]), format="json")
    assert [(c["action"], c["origin"]) for c in order_signals.calls] == [
        ("created", "storefront"),
        ("cancelled", "manager"),
        ("deleted", "manager"),
    ]
    assert order_signals.calls[1]["changed"] == frozenset({"status"})


# --- Listing, filters, search -----------------------------------------------------------------------------


def ids(response) -> set[int]:  # noqa: ANN001
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_the_list_filters_by_status(staff_client, make_order) -> None:
    new, reserved, cancelled = make_order(), make_order(status="reserved"), make_order(status="cancelled")
    assert ids(staff_client.get(URL, {"status": "reserved"})) == {reserved.pk}
    assert ids(staff_client.get(URL + "?status=new&status=cancelled")) == {new.pk, cancelled.pk}


def test_the_list_filters_by_date_ranges(staff_client, make_order) -> None:
    early = make_order(installation_date=future(1), dismantle_date=future(2))
    late = make_order(installation_date=future(20), dismantle_date=future(30))
    after = {"installation_date_after": future(10).isoformat()}
    assert ids(staff_client.get(URL, after)) == {late.pk}
    assert ids(staff_client.get(URL, {"dismantle_date_before": future(2).isoformat()})) == {early.pk}
    both = {
        "installation_date_after": future(1).isoformat(),
        "installation_date_before": future(20).isoformat(),
    }
    assert ids(staff_client.get(URL, both)) == {early.pk, late.pk}


def test_the_list_filters_by_customer_and_activity(staff_client, make_order, customer) -> None:
    mine = make_order(customer=customer)
    other = make_order()
    staff_client.delete(f"{URL}{other.pk}/")
    assert ids(staff_client.get(URL, {"customer": customer.pk})) == {mine.pk}
    assert ids(staff_client.get(URL, {"is_active": "false"})) == {other.pk}
    assert ids(staff_client.get(URL, {"is_active": "true"})) == {mine.pk}


@pytest.mark.parametrize(
    "query",
    ["customer=abc", "customer=99999999999999999999999", "status=lost", "installation_date_after=yesterday"],
)
def test_bad_filter_values_are_a_400(staff_client, query: str) -> None:
    response = staff_client.get(f"{URL}?{query}")
    assert response.status_code == 400


def test_search_finds_orders_by_number_name_phone_and_email(staff_client, make_order, make_customer) -> None:
    anna = make_customer(
        first_name="Анна", last_name="Смирнова", phone="+7 999 123 45 67", email="anna@example.com"
    )
    wanted = make_order(customer=anna)
    make_order()
    wanted.refresh_from_db()
    for term in [
        wanted.number,
        "Смирнова",
        "8 (999) 123-45-67",
        "9991234567",
        "anna@example",
        "Анна Смирнова",
    ]:
        assert ids(staff_client.get(URL, {"search": term})) == {wanted.pk}, term


def test_the_list_nests_items_and_paginates(staff_client, make_order) -> None:
    for _ in range(3):
        make_order()
    body = staff_client.get(URL, {"limit": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2
    assert body["results"][0]["items"][0]["sku"] == "T-CHAIR"
    huge = staff_client.get(URL, {"limit": 10**30, "offset": 10**30})
    assert huge.status_code == 200


def test_listing_does_not_query_per_order(staff_client, make_order, django_assert_max_num_queries) -> None:
    for _ in range(10):
        make_order()
    with django_assert_max_num_queries(8):
        assert len(staff_client.get(URL).json()["results"]) == 10


# --- Permissions and plumbing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", ""), ("get", "{pk}/"), ("put", "{pk}/"), ("patch", "{pk}/"), ("delete", "{pk}/")],
)
def test_anonymous_clients_may_only_create(api_client: APIClient, make_order, method: str, path: str) -> None:
    order = make_order(comment="untouched")
    response = getattr(api_client, method)(URL + path.format(pk=order.pk), {"comment": "x"}, format="json")
    assert response.status_code in (401, 403)
    order.refresh_from_db()
    assert order.is_active and order.comment == "untouched"


def test_a_logged_in_non_staff_user_is_treated_like_the_storefront(
    django_user_model, order_payload, make_order
) -> None:
    client = APIClient()
    client.force_login(django_user_model.objects.create_user("clerk", password="pw"))
    assert client.get(URL).status_code == 403
    response = client.post(URL, order_payload(status="archived"), format="json")
    assert response.status_code == 201 and response.json()["source"] == "storefront"


def test_unknown_paths_and_methods_answer_json(staff_client, api_client) -> None:
    missing = staff_client.get("/api/v1/nothing-here/")
    assert (missing.status_code, missing["Content-Type"]) == (404, "application/json")
    assert staff_client.get(f"{URL}424242/").status_code == 404
    assert staff_client.get(f"{URL}99999999999999999999999/").json() == {"detail": "Not found."}
    not_allowed = staff_client.post(f"{URL}1/", {}, format="json")
    assert not_allowed.status_code == 405 and "detail" in not_allowed.json()


def test_the_orders_endpoint_works_without_a_trailing_slash(api_client, order_payload) -> None:
    assert api_client.post("/api/v1/orders", order_payload(), format="json").status_code == 201


def test_the_schema_and_docs_are_served(staff_client) -> None:
    assert staff_client.get("/api/v1/schema/").status_code == 200
    assert staff_client.get("/api/v1/docs/").status_code == 200


def test_toggling_sync_to_crm_reports_sync_disabled_as_changed(
    staff_client, make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.patch(f"{URL}{order.pk}/", {"sync_to_crm": False}, format="json")
    assert response.json()["sync_to_crm"] is False
    assert [(c["action"], c["changed"]) for c in order_signals.calls] == [
        ("updated", frozenset({"sync_disabled"}))
    ]


def test_staff_may_switch_the_customer_inline(staff_client, make_order, make_customer) -> None:
    order = make_order()
    other = make_customer(phone="+7 999 555 44 33")
    response = staff_client.patch(
        f"{URL}{order.pk}/", {"customer": {"name": "X", "phone": "8 999 555-44-33"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["customer"]["id"] == other.pk
