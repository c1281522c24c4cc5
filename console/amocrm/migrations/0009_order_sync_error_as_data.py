"""``OrderSync``'s last error: five columns (``last_error_title``, ``_detail``, ``_status``, ``_request_id``,
``_kind``) become its kind (``error_kind``, indexed) and amoCRM's answer as data (``error``). A row with a
title but no kind gets the kind its HTTP status says (as the pages read it before)."""

from django.db import migrations, models

_KIND_BY_STATUS = {204: "not_found", 400: "validation", 401: "auth", 402: "unpaid", 403: "forbidden"}
_KIND_BY_STATUS |= {404: "not_found", 429: "rate_limited"}


def _kind(row) -> str:
    if row.last_error_kind:
        return row.last_error_kind
    if not row.last_error_title:
        return ""
    status = row.last_error_status
    if status is not None and status >= 500:
        return "server"
    return _KIND_BY_STATUS.get(status or 0, "other")


def forwards(apps, schema_editor):
    OrderSync = apps.get_model("amocrm", "OrderSync")
    failed = OrderSync.objects.exclude(last_error_title="", last_error_kind="").order_by("pk")
    batch = []
    for row in failed.iterator(chunk_size=1000):
        row.error_kind = _kind(row)
        row.error = {
            "title": row.last_error_title,
            "detail": row.last_error_detail,
            "status": row.last_error_status,
            "request_id": row.last_error_request_id,
        }
        batch.append(row)
    OrderSync.objects.bulk_update(batch, ["error_kind", "error"], batch_size=1000)


def backwards(apps, schema_editor):
    OrderSync = apps.get_model("amocrm", "OrderSync")
    batch = []
    for row in OrderSync.objects.exclude(error_kind="").order_by("pk").iterator(chunk_size=1000):
        error = row.error or {}
        row.last_error_kind = row.error_kind
        row.last_error_title = error.get("title") or ""
        row.last_error_detail = error.get("detail") or ""
        row.last_error_status = error.get("status")
        row.last_error_request_id = error.get("request_id") or ""
        batch.append(row)
    fields = ["last_error_kind", "last_error_title", "last_error_detail", "last_error_status"]
    OrderSync.objects.bulk_update(batch, [*fields, "last_error_request_id"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("amocrm", "0008_webhook_reasons_as_data"),
        ("orders", "0007_order_active_sync_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="ordersync",
            name="error",
            field=models.JSONField(blank=True, default=dict, verbose_name="last error"),
        ),
        migrations.AddField(
            model_name="ordersync",
            name="error_kind",
            field=models.CharField(blank=True, db_index=True, max_length=20, verbose_name="kind of error"),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveIndex(model_name="ordersync", name="ordersync_display_idx"),
        migrations.RemoveField(model_name="ordersync", name="last_error_detail"),
        migrations.RemoveField(model_name="ordersync", name="last_error_kind"),
        migrations.RemoveField(model_name="ordersync", name="last_error_request_id"),
        migrations.RemoveField(model_name="ordersync", name="last_error_status"),
        migrations.RemoveField(model_name="ordersync", name="last_error_title"),
        migrations.AddIndex(
            model_name="ordersync",
            index=models.Index(
                fields=[
                    "order",
                    "state",
                    "task_pending",
                    "lead_id",
                    "amo_pipeline_id",
                    "amo_status_id",
                    "next_retry_at",
                    "error_kind",
                ],
                name="ordersync_display_idx",
            ),
        ),
    ]
