"""Account setup: make the amoCRM account ready for the sync, idempotently.

``account_setup`` ensures the lead custom fields the sync writes (ids stored on the connection), the products
catalog with its SKU and PRICE fields, the local cache of pipelines and stages, the stage map (seeded, never
overwritten) and our webhook subscription. A second run makes only reads in amoCRM.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.amocrm.client import AmoCRMClient
from console.amocrm.models import (
    LOST_STATUS_ID,
    WON_STATUS_ID,
    AmoConnection,
    Pipeline,
    PipelineStatus,
    StageMapping,
)
from console.orders.models import Order

logger = logging.getLogger(__name__)

# Our key -> the field created in amoCRM when missing. Found again by ``code``, else by exact name.
LEAD_FIELDS: dict[str, dict[str, Any]] = {
    "order_number": {"name": "Номер заказа", "type": "text", "code": "ORDER_NUMBER"},
    "installation_date": {"name": "Дата монтажа", "type": "date", "code": "INSTALLATION_DATE"},
    "dismantle_date": {"name": "Дата демонтажа", "type": "date", "code": "DISMANTLE_DATE"},
    "delivery_method": {"name": "Способ доставки", "type": "text", "code": "DELIVERY_METHOD"},
    "delivery_address": {"name": "Адрес доставки", "type": "text", "code": "DELIVERY_ADDRESS"},
    "source": {"name": "Источник заказа", "type": "text", "code": "ORDER_SOURCE"},
}
WEBHOOK_EVENTS = ["add_lead", "update_lead", "status_lead", "delete_lead"]
WEBHOOK_PATH = "/amocrm/webhook/{secret}/"
# Order statuses placed on the main pipeline's ordinary stages by position when nothing else says otherwise.
POSITIONAL_STATUSES = ["new", "reserved", "in_rent", "in_progress"]
FIXED_STATUSES = {"archived": WON_STATUS_ID, "cancelled": LOST_STATUS_ID}


@dataclass
class SetupReport:
    """What a run did; ``calls`` counts HTTP requests, ``writes`` the ones that changed amoCRM."""

    created_fields: list[str] = field(default_factory=list)
    catalog: dict[str, int] = field(default_factory=dict)
    pipelines: int = 0
    seeded_statuses: list[str] = field(default_factory=list)
    deactivated_statuses: list[str] = field(default_factory=list)
    webhook: str = ""
    notes: list[str] = field(default_factory=list)
    calls: int = 0

    def summary(self) -> str:
        parts = [
            f"fields created: {', '.join(self.created_fields) or 'none'}",
            f"pipelines cached: {self.pipelines}",
            f"stage map seeded: {', '.join(self.seeded_statuses) or 'nothing new'}",
            f"webhook: {self.webhook}",
            f"{self.calls} API calls",
        ]
        return "; ".join(parts + self.notes)


def webhook_destination(*, connection: AmoConnection, base_url: str | None = None) -> str:
    """Our webhook URL (carries the secret: never log it unredacted). Empty when no public base URL is set."""
    base = (base_url if base_url is not None else settings.AMOCRM_WEBHOOK_BASE_URL).rstrip("/")
    if not base:
        return ""
    return base + WEBHOOK_PATH.format(secret=connection.webhook_secret)


def account_setup(*, connection_id: int = 1, webhook_base_url: str | None = None) -> SetupReport:
    """Run every setup step against the connected account; raises the client's typed errors."""
    connection = AmoConnection.objects.get(pk=connection_id)
    client = AmoCRMClient(connection)
    report = SetupReport()
    _account_info(client, connection)
    _lead_fields(client, connection, report)
    _products_catalog(client, connection, report)
    _pipelines(client, report)
    _stage_map(report)
    _webhook(client, connection, report, webhook_base_url)
    connection.setup_completed_at = timezone.now()
    connection.save(
        update_fields=[
            "account_id",
            "subdomain",
            "account_name",
            "lead_field_ids",
            "products_catalog_id",
            "product_sku_field_id",
            "product_price_field_id",
            "webhook_destination_hint",
            "setup_completed_at",
            "updated_at",
        ]
    )
    report.calls = client.calls
    logger.info("AmoCRM account setup: %s", report.summary())
    return report


def _account_info(client: AmoCRMClient, connection: AmoConnection) -> None:
    account = client.get_account()
    connection.account_id = account.get("id") or connection.account_id
    connection.subdomain = account.get("subdomain") or connection.subdomain
    connection.account_name = account.get("name") or connection.account_name


# Field types that hold what we write: an admin's "textarea" address works as well as our "text".
COMPATIBLE_TYPES = {"text": {"text", "textarea"}, "date": {"date", "date_time"}}


