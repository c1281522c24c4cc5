# Every order has its tracking token now (0005): make it required and unique; new orders get one on create.

import console.orders.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_order_tracking_token_backfill"),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="tracking_token",
            field=models.CharField(
                default=console.orders.models.new_tracking_token,
                editable=False,
                max_length=64,
                unique=True,
                verbose_name="tracking token",
            ),
        ),
    ]
