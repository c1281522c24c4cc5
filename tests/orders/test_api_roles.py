"""Issue 18 item 4: the /api/v1/ API follows the console's roles (``console.roles``), not ``is_staff``.

Reading needs a role (manager, support, admin); creating, editing and deleting orders, customers and companies
needs ``orders.edit`` (manager, admin). A staff user with no role gets nothing; a user the console's own user
form made admin (not staff) gets everything; ``api_token`` gives a token to any user with a role."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from console.customers.models import Company, Customer
from console.orders.models import Order
from console.roles import can
from console.web.services import user_create
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db

ORDERS, CUSTOMERS, COMPANIES = "/api/v1/orders/", "/api/v1/customers/", "/api/v1/companies/"


def token_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


def writes(order: Order, customer: Customer, company: Company, payload: dict) -> list[tuple[str, str, dict]]:
    """Every write of the API on existing rows, and the creates of customers and companies, as
    (method, path, body). (Creating an order is the storefront's checkout, open to anyone.)"""
    return [
        ("patch", f"{ORDERS}{order.pk}/", {"comment": "changed"}),
        ("delete", f"{ORDERS}{order.pk}/", {}),
        ("post", CUSTOMERS, {"first_name": "Ivan", "phone": "+79990001122"}),
        ("patch", f"{CUSTOMERS}{customer.pk}/", {"first_name": "Changed"}),
        ("delete", f"{CUSTOMERS}{customer.pk}/", {}),
        ("post", COMPANIES, {"name": "New Co"}),
        ("patch", f"{COMPANIES}{company.pk}/", {"name": "Changed Co"}),
        ("delete", f"{COMPANIES}{company.pk}/", {}),
    ]


@pytest.fixture
def world(make_order: Any, make_customer: Any, make_company: Any, order_payload: Any) -> dict[str, Any]:
    order = make_order()
    return {
        "order": order,
        "customer": order.customer,
        "company": make_company(),
        "payload": order_payload(),
    }


def snapshot() -> tuple:
    return (
        list(Order.objects.order_by("pk").values_list("pk", "comment", "is_active")),
        list(Customer.objects.order_by("pk").values_list("pk", "first_name", "is_active")),
        list(Company.objects.order_by("pk").values_list("pk", "name")),
    )


@pytest.mark.parametrize("who", ["support", "staff-without-role"])
def test_a_support_token_or_a_staff_user_without_a_role_cannot_write_orders_customers_or_companies(
    world: dict[str, Any], who: str
) -> None:
    user = make_user("sam", role="support") if who == "support" else make_user("stan")
    client = token_client(user)
    before = snapshot()
    for method, path, body in writes(**world):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 403, (method, path, response.content[:200])
        assert response["Content-Type"].startswith("application/json")
    assert snapshot() == before


@pytest.mark.parametrize("who", ["support", "staff-without-role"])
def test_a_support_token_or_a_staff_user_without_a_role_checks_out_only_as_the_storefront(
    world: dict[str, Any], who: str
) -> None:
    user = make_user("sam", role="support") if who == "support" else make_user("stan")
    response = token_client(user).post(ORDERS, world["payload"] | {"status": "archived"}, format="json")
    assert response.status_code == 201, response.content[:200]
    order = Order.objects.get(number=response.json()["number"])
    assert (order.source, order.status, order.created_by) == ("storefront", "new", None)


def test_a_support_token_reads_orders_customers_and_companies(world: dict[str, Any]) -> None:
    client = token_client(make_user("sam", role="support"))
    for path in (ORDERS, CUSTOMERS, COMPANIES, f"{ORDERS}{world['order'].pk}/"):
        assert client.get(path).status_code == 200, path


def test_a_staff_user_without_a_role_reads_nothing(world: dict[str, Any]) -> None:
    client = APIClient()
    client.force_login(make_user("stan"))
    for path in (ORDERS, CUSTOMERS, COMPANIES, f"{ORDERS}{world['order'].pk}/"):
        assert client.get(path).status_code == 403, path


def test_a_user_the_console_user_form_made_admin_reads_and_writes_the_api(world: dict[str, Any]) -> None:
    boss = make_user("boss", role="admin")
    olga = user_create(username="olga", password="S3cure-pass-42", role="admin", actor=boss)
    assert not olga.is_staff
    client = APIClient()
    client.force_login(olga)
    for method, path, body in [("post", ORDERS, world["payload"]), *writes(**world)]:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code < 300, (method, path, response.content[:200])
    assert Order.objects.filter(created_by=olga).exists()


@pytest.mark.parametrize("role", ["manager", "support", "admin", ""])
@pytest.mark.parametrize(("method", "action"), [("get", "view"), ("post", "orders.edit")])
def test_the_api_answers_as_the_console_rule_table_says(
    world: dict[str, Any], role: str, method: str, action: str
) -> None:
    user = make_user(f"user-{role or 'none'}", role=role, is_staff=False)
    client = APIClient()
    client.force_login(user)
    response = getattr(client, method)(COMPANIES, {"name": f"Co {role}"}, format="json")
    assert (response.status_code != 403) == can(user, action), response.content[:200]


def test_the_api_token_command_gives_a_token_to_a_user_with_a_role_who_is_not_staff() -> None:
    make_user("mila", role="manager", is_staff=False)
    out = StringIO()
    call_command("api_token", "create", "mila", stdout=out, stderr=StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    assert client.post(COMPANIES, {"name": "Mila Co"}, format="json").status_code == 201
