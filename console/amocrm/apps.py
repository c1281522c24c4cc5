from django.apps import AppConfig


class AmocrmConfig(AppConfig):
    name = "console.amocrm"
    label = "amocrm"
    verbose_name = "AmoCRM"

    def ready(self) -> None:
        from console.amocrm import receivers  # noqa: F401  (connects the domain-signal receivers)
