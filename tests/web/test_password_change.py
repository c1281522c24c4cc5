"""Issue 22 defect 6: a password an admin set (a new user's initial one, or one set in the Django admin) is
changed by its owner before anything else; everyone with a role has a page to change its password."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from console.web.models import PasswordState
from console.web.services import user_create
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db
INITIAL = "an initial password 1"
OWN = "a password of my own 2"


def log_in(client: Client, username: str, password: str) -> str:
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return response["Location"]


def change(client: Client, old: str, new: str) -> object:
    data = {"old_password": old, "new_password1": new, "new_password2": new}
    return client.post(reverse("web:password_change"), data)


@pytest.fixture
def vera() -> object:
    return user_create(
        username="vera", password=INITIAL, role="manager", actor=make_user("boss", role="admin")
    )


def test_a_new_user_is_sent_to_the_password_page_until_it_changes_it(client: Client, vera: object) -> None:
    log_in(client, "vera", INITIAL)
    for url in (reverse("web:dashboard"), reverse("web:orders"), reverse("web:customers")):
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, reverse("web:password_change")), url
    page = client.get(reverse("web:password_change"))
    assert page.status_code == 200 and "An administrator set your password" in page.content.decode()
    assert client.get(reverse("web:orders"), HTTP_HX_REQUEST="true")["HX-Redirect"] == reverse(
        "web:password_change"
    )

    response = change(client, INITIAL, OWN)

    assert response.status_code == 302
    assert client.get(reverse("web:orders")).status_code == 200, "still signed in, no longer held"
    assert PasswordState.objects.get(user=vera).must_change is False
    client.logout()
    log_in(client, "vera", OWN)
    assert client.get(reverse("web:orders")).status_code == 200


def test_the_api_and_logging_out_are_not_held(client: Client, vera: object) -> None:
    log_in(client, "vera", INITIAL)
    assert client.get("/api/v1/orders/").status_code == 200
    assert client.get("/healthz").status_code != 302
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("web:orders"))["Location"].startswith(reverse("login"))


def test_a_wrong_old_password_or_a_weak_new_one_is_a_form_error(client: Client, vera: object) -> None:
    log_in(client, "vera", INITIAL)
    wrong = change(client, "not it", OWN)
    weak = change(client, INITIAL, "123")
    assert (wrong.status_code, weak.status_code) == (400, 400)
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    assert PasswordState.objects.get(user=vera).must_change is True
    assert client.get(reverse("web:orders")).status_code == 302


def test_every_role_changes_its_own_password_without_being_forced(client: Client) -> None:
    for role in ("manager", "support", "admin"):
        make_user(role, role=role)
        assert log_in(client, role, "pw") == reverse("web:dashboard")
        assert client.get(reverse("web:orders")).status_code == 200, "a password not set by an admin"
        assert 'id="password-link"' in client.get(reverse("web:dashboard")).content.decode()
        assert change(client, "pw", OWN).status_code == 302
        assert get_user_model().objects.get(username=role).check_password(OWN)
        client.logout()


def test_a_password_set_in_the_django_admin_must_be_changed(admin_client: Client, client: Client) -> None:
    anna = make_user("anna", role="manager")
    url = reverse("admin:auth_user_password_change", args=[anna.pk])
    data = {"password1": INITIAL, "password2": INITIAL, "usable_password": "true"}
    assert admin_client.post(url, data).status_code == 302

    log_in(client, "anna", INITIAL)
    assert client.get(reverse("web:orders"))["Location"] == reverse("web:password_change")


def test_the_password_is_never_echoed(client: Client, vera: object) -> None:
    log_in(client, "vera", INITIAL)
    body = change(client, INITIAL, "123").content.decode()
    assert INITIAL not in body and 'value="123"' not in body
