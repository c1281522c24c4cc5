"""WSGI entry point (gunicorn settings.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
application = get_wsgi_application()

from console.web.runtime import web_process_ready  # noqa: E402 (needs the apps loaded above)

web_process_ready()
