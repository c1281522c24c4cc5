from django.apps import AppConfig, apps
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def cache_table_after_migrate(app_config: AppConfig, using: str = "default", **kwargs: object) -> None:
    """``migrate`` also creates the table of a database cache (settings ``CACHES``); a no-op when it exists
    or when the cache is Redis (https://docs.djangoproject.com/en/5.2/topics/cache/#creating-the-cache-table).

    post_migrate is sent once for each app with models: it acts on the last of them."""
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if with_models and app_config is with_models[-1]:
        call_command("createcachetable", database=using, verbosity=0)


class WebConfig(AppConfig):
    name = "console.web"
    label = "web"
    verbose_name = _("Console")

    def ready(self) -> None:
        post_migrate.connect(cache_table_after_migrate, dispatch_uid="web.cache_table")
        from console.web import passwords  # noqa: F401  (connects the login receiver)
