"""The users page (admins only): list users with their role, change a role, create a user with a role and
an initial password, deactivate and reactivate."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from console.roles import roles_of
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db
User = get_user_model()


def fresh(user):  # noqa: ANN001, ANN201
    """The user re-read (roles are cached on the object)."""
    return User.objects.get(pk=user.pk)


def logs_in(client: Client, username: str, password: str) -> bool:
    """Log in through the login page (django-axes wants the request)."""
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def new_user(**data: str) -> dict[str, str]:
    return {
        "username": "vera",
        "first_name": "Vera",
        "last_name": "Ivanova",
        "email": "vera@example.com",
        "role": "support",
        "password1": "a long initial password",
        "password2": "a long initial password",
    } | data


@pytest.mark.parametrize("role", ["manager", "support"])
def test_only_admins_reach_the_users_pages(client: Client, role: str) -> None:
    other = make_user("other", role="manager")
    client.force_login(make_user("someone", role=role))
    assert client.get(reverse("web:users")).status_code == 403
    assert client.get(reverse("web:user_create")).status_code == 403
    assert client.post(reverse("web:user_create"), new_user()).status_code == 403
    assert client.post(reverse("web:user_role", args=[other.pk]), {"role": "admin"}).status_code == 403
    assert client.post(reverse("web:user_active", args=[other.pk]), {"active": "0"}).status_code == 403
    assert roles_of(fresh(other)) == {"manager"} and fresh(other).is_active
    assert not User.objects.filter(username="vera").exists()


def test_wrong_methods_are_refused(admin_client: Client) -> None:
    other = make_user("other", role="manager")
    assert admin_client.get(reverse("web:user_role", args=[other.pk])).status_code == 405
    assert admin_client.get(reverse("web:user_active", args=[other.pk])).status_code == 405
    assert admin_client.post(reverse("web:users")).status_code == 405
    assert admin_client.put(reverse("web:user_create")).status_code == 405


def test_the_list_shows_every_user_with_its_role(admin_client: Client) -> None:
    make_user("anna", role="manager")
    make_user("sam", role="support")
    make_user("nobody")
    body = admin_client.get(reverse("web:users")).content.decode()
    assert "anna" in body and "sam" in body and "nobody" in body
    anna_row = body.split(">anna<")[1].split("</tr>")[0]
    assert '<option value="manager" selected>' in anna_row
    assert "— no role —" in body.split(">nobody<")[1].split("</tr>")[0]
    assert "superuser" in body  # the admin_client's own row


def test_an_admin_creates_a_user_who_can_log_in_with_the_role(admin_client: Client, client: Client) -> None:
    response = admin_client.post(reverse("web:user_create"), new_user())
    assert response.status_code == 302 and response["Location"] == reverse("web:users")
    vera = User.objects.get(username="vera")
    assert roles_of(vera) == {"support"} and vera.is_active and not vera.is_staff
    assert vera.get_full_name() == "Vera Ivanova"
    assert logs_in(client, "vera", "a long initial password")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password2": "something else"}, "password2", "The two passwords differ."),
        ({"password1": "short", "password2": "short"}, "password1", "This password is too short."),
        ({"role": "root"}, "role", "Select a valid choice."),
        ({"username": "has space"}, "username", "Enter a valid username."),
        ({"username": ""}, "username", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ],
)
def test_bad_input_to_the_create_form_is_a_form_error(
    admin_client: Client, data: dict[str, str], field: str, message: str
) -> None:
    response = admin_client.post(reverse("web:user_create"), new_user(**data))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(username="vera").exists()


def test_a_taken_user_name_is_a_form_error(admin_client: Client) -> None:
    make_user("Vera", role="manager")
    response = admin_client.post(reverse("web:user_create"), new_user())
    assert response.status_code == 400 and "This user name is taken." in response.content.decode()


def test_the_password_is_never_echoed(admin_client: Client) -> None:
    response = admin_client.post(reverse("web:user_create"), new_user(password2="a long other password"))
    body = response.content.decode()
    assert "a long initial password" not in body and "a long other password" not in body


def test_an_admin_changes_a_role(admin_client: Client) -> None:
    anna = make_user("anna", role="manager")
    response = admin_client.post(reverse("web:user_role", args=[anna.pk]), {"role": "support"}, follow=True)
    assert "anna is now support." in response.content.decode()
    assert roles_of(fresh(anna)) == {"support"}


def test_htmx_gets_the_updated_row(admin_client: Client) -> None:
    anna = make_user("anna", role="manager")
    response = admin_client.post(
        reverse("web:user_role", args=[anna.pk]), {"role": "admin"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith(f'<tr id="user-{anna.pk}">') and "<html" not in body
    assert '<option value="admin" selected>' in body
    assert roles_of(fresh(anna)) == {"admin"}


@pytest.mark.parametrize("data", [{"role": "root"}, {"role": ""}, {}])
def test_a_bad_role_is_a_form_error(admin_client: Client, data: dict[str, str]) -> None:
    anna = make_user("anna", role="manager")
    response = admin_client.post(reverse("web:user_role", args=[anna.pk]), data)
    assert response.status_code == 400 and 'class="errorlist"' in response.content.decode()
    assert roles_of(fresh(anna)) == {"manager"}
    htmx = admin_client.post(reverse("web:user_role", args=[anna.pk]), data, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and 'class="errorlist"' in htmx.content.decode()


def test_an_admin_cannot_change_or_deactivate_themselves(client: Client) -> None:
    olga = make_user("olga", role="admin")
    client.force_login(olga)
    response = client.post(reverse("web:user_role", args=[olga.pk]), {"role": "manager"})
    assert response.status_code == 400 and "ask another administrator" in response.content.decode()
    response = client.post(reverse("web:user_active", args=[olga.pk]), {"active": "0"})
    assert response.status_code == 400
    assert roles_of(fresh(olga)) == {"admin"} and fresh(olga).is_active


def test_a_superusers_role_is_not_changed_here(admin_client: Client) -> None:
    root = User.objects.create_superuser("root2", "root2@example.com", "pw")
    response = admin_client.post(reverse("web:user_role", args=[root.pk]), {"role": "manager"})
    assert response.status_code == 400 and "always an administrator" in response.content.decode()
    assert not fresh(root).groups.exists()


def test_deactivating_ends_access_and_reactivating_restores_it(admin_client: Client, client: Client) -> None:
    anna = make_user("anna", role="manager")
    client.force_login(anna)
    assert client.get(reverse("web:orders")).status_code == 200
    response = admin_client.post(reverse("web:user_active", args=[anna.pk]), {"active": "0"}, follow=True)
    assert "anna is deactivated." in response.content.decode()
    assert not fresh(anna).is_active
    assert client.get(reverse("web:orders")).status_code == 302  # the session no longer counts
    assert not logs_in(client, "anna", "pw")
    admin_client.post(reverse("web:user_active", args=[anna.pk]), {"active": "1"})
    assert fresh(anna).is_active and logs_in(client, "anna", "pw")


@pytest.mark.parametrize("data", [{"active": "maybe"}, {}])
def test_a_bad_active_flag_is_a_form_error(admin_client: Client, data: dict[str, str]) -> None:
    anna = make_user("anna", role="manager")
    response = admin_client.post(reverse("web:user_active", args=[anna.pk]), data)
    assert response.status_code == 400 and fresh(anna).is_active


def test_an_unknown_user_is_a_404(admin_client: Client) -> None:
    assert admin_client.post(reverse("web:user_role", args=[9999]), {"role": "manager"}).status_code == 404
