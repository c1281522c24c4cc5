"""The users page's amoCRM side (admins): each console user linked to an amoCRM user (offered by e-mail),
and the "takes storefront orders" mark that storefront orders follow."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.amocrm.account.users import users_link_by_email
from console.amocrm.models import AmoUser
from console.orders.models import StorefrontManager
from console.orders.services import storefront_responsible
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def amo_users() -> list[AmoUser]:
    return [
        AmoUser.objects.create(amo_id=100002, name="Менеджер Анна", email="anna@example.com"),
        AmoUser.objects.create(amo_id=100003, name="Менеджер Борис", email="boris@example.com"),
    ]


def row_of(body: str, username: str) -> str:
    return body.split(f">{username}<")[1].split("</tr>")[0]


def test_the_list_shows_the_link_and_offers_the_amocrm_user_with_the_same_email(
    admin_client: Client, amo_users: list[AmoUser]
) -> None:
    anna = make_user("anna", role="manager", email="anna@example.com")
    make_user("boris", role="manager", email="Boris@Example.com")
    amo_users[0].console_user = anna
    amo_users[0].save()

    body = admin_client.get(reverse("web:users")).content.decode()

    assert "Linked to <strong>Менеджер Анна</strong>" in row_of(body, "anna")
    boris_row = row_of(body, "boris")
    assert "Not linked" in boris_row
    assert f'<option value="{amo_users[1].pk}" selected>' in boris_row


def test_an_admin_links_a_user_and_a_refresh_keeps_it(admin_client: Client, amo_users: list[AmoUser]) -> None:
    anna = make_user("anna", role="manager", email="anna@example.com")
    url = reverse("web:user_amo_link", args=[anna.pk])

    response = admin_client.post(url, {"amo_user": amo_users[1].pk}, follow=True)

    assert "anna is linked to the amoCRM user Менеджер Борис." in response.content.decode()
    assert AmoUser.objects.get(console_user=anna).amo_id == 100003
    users_link_by_email()
    assert AmoUser.objects.get(console_user=anna).amo_id == 100003
    assert AmoUser.objects.get(amo_id=100002).console_user is None


def test_an_admin_unlinks_a_user_and_a_refresh_does_not_link_it_again(
    admin_client: Client, amo_users: list[AmoUser]
) -> None:
    anna = make_user("anna", role="manager", email="anna@example.com")
    users_link_by_email()
    assert AmoUser.objects.get(console_user=anna).amo_id == 100002

    admin_client.post(reverse("web:user_amo_link", args=[anna.pk]), {"amo_user": ""})
    users_link_by_email()

    assert not AmoUser.objects.filter(console_user=anna).exists()


@pytest.mark.parametrize("value", ["999999", "x", "-1"])
def test_a_bad_amocrm_user_is_a_form_error(
    admin_client: Client, amo_users: list[AmoUser], value: str
) -> None:
    anna = make_user("anna", role="manager")
    response = admin_client.post(reverse("web:user_amo_link", args=[anna.pk]), {"amo_user": value})
    assert response.status_code == 400 and 'class="errorlist"' in response.content.decode()
    assert not AmoUser.objects.filter(console_user=anna).exists()


def test_htmx_gets_the_row_with_the_new_link(admin_client: Client, amo_users: list[AmoUser]) -> None:
    anna = make_user("anna", role="manager")
    response = admin_client.post(
        reverse("web:user_amo_link", args=[anna.pk]), {"amo_user": amo_users[0].pk}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="user-{anna.pk}">') and "Linked to" in body


def test_storefront_orders_follow_the_mark_set_on_the_page(admin_client: Client) -> None:
    anna = make_user("anna", role="manager")
    url = reverse("web:user_storefront", args=[anna.pk])

    response = admin_client.post(url, {"takes_orders": "1"}, follow=True)
    assert "anna takes storefront orders." in response.content.decode()
    assert storefront_responsible() == anna

    admin_client.post(url, {"takes_orders": "0"})
    assert StorefrontManager.objects.get(user=anna).takes_orders is False
    assert storefront_responsible() is None


@pytest.mark.parametrize("data", [{}, {"takes_orders": "maybe"}])
def test_a_bad_storefront_mark_is_a_form_error(admin_client: Client, data: dict[str, str]) -> None:
    anna = make_user("anna", role="manager")
    response = admin_client.post(reverse("web:user_storefront", args=[anna.pk]), data)
    assert response.status_code == 400
    assert not StorefrontManager.objects.filter(user=anna).exists()


@pytest.mark.parametrize("role", ["manager", "support"])
def test_only_admins_link_users_or_mark_them(client: Client, amo_users: list[AmoUser], role: str) -> None:
    anna = make_user("anna", role="manager")
    client.force_login(make_user("someone", role=role))
    link = client.post(reverse("web:user_amo_link", args=[anna.pk]), {"amo_user": amo_users[0].pk})
    mark = client.post(reverse("web:user_storefront", args=[anna.pk]), {"takes_orders": "1"})
    assert (link.status_code, mark.status_code) == (403, 403)
    assert not AmoUser.objects.filter(console_user=anna).exists()
    assert not StorefrontManager.objects.exists()
