# Payments, tracking and the checkout's contact details on orders. The tracking token is added nullable here,
# filled in 0005 and made unique and required in 0006: the pattern of Django's "Migrations that add unique
# fields" (https://docs.djangoproject.com/en/5.2/howto/writing-migrations/#migrations-that-add-unique-fields).

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_status_change_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="checkout_contact",
            field=models.JSONField(
                blank=True,
                default=dict,
                editable=False,
                help_text="What the storefront checkout typed: name, phone, e-mail, company.",
                verbose_name="checkout contact details",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="paid_amount",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                max_digits=14,
                validators=[django.core.validators.MinValueValidator(0)],
                verbose_name="paid, RUB",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="payment_status",
            field=models.CharField(
                choices=[("not_paid", "Not paid"), ("prepaid", "Prepaid"), ("paid", "Paid")],
                default="not_paid",
                max_length=20,
                verbose_name="payment status",
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="tracking_token",
            field=models.CharField(editable=False, max_length=64, null=True, verbose_name="tracking token"),
        ),
    ]
