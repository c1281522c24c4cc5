"""The manager console."""

from django.urls import path

from console.web.views import companies as company_views
from console.web.views import conflicts as conflict_views
from console.web.views import connection as connection_views
from console.web.views import customers as customer_views
from console.web.views import dashboard as dashboard_views
from console.web.views import drafts as draft_views
from console.web.views import orders
from console.web.views import password as password_views
from console.web.views import stage_map as stage_map_views
from console.web.views import sync as sync_views
from console.web.views import users as user_views
from console.web.views import webhooks as webhook_views

app_name = "web"

urlpatterns = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/export.csv", orders.order_export, name="orders_export"),
    path("orders/customers/", orders.customer_picker, name="customer_picker"),
    path("connection/", connection_views.connection_page, name="connection"),
    path("connection/save/", connection_views.connection_save, name="connection_save"),
    path("connection/connect/", connection_views.connection_connect, name="connection_connect"),
    path("connection/long-lived/", connection_views.connection_long_lived, name="connection_long_lived"),
    path("connection/disconnect/", connection_views.connection_disconnect, name="connection_disconnect"),
    path("connection/resume/", connection_views.connection_resume, name="connection_resume"),
    path("connection/pause/", connection_views.connection_pause, name="connection_pause"),
    path("connection/unpause/", connection_views.connection_unpause, name="connection_unpause"),
    path("connection/setup/", connection_views.connection_setup, name="connection_setup"),
    path(
        "connection/webhook-check/",
        connection_views.connection_webhook_check,
        name="connection_webhook_check",
    ),
    # The redirect URI registered in amoCRM: keep the path.
    path("amocrm/oauth/callback/", connection_views.oauth_callback, name="oauth_callback"),
    path("stage-map/", stage_map_views.stage_map_edit, name="stage_map"),
    path("password/", password_views.password_change, name="password_change"),
    path("users/", user_views.user_list, name="users"),
    path("users/new/", user_views.user_create, name="user_create"),
    path("users/<int:pk>/role/", user_views.user_role, name="user_role"),
    path("users/<int:pk>/active/", user_views.user_active, name="user_active"),
    path("users/<int:pk>/amocrm/", user_views.user_amo_link, name="user_amo_link"),
    path("users/<int:pk>/storefront/", user_views.user_storefront, name="user_storefront"),
    path("orders/new/", orders.order_form, name="order_create"),
    path("orders/<int:pk>/", orders.order_detail, name="order_detail"),
    path("orders/<int:pk>/edit/", orders.order_form, name="order_edit"),
    path("orders/<int:pk>/action/", orders.order_action, name="order_action"),
    path("orders/<int:pk>/apply-contact/", orders.order_apply_contact, name="order_apply_contact"),
    path("orders/<int:pk>/take-stage/", orders.order_take_stage, name="order_take_stage"),
    path("orders/<int:pk>/confirm/", draft_views.draft_confirm, name="order_confirm"),
    path("customers/", customer_views.customer_list, name="customers"),
    path("customers/new/", customer_views.customer_form, name="customer_create"),
    path("customers/<int:pk>/", customer_views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", customer_views.customer_form, name="customer_edit"),
    path("companies/", company_views.company_list, name="companies"),
    path("companies/new/", company_views.company_form, name="company_create"),
    path("companies/<int:pk>/", company_views.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", company_views.company_form, name="company_edit"),
    path("conflicts/<int:pk>/resolve/", conflict_views.conflict_resolve_view, name="conflict_resolve"),
    path("webhooks/", webhook_views.webhook_list, name="webhooks"),
    path("webhooks/stages/", webhook_views.webhook_stages, name="webhook_stages"),
    path("webhooks/rotate-secret/", webhook_views.webhook_secret_rotate, name="webhook_secret_rotate"),
    path("webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook_detail"),
    path("webhooks/<int:pk>/replay/", webhook_views.webhook_replay, name="webhook_replay"),
    # AmoCRM sync controls and support pages
    path("sync/orders/<int:pk>/push/", sync_views.sync_push, name="sync_push"),
    path("sync/orders/<int:pk>/skip/", sync_views.sync_skip, name="sync_skip"),
    path("sync/orders/<int:pk>/unskip/", sync_views.sync_unskip, name="sync_unskip"),
    path("sync/orders/<int:pk>/unlink/", sync_views.sync_unlink, name="sync_unlink"),
    path("sync/orders/<int:pk>/link/", sync_views.sync_link, name="sync_link"),
    path("sync/orders/bulk/<slug:action>/", sync_views.sync_bulk, name="sync_bulk"),
    path("sync/orders/bulk-status/", sync_views.sync_bulk_status, name="sync_bulk_status"),
    path("sync/log/", sync_views.sync_log, name="sync_log"),
    path("sync/failed/", sync_views.sync_failed, name="sync_failed"),
    path("sync/failed/retry/", sync_views.sync_retry, name="sync_retry"),
]
