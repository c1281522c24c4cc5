# Gives every existing order its own tracking token (see 0004).

import secrets

from django.db import migrations

BATCH = 1000


def fill_tracking_tokens(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    pks = list(Order.objects.filter(tracking_token__isnull=True).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH):
        rows = [Order(pk=pk, tracking_token=secrets.token_urlsafe(16)) for pk in pks[start : start + BATCH]]
        Order.objects.bulk_update(rows, ["tracking_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_order_payment_tracking"),
    ]

    operations = [
        migrations.RunPython(fill_tracking_tokens, migrations.RunPython.noop),
    ]
