from django.apps import AppConfig
from django.db.backends.signals import connection_created


class WebConfig(AppConfig):
    name = "console.web"
    label = "web"
    verbose_name = "Console"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from console.web import runtime

        connection_created.connect(runtime.sqlite_connection_created, dispatch_uid="web.sqlite_checkpoints")
        post_spawn.connect(runtime.cluster_worker_spawned, dispatch_uid="web.cluster_heap_freeze")
