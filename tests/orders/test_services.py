from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from console.orders.models import Order, OrderItem, OrderStatusChange, Product
from console.orders.services import (
    order_cancel,
    order_create,
    order_set_status,
    order_soft_delete,
    order_update,
)
from tests.fixtures.builders import future

pytestmark = pytest.mark.django_db


def lines(*pairs: tuple[Product, int]) -> list[dict]:
    return [{"product": p, "quantity": q} for p, q in pairs]


def test_totals_are_quantity_times_price_times_rental_days(make_order, products) -> None:
    chair, table, lamp = products
    order = make_order(
        items=[(chair, 2), (table, 3), (lamp, 1)], installation_date=future(1), dismantle_date=future(4)
    )
    assert order.rental_days == 3
    totals = {i.product_id: i.line_total for i in order.items.all()}
    assert totals == {chair.pk: Decimal("6000.00"), table.pk: Decimal("2254.50"), lamp.pk: Decimal("299.97")}
    assert order.total_amount == Decimal("8554.47")


def test_a_same_day_rental_counts_as_one_day(make_order, product: Product) -> None:
    order = make_order(items=[(product, 1)], installation_date=future(3), dismantle_date=future(3))
    assert order.rental_days == 1
    assert order.total_amount == Decimal("1000.00")


def test_the_number_is_human_readable_and_derived_from_the_pk(make_order) -> None:
    order = make_order()
    order.refresh_from_db()
    assert order.number == f"R-{order.pk:06d}"


def test_the_unit_price_is_copied_from_the_catalog(make_order, product: Product) -> None:
    order = make_order(items=[(product, 1)])
    product.unit_price = Decimal("5.00")
    product.save()
    assert order.items.get().unit_price == Decimal("1000.00")


def test_creating_records_the_initial_status(make_order) -> None:
    order = make_order(status="reserved")
    change = OrderStatusChange.objects.get(order=order)
    assert (change.from_status, change.to_status, change.origin, change.actor) == (
        "",
        "reserved",
        "manager",
        "builder",
    )


def test_the_storefront_origin_forces_the_storefront_source(customer, product: Product) -> None:
    order = order_create(
        data={
            "customer": customer,
            "installation_date": future(1),
            "dismantle_date": future(2),
            "items": lines((product, 1)),
            "source": "manager",
        },
        origin="storefront",
        actor="storefront",
    )
    assert order.source == "storefront"


def test_item_sync_adds_changes_and_removes_lines(make_order, products) -> None:
    chair, table, lamp = products
    order = make_order(items=[(chair, 2), (table, 3)])
    table.unit_price = Decimal("300.00")
    table.save()
    chair.unit_price = Decimal("1.00")
    chair.save()
    order_update(
        order=order, data={"items": lines((chair, 2), (table, 4), (lamp, 1))}, origin="manager", actor="t"
    )
    prices = {i.product_id: (i.quantity, i.unit_price) for i in order.items.all()}
    # The unchanged chair line keeps its price; the changed and added lines take today's catalog price.
    assert prices == {
        chair.pk: (2, Decimal("1000.00")),
        table.pk: (4, Decimal("300.00")),
        lamp.pk: (1, Decimal("99.99")),
    }
    order_update(order=order, data={"items": lines((lamp, 5))}, origin="manager", actor="t")
    order.refresh_from_db()
    assert list(order.items.values_list("product_id", "quantity")) == [(lamp.pk, 5)]
    assert order.total_amount == Decimal("999.90")  # 5 x 99.99 x 2 days


def test_changing_the_dates_recomputes_every_line(make_order, product: Product) -> None:
    order = make_order(items=[(product, 1)], installation_date=future(1), dismantle_date=future(2))
    order = order_update(order=order, data={"dismantle_date": future(6)}, origin="manager", actor="t")
    assert order.items.get().line_total == Decimal("5000.00")
    assert order.total_amount == Decimal("5000.00")