def _find_field(existing: list[dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any] | None:
    """An existing field for ``spec``: same code, else same name (case-insensitive) and a compatible type."""
    types = COMPATIBLE_TYPES.get(spec["type"], {spec["type"]})
    name = spec["name"].casefold()
    by_code = [f for f in existing if spec["code"] and f.get("code") == spec["code"]]
    by_name = [f for f in existing if str(f.get("name", "")).casefold() == name and f.get("type") in types]
    return (by_code or by_name or [None])[0]


def _lead_fields(client: AmoCRMClient, connection: AmoConnection, report: SetupReport) -> None:
    existing = client.list_custom_fields("leads")
    ids: dict[str, int] = {}
    missing: list[tuple[str, dict[str, Any]]] = []
    for key, spec in LEAD_FIELDS.items():
        found = _find_field(existing, spec)
        if found:
            ids[key] = int(found["id"])
        else:
            missing.append((key, spec))
    if missing:
        created = client.create_custom_fields("leads", [spec for _key, spec in missing])
        for key, spec in missing:
            found = _find_field(created, spec) or _find_field(client.list_custom_fields("leads"), spec)
            if found is None:
                raise RuntimeError(f"AmoCRM did not create the lead field {spec['name']!r}")
            ids[key] = int(found["id"])
            report.created_fields.append(key)
    connection.lead_field_ids = ids


def _products_catalog(client: AmoCRMClient, connection: AmoConnection, report: SetupReport) -> None:
    catalog = client.ensure_products_catalog()
    connection.products_catalog_id = catalog["catalog_id"]
    connection.product_sku_field_id = catalog["sku_field_id"]
    connection.product_price_field_id = catalog["price_field_id"]
    report.catalog = catalog


@transaction.atomic
def pipelines_cache_store(*, pipelines: list[dict[str, Any]]) -> int:
    """Replace the local cache of pipelines and stages with amoCRM's ``pipelines``; returns the count."""
    seen = []
    for data in pipelines:
        pipeline, _created = Pipeline.objects.update_or_create(
            amo_id=data["id"],
            defaults={
                "name": data.get("name") or str(data["id"]),
                "sort": data.get("sort") or 0,
                "is_main": bool(data.get("is_main")),
                "is_archive": bool(data.get("is_archive")),
            },
        )
        seen.append(pipeline.pk)
        statuses = (data.get("_embedded") or {}).get("statuses") or []
        for status in statuses:
            PipelineStatus.objects.update_or_create(
                pipeline=pipeline,
                status_id=status["id"],
                defaults={
                    "name": status.get("name") or str(status["id"]),
                    "sort": status.get("sort") or 0,
                    "type": status.get("type") or 0,
                    "color": status.get("color") or "",
                },
            )
        pipeline.statuses.exclude(status_id__in=[s["id"] for s in statuses]).delete()
    Pipeline.objects.exclude(pk__in=seen).delete()
    return len(seen)


def _pipelines(client: AmoCRMClient, report: SetupReport) -> None:
    report.pipelines = pipelines_cache_store(pipelines=client.list_pipelines())


def _main_pipeline() -> Pipeline | None:
    return Pipeline.objects.filter(is_main=True).first() or Pipeline.objects.filter(is_archive=False).first()


def _stage_exists(pipeline_id: int, status_id: int) -> bool:
    return PipelineStatus.objects.filter(pipeline__amo_id=pipeline_id, status_id=status_id).exists()


def _env_stage(status: str) -> tuple[int, int] | None:
    pipeline, stage = settings.AMO_PIPELINE_ID, settings.AMO_STATUS_MAP_ENV.get(status, "")
    if not (pipeline and stage):
        return None
    try:
        return int(pipeline), int(stage)
    except ValueError:
        logger.warning("AMO_PIPELINE_ID / AMO_STATUS_%s are not numbers; ignored", status.upper())
        return None


def stage_defaults() -> dict[str, tuple[int, int]]:
    """Initial stage per order status: the environment's map, else the main pipeline by position, 142/143."""
    main = _main_pipeline()
    ordinary = []
    if main is not None:
        ordinary = [
            s.status_id
            for s in main.statuses.filter(type=0).exclude(status_id__in=[WON_STATUS_ID, LOST_STATUS_ID])
        ]
    defaults: dict[str, tuple[int, int]] = {}
    for status in Order.Status.values:
        env_stage = _env_stage(status)
        if env_stage and (_stage_exists(*env_stage) or not Pipeline.objects.exists()):
            defaults[status] = env_stage
        elif main is not None and status in FIXED_STATUSES:
            defaults[status] = (main.amo_id, FIXED_STATUSES[status])
        elif main is not None and ordinary and status in POSITIONAL_STATUSES:
            index = min(POSITIONAL_STATUSES.index(status), len(ordinary) - 1)
            defaults[status] = (main.amo_id, ordinary[index])
    return defaults


def _stage_map(report: SetupReport) -> None:
    """Seed missing rows; an existing row is the admin's choice and stays, unless its stage disappeared."""
    existing = {m.order_status: m for m in StageMapping.objects.all()}
    for status, (pipeline_id, status_id) in stage_defaults().items():
        if status not in existing:
            StageMapping.objects.create(order_status=status, pipeline_id=pipeline_id, status_id=status_id)
            report.seeded_statuses.append(status)
    if not Pipeline.objects.exists():
        return
    for status, mapping in existing.items():
        if mapping.is_active and not _stage_exists(mapping.pipeline_id, mapping.status_id):
            StageMapping.objects.filter(pk=mapping.pk).update(is_active=False)
            report.deactivated_statuses.append(status)
            report.notes.append(f"stage of {status!r} no longer exists in amoCRM: mapping disabled")


def _webhook(
    client: AmoCRMClient, connection: AmoConnection, report: SetupReport, base_url: str | None
) -> None:
    destination = webhook_destination(connection=connection, base_url=base_url)
    if not destination:
        report.webhook = "not subscribed (AMOCRM_WEBHOOK_BASE_URL is not set)"
        return
    prefix = destination.split("/amocrm/webhook/")[0] + "/amocrm/webhook/"
    hooks = client.list_webhooks()
    for hook in hooks:
        # An older URL of ours (the secret was rotated): remove it so stale secrets stop working.
        if hook.get("destination", "").startswith(prefix) and hook.get("destination") != destination:
            client.unsubscribe_webhook(hook["destination"])
    current = next((h for h in hooks if h.get("destination") == destination), None)
    if current and set(WEBHOOK_EVENTS) <= set(current.get("settings") or []) and not current.get("disabled"):
        report.webhook = "already subscribed"
    else:
        client.subscribe_webhook(destination, WEBHOOK_EVENTS)
        report.webhook = "subscribed"
    connection.webhook_destination_hint = prefix + "***/"
