"""The webhook intake's body bound (``WEBHOOK_MAX_BODY``): a larger body is stored as invalid, never read."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.amocrm.models import AmoConnection
from console.amocrm.reasons import Code, reason
from tests.amocrm.inbound.hookbodies import SECRET, T0, hook_body, last_row, lead_item
from tests.fixtures.bodies import UnreadableInput

pytestmark = pytest.mark.django_db


def test_a_body_over_webhook_max_body_is_stored_as_invalid_without_being_read(
    client: Client, connection: AmoConnection, settings: Any
) -> None:
    body = UnreadableInput()
    response = client.generic(
        "POST",
        reverse("amocrm:webhook", args=[SECRET]),
        b"account[id]=1",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(settings.WEBHOOK_MAX_BODY + 1),
        **{"wsgi.input": body},
    )
    assert response.status_code == 200
    assert body.reads == 0
    row = last_row()
    assert row.outcome == "invalid" and bytes(row.body) == b""
    limit = settings.WEBHOOK_MAX_BODY
    assert row.reasons == [reason(Code.BODY_TOO_LARGE, size=limit + 1, limit=limit)]


def test_a_body_within_the_bound_is_read_and_stored(post: Any, settings: Any) -> None:
    body = hook_body({"leads": {"status": [lead_item(1, "reserved", T0)]}})
    settings.WEBHOOK_MAX_BODY = len(body.encode())
    assert post(body, process=False).status_code == 200
    assert bytes(last_row().body) == body.encode() and last_row().outcome == "pending"


def test_the_default_bound_is_one_mebibyte(settings: Any) -> None:
    assert settings.WEBHOOK_MAX_BODY == 1024 * 1024
