from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "console.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from console.customers import history  # noqa: F401  (connects the history receivers)
