"""WSGI entry point: ``gunicorn -c settings/gunicorn.py`` (see README; add ``--preload`` to load the
application once, before the workers fork)."""

import os

from django.core.wsgi import get_wsgi_application

from settings.files import restrict_new_files

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
restrict_new_files()
application = get_wsgi_application()