def test_every_committed_operation_sends_one_signal_with_what_changed(
    make_order, products, order_signals, django_capture_on_commit_callbacks
) -> None:
    chair, table, _lamp = products
    with django_capture_on_commit_callbacks(execute=True):
        order = make_order(items=[(chair, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        order_update(
            order=order,
            data={"comment": "Свадьба", "items": lines((chair, 1), (table, 1))},
            origin="amocrm",
            actor="amocrm",
        )
    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order=order, origin="manager", actor="boss")
    with django_capture_on_commit_callbacks(execute=True):
        order_soft_delete(order=order, origin="manager", actor="boss")
    assert order_signals.actions == ["created", "updated", "cancelled", "deleted"]
    created, updated, cancelled, deleted = order_signals.calls
    assert created["order_id"] == order.pk and {"items", "customer", "status"} <= created["changed"]
    assert updated["changed"] == frozenset({"comment", "items", "total_amount"})
    assert (updated["origin"], updated["actor"]) == ("amocrm", "amocrm")
    assert cancelled["changed"] == frozenset({"status"})
    assert deleted["changed"] == frozenset({"is_active"})


def test_a_no_op_update_writes_nothing_and_sends_nothing(
    make_order, product, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order(items=[(product, 2)], comment="x")
    updated_at = Order.objects.get(pk=order.pk).updated_at
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order_update(
            order=order, data={"comment": "x", "items": lines((product, 2))}, origin="manager", actor="t"
        )
        order_set_status(order=order, status="new", origin="manager", actor="t")
    assert callbacks == [] and order_signals.calls == []
    assert Order.objects.get(pk=order.pk).updated_at == updated_at


def test_a_failed_update_writes_nothing_and_sends_nothing(
    make_order, products, order_signals, django_capture_on_commit_callbacks
) -> None:
    chair, table, _lamp = products
    order = make_order(items=[(chair, 2)])
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        order_update(
            order=order,
            data={"items": lines((table, 1)), "dismantle_date": future(-100)},
            origin="manager",
            actor="t",
        )
    assert order_signals.calls == []
    assert list(order.items.values_list("product_id", flat=True)) == [chair.pk]


def test_status_changes_are_recorded_with_origin_and_actor(make_order) -> None:
    order = make_order()
    order_set_status(order=order, status="reserved", origin="amocrm", actor="amocrm")
    order_set_status(order=order, status="in_rent", origin="manager", actor="boss")
    history = list(
        OrderStatusChange.objects.filter(order=order)
        .order_by("id")
        .values_list("from_status", "to_status", "origin")
    )
    assert history == [
        ("", "new", "manager"),
        ("new", "reserved", "amocrm"),
        ("reserved", "in_rent", "manager"),
    ]


def test_an_unknown_status_is_refused(make_order) -> None:
    with pytest.raises(ValidationError):
        order_set_status(order=make_order(), status="lost", origin="manager", actor="t")


def test_sync_disabled_is_stored(make_order) -> None:
    assert make_order(sync_disabled=True).sync_disabled is True


def test_a_deleted_order_cannot_be_changed(make_order) -> None:
    order = order_soft_delete(order=make_order(), origin="manager", actor="t")
    with pytest.raises(ValidationError):
        order_update(order=order, data={"comment": "x"}, origin="manager", actor="t")


def test_deleting_twice_sends_one_signal(
    make_order, order_signals, django_capture_on_commit_callbacks
) -> None:
    order = make_order()
    with django_capture_on_commit_callbacks(execute=True):
        order_soft_delete(order=order, origin="manager", actor="t")
        order_soft_delete(order=order, origin="manager", actor="t")
    assert order_signals.actions == ["deleted"]


def test_an_unknown_origin_is_a_programming_error(make_order) -> None:
    with pytest.raises(ValueError):
        order_cancel(order=make_order(), origin="martians", actor="t")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"dismantle_date": future(1), "installation_date": future(5)}, "dismantle_date"),
        ({"delivery_method": "delivery", "delivery_address": "  "}, "delivery_address"),
        ({"items": []}, "items"),
        ({"installation_date": datetime.date(1999, 12, 31)}, "installation_date"),
        ({"dismantle_date": future(400)}, "dismantle_date"),
    ],
)
def test_domain_rules_are_enforced_by_the_service(customer, product, data: dict, field: str) -> None:
    base = {
        "customer": customer,
        "installation_date": future(1),
        "dismantle_date": future(2),
        "items": lines((product, 1)),
    }
    with pytest.raises(ValidationError) as exc:
        order_create(data=base | data, origin="manager", actor="t")
    assert field in exc.value.message_dict
    assert not Order.objects.exists() and not OrderItem.objects.exists()


def test_the_storefront_cannot_book_in_the_past(customer, product) -> None:
    with pytest.raises(ValidationError) as exc:
        order_create(
            data={
                "customer": customer,
                "installation_date": future(-1),
                "dismantle_date": future(1),
                "items": lines((product, 1)),
            },
            origin="storefront",
            actor="storefront",
        )
    assert "installation_date" in exc.value.message_dict


def test_a_total_beyond_the_column_is_refused(customer) -> None:
    pricey = Product.objects.create(
        sku="GOLD", name="Gold", category="decor", unit_price=Decimal("9999999999.99")
    )
    with pytest.raises(ValidationError) as exc:
        order_create(
            data={
                "customer": customer,
                "installation_date": future(1),
                "dismantle_date": future(300),
                "items": lines((pricey, 10000)),
            },
            origin="manager",
            actor="t",
        )
    assert "items" in exc.value.message_dict


def test_an_inactive_product_cannot_be_added_but_an_existing_line_may_stay(make_order, products) -> None:
    chair, table, _lamp = products
    order = make_order(items=[(chair, 1)])
    Product.objects.filter(pk__in=[chair.pk, table.pk]).update(is_active=False)
    chair.refresh_from_db()
    table.refresh_from_db()
    order_update(order=order, data={"items": lines((chair, 1)), "comment": "ok"}, origin="manager", actor="t")
    with pytest.raises(ValidationError):
        order_update(order=order, data={"items": lines((chair, 1), (table, 1))}, origin="manager", actor="t")
    with pytest.raises(ValidationError):
        order_update(order=order, data={"items": lines((chair, 3))}, origin="manager", actor="t")


def test_the_same_product_twice_is_refused(customer, product) -> None:
    with pytest.raises(ValidationError) as exc:
        order_create(
            data={
                "customer": customer,
                "installation_date": future(1),
                "dismantle_date": future(2),
                "items": lines((product, 1), (product, 2)),
            },
            origin="manager",
            actor="t",
        )
    assert "twice" in exc.value.message_dict["items"][0]
