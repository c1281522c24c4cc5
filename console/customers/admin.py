from __future__ import annotations

from django.contrib import admin

from console.customers.models import Company, Customer


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "inn", "kpp", "email", "phone", "created_at"]
    search_fields = ["name", "legal_name", "inn", "email", "phone"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
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
