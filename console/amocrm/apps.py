from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AmocrmConfig(AppConfig):
    name = "console.amocrm"
    label = "amocrm"
    verbose_name = "AmoCRM"

    def ready(self) -> None:
        from console.amocrm.outbound import receivers  # noqa: F401  (connects the domain-signal receivers)
        from console.amocrm.schedules import schedules_after_migrate

        post_migrate.connect(schedules_after_migrate, sender=self, dispatch_uid="amocrm.schedules")
