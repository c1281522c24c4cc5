"""A deal's responsible user coming back to its order (the ``responsible_lead`` webhook, or a re-read deal):
https://www.amocrm.ru/developers/content/crm_platform/webhooks-format

The amoCRM user is mapped to a console user through ``AmoUser``'s link; an unlinked user leaves the order as
it is (a reason says so). Our own push comes back as the id we sent: the same manager, a no-op. A change made
in the console and not yet pushed wins over what the deal still shows.
"""

from __future__ import annotations

from django.db import transaction

from console.amocrm.inbound.rules import ItemResult, Outcome
from console.amocrm.models import AmoUser, OrderSync
from console.amocrm.reasons import Code, reason
from console.amocrm.responsible import amo_user_id_for_order
from console.orders.services import order_set_responsible

ACTOR = "amocrm"


def responsible_observe(*, lead_id: int, amo_user_id: int | None, told: bool = True) -> ItemResult | None:
    """Apply the deal's ``responsible_user_id`` to its order; ``None`` when nothing changes (no id, no
    linked order, or the order's manager already is that amoCRM user). ``told``: the event is about the
    responsible (``responsible_lead``), so an unlinked user is worth a reason; an update or a stage event
    that merely carries the field says nothing of it."""
    if not amo_user_id:
        return None
    with transaction.atomic():
        sync = OrderSync.objects.select_for_update().select_related("order").filter(lead_id=lead_id).first()
        if sync is None or not sync.order.is_active or amo_user_id_for_order(sync.order) == amo_user_id:
            return None
        result = ItemResult(outcome=Outcome.IGNORED, id=lead_id, order_id=sync.order_id)
        user = AmoUser.objects.filter(amo_id=amo_user_id).exclude(console_user=None).first()
        if user is None:
            if not told or sync.order.responsible_id is None or not AmoUser.objects.exists():
                # Not about the responsible; or amoCRM's default (the connecting user) on an order we sent
                # without one; or the account's users not fetched yet: nothing to say.
                return None
            result.reasons = [reason(Code.RESPONSIBLE_UNKNOWN_USER, amo_user=amo_user_id)]
            return result
        if sync.state != OrderSync.State.SYNCED:
            result.outcome = Outcome.STALE
            result.reasons = [reason(Code.RESPONSIBLE_LOCAL_WINS)]
            return result
        console_user = user.console_user
        order_set_responsible(order=sync.order, responsible=console_user, origin="amocrm", actor=ACTOR)
        result.outcome = Outcome.APPLIED
        result.reasons = [reason(Code.RESPONSIBLE_SET, user=console_user.get_username())]
        return result
