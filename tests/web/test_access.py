"""Access to the console: every page needs a login; a user without the right role gets the friendly 403 page
(templates/403.html) naming the role needed and the administrators to ask; the navigation shows what the
user may open."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, get_resolver, reverse

from console.roles import can
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db


def console_urls() -> list[str]:
    """Every URL of the console (``web:`` namespace), with 1 for each path argument."""
    urls = []
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) != "web":
            continue
        for route in pattern.url_patterns:
            assert isinstance(route, URLPattern)
            path = "/" + re.sub(r"<[^>]+>", "1", str(route.pattern))
            urls.append(path)
    return urls


@pytest.mark.parametrize("url", console_urls())
def test_every_console_page_needs_a_login(client: Client, url: str) -> None:
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code in (302, 405), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize("url", console_urls())
def test_a_user_without_a_role_opens_nothing(client: Client, url: str) -> None:
    client.force_login(make_user("nobody"))
    for method in (client.get, client.post):
        assert method(url).status_code in (403, 405), url


def test_the_403_page_names_the_role_and_the_administrators_to_ask(client: Client) -> None:
    make_user("boss", role="admin", first_name="Olga", last_name="Boss")
    client.force_login(make_user("anna", role="manager"))
    response = client.get(reverse("web:users"))
    body = response.content.decode()
    assert response.status_code == 403
    assert "You cannot open this page" in body  # templates/403.html, extending base.html
    assert "This needs the role: administrator." in body and "Olga Boss" in body
    assert 'href="' + reverse("web:connection") + '"' not in body  # the nav of a manager


def test_the_403_of_a_user_without_a_role_has_no_navigation(client: Client) -> None:
    client.force_login(make_user("nobody"))
    body = client.get(reverse("web:stage_map")).content.decode()
    assert "without a console role" in body and "This needs the role: support, administrator." in body


def nav_labels(client: Client) -> list[str]:
    body = client.get(reverse("web:stage_map")).content.decode()
    nav = body.split('<nav id="console-nav"')[1].split(">", 1)[1].split("</nav>")[0]
    return re.findall(r">([^<>]+)</a>", nav)


def test_support_sees_the_stage_map_and_connection_but_not_users(client: Client) -> None:
    client.force_login(make_user("sam", role="support"))
    labels = nav_labels(client)
    assert "Stage map" in labels and "AmoCRM connection" in labels
    assert "Users" not in labels and "Admin" not in labels


def test_admins_see_users_and_dashboard_comes_first(admin_client: Client) -> None:
    labels = nav_labels(admin_client)
    assert "Users" in labels and "Admin" in labels
    try:
        reverse("web:dashboard")
    except NoReverseMatch:  # the dashboard page is another change's; until it exists the nav skips it
        assert "Dashboard" not in labels
    else:
        assert labels[0] == "Dashboard"


def test_an_admin_role_without_staff_status_gets_no_admin_site_link(client: Client) -> None:
    user = make_user("ola", role="admin")
    user.is_staff = False
    user.save()
    client.force_login(user)
    assert can(user, "setup")
    assert "Admin" not in nav_labels(client)
