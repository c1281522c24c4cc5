"""amoCRM's error 244 (no rights to add deals) and a JSON 403 are an account-permissions kind ("rights"),
explained to the admin, not a data error for the manager to fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import translation

from console.amocrm.api.errors import error_from_response, error_kind, rights_code
from console.amocrm.models import OrderSync
from console.amocrm.outbound import controls
from console.orders.models import Order
from console.web.errors import MESSAGES
from tests.fixtures.sync import committed


def _error(status: int, text: str) -> Any:
    return error_from_response(
        status=status,
        text=text,
        content_type="application/problem+json",
        request_id="r",
        method="POST",
        path="/api/v4/leads",
        redact_fn=lambda s: s,
    )


def test_error_244_and_a_json_403_read_as_rights_and_a_plain_400_stays_validation() -> None:
    assert error_kind(_error(400, '{"detail": "Код ошибки 244. В случае повторного..."}')) == "rights"
    assert error_kind(_error(403, '{"title": "Forbidden", "detail": "Access denied"}')) == "rights"
    assert error_kind(_error(400, '{"detail": "Bad request"}')) == "validation"
    assert rights_code("Код ошибки 245.") is None


@pytest.mark.django_db
def test_a_deal_refused_for_lack_of_rights_fails_as_rights_with_words_for_the_admin(
    amo: Any, make_order: Callable[..., Order]
) -> None:
    take = {"user_id": 100001, "entity": "leads", "action": "add", "value": "D"}
    amo.control("POST", "rights", take)
    order = make_order()
    try:
        with committed():
            controls.orders_push_bulk(order_ids=[order.pk], trigger="bulk:anna")
    finally:
        amo.control("POST", "rights", dict(take, value="A"))

    sync = OrderSync.objects.get(order=order)
    assert (sync.state, sync.error_kind) == ("failed", "rights")
    with translation.override("ru"):
        assert "администратор" in str(MESSAGES["rights"][1]).lower()
