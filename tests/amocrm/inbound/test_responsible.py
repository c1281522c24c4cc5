"""amoCRM's responsible_lead reaches the order through the amoCRM user's link; an unlinked user, our own
push coming back, and a console change not pushed yet leave the order's responsible as it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from console.amocrm.models import AmoUser, OrderSync
from console.amocrm.reasons import codes
from console.orders.models import Order
from tests.amocrm.inbound.hookbodies import T0, hook_body, last_row, lead_item
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db


def _hook(lead_id: int, amo_user: int, modified: int = T0) -> dict[str, Any]:
    item = lead_item(lead_id, "new", modified, responsible_user_id=amo_user)
    return hook_body({"leads": {"responsible": [item]}})


def test_a_responsible_changed_in_amocrm_reaches_the_order(post: Callable[..., Any], link: Callable) -> None:
    boris = make_user("boris")
    AmoUser.objects.create(amo_id=7002, name="Boris", console_user=boris)
    order = link(5001)

    post(_hook(5001, 7002))

    order.refresh_from_db()
    assert order.responsible == boris
    assert "responsible_set" in codes(last_row().results[0]["reasons"])
    sync = OrderSync.objects.get(order=order)  # amoCRM's own change is not pushed back (an echo)
    assert (sync.state, sync.task_pending) == (OrderSync.State.SYNCED, False)
    post(_hook(5001, 7002, T0 + 60))  # the same again (our push of it coming back): nothing changes
    assert "responsible_set" not in codes(last_row().results[0]["reasons"])


def test_an_unlinked_amocrm_user_leaves_the_responsible_with_a_reason(
    post: Callable[..., Any], link: Callable
) -> None:
    anna = make_user("anna")
    AmoUser.objects.create(amo_id=7099, name="Vera")
    order = link(5001)
    Order.objects.filter(pk=order.pk).update(responsible=anna)

    post(_hook(5001, 7099))

    order.refresh_from_db()
    assert order.responsible == anna
    assert "responsible_unknown_user" in codes(last_row().results[0]["reasons"])


def test_a_console_change_not_pushed_yet_wins(post: Callable[..., Any], link: Callable) -> None:
    anna, boris = make_user("anna"), make_user("boris")
    AmoUser.objects.create(amo_id=7002, name="Boris", console_user=boris)
    order = link(5001)
    Order.objects.filter(pk=order.pk).update(responsible=anna)
    OrderSync.objects.filter(order=order).update(state=OrderSync.State.QUEUED)

    post(_hook(5001, 7002))

    order.refresh_from_db()
    assert order.responsible == anna
    assert "responsible_local_wins" in codes(last_row().results[0]["reasons"])
