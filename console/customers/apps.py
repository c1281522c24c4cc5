from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "console.customers"
    label = "customers"
    verbose_name = "Customers"
