"""WSGI entry point (gunicorn settings.wsgi).

amoCRM's webhook deliveries (``/amocrm/webhook/<secret>/``) are served by a second Django handler with the
short ``WEBHOOK_MIDDLEWARE`` chain; everything else by the full one (see ``console.web.runtime``).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
console_application = get_wsgi_application()

from console.web.runtime import web_process_ready, webhook_dispatch  # noqa: E402 (needs the apps loaded)

application = webhook_dispatch(console_application)
web_process_ready()
