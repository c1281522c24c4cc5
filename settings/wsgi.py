"""WSGI entry point: ``gunicorn settings.wsgi`` (add ``--preload`` to load the application once, before the
workers fork)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
application = get_wsgi_application()
