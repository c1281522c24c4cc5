"""The account's loss reasons, refreshed into ``LossReason`` (hourly, and after account setup).

``GET /api/v4/leads/loss_reasons`` (https://www.amocrm.ru/developers/content/crm_platform/leads-api, the
``loss_reason_id`` of a lead) lists them; 204 means the account has none. A reason gone from the list is
deleted here: an order lost with it keeps the name and the reason is no longer sent.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from console.amocrm.account.access import account_client
from console.amocrm.api.client import AmoCRMClient
from console.amocrm.models import LossReason


def loss_reasons_refresh(*, client: AmoCRMClient | None = None) -> int:
    """Read the account's reasons and store them (names, order); returns how many the account has."""
    reasons = [r for r in (client or account_client()).iter_loss_reasons() if isinstance(r.get("id"), int)]
    now = timezone.now()
    with transaction.atomic():
        for item in reasons:
            LossReason.objects.update_or_create(
                id=item["id"],
                defaults={
                    "name": str(item.get("name") or item["id"])[:255],
                    "sort": int(item.get("sort") or 0),
                    "refreshed_at": now,
                },
            )
        LossReason.objects.exclude(id__in=[r["id"] for r in reasons]).delete()
    return len(reasons)
