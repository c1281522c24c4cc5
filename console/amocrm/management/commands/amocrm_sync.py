"""``manage.py amocrm_sync``: push orders to amoCRM from the shell (now, in this process)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from console.amocrm.models import OrderSync
from console.amocrm.outbound.engine import orders_sync_run
from console.amocrm.outbound.queueing import order_sync_state
from console.amocrm.outbound.retries import sync_due_retries
from console.orders.models import Order


class Command(BaseCommand):
    help = "Sync orders to AmoCRM now: the given order ids, or --all-unsynced, or --due (retries due)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("order_ids", nargs="*", type=int)
        parser.add_argument("--all-unsynced", action="store_true", help="every order never synced")
        parser.add_argument("--due", action="store_true", help="enqueue the retries that are due")

    def handle(self, *args: Any, order_ids: list[int], all_unsynced: bool, due: bool, **options: Any) -> None:
        if due:
            self.stdout.write(f"enqueued {sync_due_retries()} due retries")
            return
        ids = list(order_ids)
        if all_unsynced:
            synced = OrderSync.objects.exclude(state=OrderSync.State.NOT_SYNCED).values("order_id")
            ids += list(Order.objects.exclude(pk__in=synced).values_list("pk", flat=True))
        for order in Order.objects.filter(pk__in=ids):
            order_sync_state(order=order)
        outcomes = {}
        for start in range(0, len(ids), 200):
            outcomes.update(orders_sync_run(order_ids=ids[start : start + 200], trigger="manager:shell"))
        for order_id in ids:
            self.stdout.write(f"order {order_id}: {outcomes.get(order_id, 'not claimed')}")
