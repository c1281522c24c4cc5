"""Django admin of the AmoCRM integration: the account, the sync bookkeeping and the webhook inbox."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from console.amocrm.models import (
    AmoConnection,
    CatalogElementLink,
    CustomerAmoLink,
    Incident,
    Lease,
    OrderSync,
    OrderTask,
    Pipeline,
    PipelineStatus,
    StageMapping,
    SyncLog,
    UnconfirmedCreate,
    WebhookCounter,
    WebhookInbox,
)

# --- the connected account -------------------------------------------------------------------------------


@admin.register(AmoConnection)
class AmoConnectionAdmin(admin.ModelAdmin):
    """Read-only: tokens and secrets are never shown; connect and disconnect on the console's page."""

    list_display = ["__str__", "state", "account_name", "expires_at", "last_success_at"]
    fields = [
        "base_url",
        "client_id",
        "redirect_uri",
        "long_lived",
        "expires_at",
        "token_refreshed_at",
        "account_id",
        "subdomain",
        "account_name",
        "state",
        "state_detail",
        "state_changed_at",
        "last_success_at",
        "last_error",
        "last_error_at",
        "lead_field_ids",
        "products_catalog_id",
        "product_sku_field_id",
        "product_price_field_id",
        "webhook_destination_hint",
        "setup_completed_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PipelineStatusInline(admin.TabularInline):
    model = PipelineStatus
    extra = 0
    can_delete = False
    readonly_fields = ["status_id", "name", "sort", "type", "color"]


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    """The local cache of amoCRM pipelines (refreshed by account setup): read-only."""

    list_display = ["name", "amo_id", "is_main", "is_archive", "updated_at"]
    readonly_fields = ["amo_id", "name", "sort", "is_main", "is_archive"]
    inlines = [PipelineStatusInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(StageMapping)
class StageMappingAdmin(admin.ModelAdmin):
    list_display = ["order_status", "pipeline_id", "status_id", "is_active", "updated_at"]
    list_editable = ["is_active"]


# --- orders -> deals ---------------------------------------------------------------------------------------


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Sync bookkeeping is written by the engine only: editing it by hand would break the sync."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OrderSync)
class OrderSyncAdmin(_ReadOnlyAdmin):
    list_display = ["order", "state", "lead_id", "contact_id", "attempts", "next_retry_at", "last_synced_at"]
    list_filter = ["state"]
    search_fields = ["order__number", "=lead_id", "=contact_id"]
    list_select_related = ["order"]


@admin.register(OrderTask)
class OrderTaskAdmin(_ReadOnlyAdmin):
    list_display = ["order", "kind", "amo_id", "responsible_amo_id", "due", "wanted", "completed"]
    list_filter = ["kind", "completed"]
    search_fields = ["order__number", "=amo_id"]
    list_select_related = ["order"]


@admin.register(CustomerAmoLink)
class CustomerAmoLinkAdmin(_ReadOnlyAdmin):
    list_display = ["customer", "contact_id", "company_id", "updated_at"]
    search_fields = ["=contact_id", "customer__phone", "customer__email"]
    list_select_related = ["customer"]


@admin.register(CatalogElementLink)
class CatalogElementLinkAdmin(_ReadOnlyAdmin):
    list_display = ["sku", "catalog_id", "element_id", "updated_at"]
    search_fields = ["sku"]


@admin.register(Lease)
class LeaseAdmin(_ReadOnlyAdmin):
    list_display = ["kind", "key", "holder", "until"]
    list_filter = ["kind"]


@admin.register(UnconfirmedCreate)
class UnconfirmedCreateAdmin(_ReadOnlyAdmin):
    list_display = ["kind", "key", "sent_at"]
    list_filter = ["kind"]


@admin.register(SyncLog)
class SyncLogAdmin(_ReadOnlyAdmin):
    list_display = ["started_at", "order", "event", "action", "trigger", "outcome", "http_calls"]
    list_filter = ["outcome", "resolved", "action"]
    search_fields = ["order__number", "=lead_id", "trigger", "request_id"]
    list_select_related = ["order"]
    date_hierarchy = "started_at"


# --- deals -> orders ---------------------------------------------------------------------------------------


@admin.register(Incident)
class IncidentAdmin(_ReadOnlyAdmin):
    """Read-only: alert incidents are opened and cleared by the alert check alone."""

    list_display = ["kind", "opened_at", "cleared_at", "checked_at"]
    list_filter = ["kind"]


@admin.register(WebhookInbox)
class WebhookInboxAdmin(admin.ModelAdmin):
    """Read-only: deliveries are evidence; replay them from the console's webhook page."""

    list_display = ["id", "received_at", "events", "entity_ids", "outcome", "order", "attempts"]
    list_filter = ["outcome", "events"]
    search_fields = ["entity_ids", "events"]
    date_hierarchy = "received_at"
    exclude = ["body"]
    readonly_fields = ["body_text"]
    list_select_related = ["order"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookCounter)
class WebhookCounterAdmin(admin.ModelAdmin):
    """Read-only counters: rejected deliveries by reason and the reconciliation watermark."""

    list_display = ["key", "value", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
