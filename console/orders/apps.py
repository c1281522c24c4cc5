from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "console.orders"
    label = "orders"
    verbose_name = "Orders"
