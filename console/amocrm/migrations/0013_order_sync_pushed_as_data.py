"""``OrderSync``'s ten columns of what the deal last got from us (contact and company, stage, hashes,
products, payment, summary, the creation note) become one JSON object, ``pushed`` (see ``models.outbound.PUSHED``)."""

from django.db import migrations, models

# column -> key in ``pushed`` (as ``console.amocrm.models.outbound.PUSHED`` had it when this was written)
PARTS = {
    "contact_id": "contact_id",
    "company_id": "company_id",
    "pushed_pipeline_id": "pipeline_id",
    "pushed_status_id": "status_id",
    "payload_hash": "hash",
    "pushed_lead_hash": "lead_hash",
    "pushed_products": "products",
    "pushed_payment": "payment",
    "pushed_summary": "summary",
    "note_added": "note_added",
}


def forwards(apps, schema_editor):
    OrderSync = apps.get_model("amocrm", "OrderSync")
    batch = []
    for row in OrderSync.objects.only("id", *PARTS).order_by("pk").iterator(chunk_size=2000):
        row.pushed = {key: getattr(row, column) for column, key in PARTS.items()}
        batch.append(row)
        if len(batch) >= 2000:
            OrderSync.objects.bulk_update(batch, ["pushed"])
            batch = []
    OrderSync.objects.bulk_update(batch, ["pushed"])


def backwards(apps, schema_editor):
    OrderSync = apps.get_model("amocrm", "OrderSync")
    defaults = {"payload_hash": "", "pushed_lead_hash": "", "note_added": False}
    defaults |= {"pushed_products": {}, "pushed_payment": {}, "pushed_summary": {}}
    batch = []
    for row in OrderSync.objects.only("id", "pushed").order_by("pk").iterator(chunk_size=2000):
        for column, key in PARTS.items():
            value = (row.pushed or {}).get(key)
            setattr(row, column, value if value is not None else defaults.get(column))
        batch.append(row)
    OrderSync.objects.bulk_update(batch, list(PARTS), batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("amocrm", "0012_ordersync_drop_created_at_and_synced_seq"),
    ]

    operations = [
        migrations.AddField(
            model_name="ordersync",
            name="pushed",
            field=models.JSONField(blank=True, default=dict, verbose_name="last pushed"),
        ),
        migrations.RunPython(forwards, backwards),
        *[migrations.RemoveField(model_name="ordersync", name=column) for column in PARTS],
    ]
