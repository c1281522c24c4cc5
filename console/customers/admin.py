"""Admin of customers and companies. Every write goes through ``console.customers.services`` (so the domain
signals go out as for any other edit): the forms check the services' rules, so a save cannot fail on them;
deleting a customer deactivates it, as the API does."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from console.customers.models import COMPANY_FIELDS, Company, Customer
from console.customers.services import (
    CUSTOMER_FIELDS,
    by_manager,
    company_check,
    company_create,
    company_delete,
    company_update,
    customer_check,
    customer_create,
    customer_deactivate,
    customer_update,
)


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's unsaved ``obj`` the row a service created (the admin goes on with ``obj``)."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


class SoftDeleteAdmin(admin.ModelAdmin):
    """An admin whose delete (the delete view and the "delete selected" action) calls ``soft_delete`` for
    each row instead of deleting it. Nothing else goes, so the confirmation lists only the rows themselves
    and related rows (protected or not) neither block it nor need delete permissions."""

    def soft_delete(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.soft_delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.soft_delete(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[list, dict, set, list]:
        objs = list(objs)
        return [str(obj) for obj in objs], {self.opts.verbose_name_plural: len(objs)}, set(), []


class ServiceForm(forms.ModelForm):
    """A model form of the services: ``clean`` also runs the service's checks (``check``) on the service's
    fields, and ``ServiceAdmin`` saves it with ``create`` / ``update``."""

    service_fields: tuple[str, ...] = ()

    def service_data(self) -> dict[str, Any]:
        return {
            field: self.cleaned_data[field] for field in self.service_fields if field in self.cleaned_data
        }

    def check(self, data: dict[str, Any], current: Any) -> None:
        """Raise the service's ``ValidationError`` for ``data`` (``current``: the row changed, or None)."""
        raise NotImplementedError

    def create(self, **who: str) -> models.Model:
        raise NotImplementedError

    def update(self, row: Any, **who: str) -> None:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:  # the fields' own errors first: the service's rules need clean values
            return cleaned
        try:
            self.check(self.service_data(), self.instance if self.instance.pk else None)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
            for field, messages in errors.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


class CompanyForm(ServiceForm):
    service_fields = COMPANY_FIELDS

    def check(self, data: dict[str, Any], current: Company | None) -> None:
        company_check(data=data, company=current)

    def create(self, **who: str) -> Company:
        return company_create(data=self.service_data(), **who)

    def update(self, row: Company, **who: str) -> None:
        company_update(company=row, data=self.service_data(), **who)


class CustomerForm(ServiceForm):
    service_fields = CUSTOMER_FIELDS

    def check(self, data: dict[str, Any], current: Customer | None) -> None:
        customer_check(data=data, customer=current)

    def create(self, **who: str) -> Customer:
        return customer_create(data=self.service_data(), **who)

    def update(self, row: Customer, **who: str) -> None:
        customer_update(customer=row, data=self.service_data(), **who)


class ServiceAdmin(admin.ModelAdmin):
    """Saves through the services (the form's ``create`` / ``update``) instead of ``obj.save()``."""

    def save_model(self, request: HttpRequest, obj: Any, form: ServiceForm, change: bool) -> None:
        if change:
            obj.refresh_from_db()  # undo the form's writes: the service compares with the stored row
            form.update(obj, **by_manager(request.user))
        else:
            adopt(obj, form.create(**by_manager(request.user)))


@admin.register(Company)
class CompanyAdmin(ServiceAdmin):
    form = CompanyForm
    list_display = ["name", "inn", "kpp", "email", "phone", "created_at"]
    search_fields = ["name", "legal_name", "inn", "email", "phone"]
    readonly_fields = ["created_at", "updated_at"]

    def delete_model(self, request: HttpRequest, obj: Company) -> None:
        company_delete(company=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for company in queryset:
            company_delete(company=company)


@admin.register(Customer)
class CustomerAdmin(ServiceAdmin, SoftDeleteAdmin):
    form = CustomerForm
    list_display = [
        "__str__",
        "customer_type",
        "phone_normalized",
        "email",
        "company",
        "is_active",
        "created_at",
    ]
    list_filter = ["customer_type", "is_active"]
    search_fields = ["first_name", "last_name", "display_name", "email", "phone", "phone_normalized"]
    readonly_fields = ["phone_normalized", "created_at", "updated_at"]
    list_select_related = ["company"]
    autocomplete_fields = ["company"]

    def soft_delete(self, request: HttpRequest, obj: Customer) -> None:
        customer_deactivate(customer=obj, **by_manager(request.user))
