"""Account setup: make the amoCRM account ready for the sync, idempotently.

``account_setup`` ensures the lead and company custom fields the sync writes (``console.amocrm.fields``; ids
stored on the connection), the products catalog with its SKU and PRICE fields, the local cache of pipelines
and stages, the stage map (seeded by ``console.amocrm.stagemap``, never overwritten) and our webhook
subscription. A second run makes only reads in amoCRM.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from console.amocrm import stagemap
from console.amocrm.account.access import account_client
from console.amocrm.account.oauth import tokens_forget
from console.amocrm.account.users import users_refresh
from console.amocrm.api.client import AmoCRMClient
from console.amocrm.api.errors import AmoCRMError
from console.amocrm.fields import COMPANY_FIELDS, LEAD_SELECTS, lead_field_specs, select_options
from console.amocrm.models import AmoConnection, Pipeline, PipelineStatus

logger = logging.getLogger(__name__)

WEBHOOK_EVENTS = ["add_lead", "update_lead", "status_lead", "delete_lead", "restore_lead"]
# A linked contact's or company's edits come back (``inbound.parties``).
WEBHOOK_EVENTS += ["add_contact", "update_contact", "delete_contact", "add_company", "update_company"]
# An order's task done in amoCRM (``inbound.tasks``).
WEBHOOK_EVENTS += ["add_task", "update_task"]
WEBHOOK_PATH = "/amocrm/webhook/{secret}/"
PRODUCT_FIELDS = [
    ("SKU", {"name": "Артикул", "type": "text", "code": "SKU"}),
    ("PRICE", {"name": "Цена", "type": "price", "code": "PRICE"}),
]


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
    client = account_client(connection)
    report = SetupReport()
    _account_info(client, connection)
    connection.lead_field_ids, existing = _fields_ensure(client, "leads", lead_field_specs(), report)
    connection.lead_field_enums = _enums(existing, connection.lead_field_ids)
    connection.company_field_ids, _existing = _fields_ensure(client, "companies", COMPANY_FIELDS, report)
    _products_catalog(client, connection, report)
    _pipelines(client, report)
    seeded = stagemap.stage_map_seed()
    report.seeded_statuses, report.deactivated_statuses = seeded.created, seeded.deactivated
    report.notes += seeded.notes
    _webhook(client, connection, report, webhook_base_url)
    users_refresh(client)
    connection.setup_completed_at = timezone.now()
    connection.save(
        update_fields=[
            "account_id",
            "subdomain",
            "account_name",
            "lead_field_ids",
            "lead_field_enums",
            "company_field_ids",
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
COMPATIBLE_TYPES = {
    "text": {"text", "textarea"},
    "textarea": {"textarea", "text"},
    "date": {"date", "date_time"},
}


def _find_field(existing: list[dict[str, Any]], spec: dict[str, Any]) -> dict[str, Any] | None:
    """An existing field for ``spec``: same code, else same name (case-insensitive) and a compatible type."""
    types = COMPATIBLE_TYPES.get(spec["type"], {spec["type"]})
    name = spec["name"].casefold()
    by_code = [f for f in existing if spec["code"] and f.get("code") == spec["code"]]
    by_name = [f for f in existing if str(f.get("name", "")).casefold() == name and f.get("type") in types]
    return (by_code or by_name or [None])[0]


def _fields_ensure(
    client: AmoCRMClient, entity: str, specs: dict[str, dict[str, Any]], report: SetupReport
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    # https://www.amocrm.ru/developers/content/crm_platform/custom-fields
    """``{our key: field id}`` for ``specs`` on ``entity``, creating the missing fields; and the fields as
    amoCRM lists them (with their enums)."""
    existing = client.list_custom_fields(entity)
    ids: dict[str, int] = {}
    missing: list[tuple[str, dict[str, Any]]] = []
    for key, spec in specs.items():
        found = _find_field(existing, spec)
        if found:
            ids[key] = int(found["id"])
        else:
            missing.append((key, spec))
    if not missing:
        return ids, existing
    created = client.create_custom_fields(entity, [spec for _key, spec in missing])
    existing = client.list_custom_fields(entity)
    for key, spec in missing:
        found = _find_field(created, spec) or _find_field(existing, spec)
        if found is None:
            raise RuntimeError(f"AmoCRM did not create the {entity} field {spec['name']!r}")
        ids[key] = int(found["id"])
        report.created_fields.append(key)
    return ids, existing


def _enums(fields: list[dict[str, Any]], ids: dict[str, int]) -> dict[str, dict[str, int]]:
    """``{field key: {our value: enum id}}`` for our select fields, matched by the option's text."""
    by_id = {int(f["id"]): f for f in fields if f.get("id")}
    result: dict[str, dict[str, int]] = {}
    for key in LEAD_SELECTS:
        options = select_options(key)
        enums = (by_id.get(ids.get(key, 0)) or {}).get("enums") or []
        by_text = {str(e.get("value", "")).casefold(): int(e["id"]) for e in enums if e.get("id")}
        result[key] = {
            ours: by_text[text.casefold()] for ours, text in options.items() if text.casefold() in by_text
        }
    return result


