"""Login throttling (django-axes): failures per user name + client address lock logging in for a while."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-one"


@pytest.fixture
def manager(db: Any) -> Any:
    user = make_user("anna", role="manager")
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(client: Client, password: str, username: str = "anna", **extra: str) -> Any:
    return client.post("/login/", {"username": username, "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_fifty_wrong_passwords_lock_out_the_right_one(client: Client, manager: Any) -> None:
    for attempt in range(50):
        log_in(client, f"guess-{attempt}")
    response = log_in(client, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)


def test_the_login_page_says_that_logging_in_is_locked(client: Client, manager: Any, settings: Any) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        assert log_in(client, f"guess-{attempt}").status_code in (200, 429)
    page = log_in(client, PASSWORD).content.decode()
    assert "Too many failed attempts" in page and "locked for 15 minutes" in page
    assert 'name="password"' in page  # the form is still there for later


def test_the_lock_is_per_user_name_and_address(client: Client, manager: Any, settings: Any) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess-{attempt}")
    assert log_in(client, PASSWORD).status_code == 429
    assert log_in(Client(), PASSWORD, REMOTE_ADDR="198.51.100.9").status_code == 302  # anna, elsewhere


def test_a_forged_x_forwarded_for_does_not_reset_the_count(
    client: Client, manager: Any, settings: Any
) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess-{attempt}", HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}")
    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


def test_fewer_failures_than_the_limit_still_let_the_user_in(
    client: Client, manager: Any, settings: Any
) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, f"guess-{attempt}")
    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)
