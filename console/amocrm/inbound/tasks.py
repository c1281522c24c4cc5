"""A task webhook marks the order's task done or open again (``task[add|update|responsible][i]``, ``status``
0 open / 1 done): https://www.amocrm.ru/developers/content/crm_platform/webhooks-format

Closing a task from amoCRM's Tasks section with a result sends two hooks (close, then result); the second
finds the task already done and changes nothing, so the pair is handled once.
"""

from __future__ import annotations

from typing import Any

from console.amocrm.inbound.items import WebhookItem
from console.amocrm.inbound.rules import ItemResult, Outcome
from console.amocrm.models import OrderTask
from console.amocrm.reasons import Code, reason


def task_observe(*, amo_id: int, completed: bool) -> ItemResult:
    """Record what amoCRM says of task ``amo_id`` on the order's task (the webhook and reconciliation)."""
    row = OrderTask.objects.filter(amo_id=amo_id).first()
    if row is None:
        return ItemResult(outcome=Outcome.IGNORED, reasons=[reason(Code.TASK_NOT_OURS)], entity="task")
    result = ItemResult(outcome=Outcome.IGNORED, entity="task", id=amo_id, order_id=row.order_id)
    if row.completed == completed:
        result.reasons = [reason(Code.TASK_SAME, kind=row.kind)]
        return result
    OrderTask.objects.filter(pk=row.pk).update(completed=completed)
    result.outcome = Outcome.APPLIED
    result.reasons = [reason(Code.TASK_DONE if completed else Code.TASK_REOPENED, kind=row.kind)]
    return result


def task_changed(item: WebhookItem, client_factory: Any) -> ItemResult:
    """add, update, responsible of a task: its ``status`` is whether it is done."""
    if item.id is None:
        return ItemResult(outcome=Outcome.INVALID, reasons=[reason(Code.NO_TASK_ID)], entity="task")
    return task_observe(amo_id=item.id, completed=str(item.fields.get("status", "0")) == "1")
