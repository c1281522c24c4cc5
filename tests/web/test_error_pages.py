"""The console's own 404 and 500 pages: in Russian, in the console's layout (not Django's bare English)."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.defaults import server_error

from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db


def test_a_missing_order_answers_a_russian_404_in_the_console_layout() -> None:
    client = Client()
    client.force_login(make_user("anna", role="manager"))
    response = client.get(reverse("web:order_detail", args=[99999]), HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Страница не найдена" in html and "Not Found" not in html
    assert 'id="not-found"' in html and 'class="brand"' in html  # in the console's layout
    assert f'href="{reverse("web:orders")}"' in html  # its navigation


def test_the_500_page_is_russian_and_needs_no_request_context() -> None:
    with translation.override("ru"):
        response = server_error(RequestFactory().get("/orders/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Что-то пошло не так" in html and "Server Error" not in html