def products_catalog_ensure(client: AmoCRMClient, name: str = "Товары") -> dict[str, int]:
    # https://www.amocrm.ru/developers/content/crm_platform/catalogs-api (catalog of type "products")
    """The products catalog and its SKU and PRICE field ids, creating what is missing.

    Returns ``{"catalog_id", "sku_field_id", "price_field_id"}``. A second call only reads.
    """
    catalog = next((c for c in client.list_catalogs() if c.get("type") == "products"), None)
    catalog_id = catalog["id"] if catalog else client.create_catalogs([{"name": name, "type": "products"}])[0]
    owner = f"catalogs/{catalog_id}"
    fields = {f.get("code"): f["id"] for f in client.list_custom_fields(owner) if f.get("code")}
    missing = [spec for code, spec in PRODUCT_FIELDS if code not in fields]
    if missing:
        for field_ in client.create_custom_fields(owner, missing):
            fields[field_.get("code") or field_.get("name")] = field_["id"]
        if any(code not in fields for code, _spec in PRODUCT_FIELDS):
            fields = {f.get("code"): f["id"] for f in client.list_custom_fields(owner) if f.get("code")}
    return {"catalog_id": catalog_id, "sku_field_id": fields["SKU"], "price_field_id": fields["PRICE"]}


def _products_catalog(client: AmoCRMClient, connection: AmoConnection, report: SetupReport) -> None:
    catalog = products_catalog_ensure(client)
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


def account_disconnect_finish(*, connection_id: int = 1) -> str:
    """After an admin disconnected: remove our webhook subscription from amoCRM with the last token, then
    forget the tokens. Nothing is done when the account was connected again meanwhile. Returns what it did.

    amoCRM keeps a subscription until it is deleted by destination:
    https://www.amocrm.ru/developers/content/crm_platform/webhooks-api
    """
    connection = AmoConnection.objects.get(pk=connection_id)
    if connection.state == AmoConnection.State.CONNECTED:
        return "connected again: nothing to do"
    prefix = connection.webhook_destination_hint.removesuffix("***/")
    removed = 0
    if connection.access_token and prefix:
        client = account_client(connection, farewell=True)
        try:
            for hook in client.list_webhooks():
                if str(hook.get("destination", "")).startswith(prefix):
                    client.unsubscribe_webhook(hook["destination"])
                    removed += 1
        except AmoCRMError as exc:
            logger.warning("AmoCRM webhook not removed on disconnect: %s", exc.title)
    tokens_forget(connection_id=connection_id)
    AmoConnection.objects.filter(pk=connection_id).update(webhook_destination_hint="")
    return f"{removed} webhook subscription(s) removed; tokens forgotten"
