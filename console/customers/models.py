"""Customers (individual or business) and their companies."""

from __future__ import annotations

from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Lower
from django.utils.translation import gettext_lazy as _

from console.customers.normalize import validate_inn, validate_kpp, validate_ogrn


def search_text(*fields: str) -> models.GeneratedField:
    """The row's searchable words in one column the database keeps itself on every write (whatever the
    writer: ``save``, ``update``, ``bulk_create``): ``fields`` joined by spaces and lower-cased (PostgreSQL
    lower-cases every script; SQLite only ASCII, which ``console.web.filters`` makes up for with case
    variants). One narrow column for the search box to read, with a trigram index on PostgreSQL (migration
    ``customers.0003``), instead of a ``LIKE`` on every name column joined across tables."""
    parts: list[object] = []
    for field in fields:
        parts += [field, Value(" ")]
    return models.GeneratedField(
        expression=Lower(Concat(*parts[:-1], output_field=models.TextField())),
        output_field=models.TextField(),
        db_persist=True,
        editable=False,
    )


# The fields of a company that services write (and listeners hear about), in display order.
COMPANY_FIELDS = ("name", "legal_name", "inn", "kpp", "ogrn", "legal_address", "email", "phone")


class Company(models.Model):
    name = models.CharField(_("name"), max_length=255)
    legal_name = models.CharField(_("legal name"), max_length=255, blank=True)
    inn = models.CharField(_("INN"), max_length=12, blank=True, validators=[validate_inn])
    kpp = models.CharField(_("KPP"), max_length=9, blank=True, validators=[validate_kpp])
    ogrn = models.CharField(_("OGRN"), max_length=15, blank=True, validators=[validate_ogrn])
    legal_address = models.CharField(_("legal address"), max_length=500, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    search = search_text("name", "legal_name", "inn", "email")

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["inn"], condition=~Q(inn=""), name="company_inn_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    class Type(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        BUSINESS = "business", _("Business")

    customer_type = models.CharField(_("type"), max_length=20, choices=Type.choices, default=Type.INDIVIDUAL)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    display_name = models.CharField(_("display name"), max_length=300, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    phone_normalized = models.CharField(_("phone (E.164)"), max_length=20, blank=True, editable=False)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    search = search_text("first_name", "last_name", "display_name", "email", "phone_normalized")

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_normalized"], condition=~Q(phone_normalized=""), name="customer_phone_unique"
            ),
            models.UniqueConstraint(fields=["email"], condition=~Q(email=""), name="customer_email_unique"),
        ]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """What people call this customer: display name, else first and last name, else phone or e-mail."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return self.display_name or full or self.phone or self.email or f"#{self.pk}"


class ContactChange(models.Model):
    """One committed change of a customer or a company: which fields, by whom (``origin``, ``actor``), when.

    Written by ``console.customers.history`` from the app's own ``customer_changed`` / ``company_changed``
    signals (so every writer, the console, the API, the admin and amoCRM's edits, is recorded); the
    customer's card shows it. Values are not kept: the row says what changed, the customer says what it is.
    """

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="changes"
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="changes"
    )
    action = models.CharField(_("action"), max_length=20)
    fields = models.JSONField(_("changed fields"), default=list)
    origin = models.CharField(_("origin"), max_length=20)
    actor = models.CharField(_("by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("customer change")
        verbose_name_plural = _("customer changes")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {', '.join(self.fields)}"
