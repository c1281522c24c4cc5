"""gunicorn's configuration: ``gunicorn -c settings/gunicorn.py`` (see README, "Running in production").

Only what the console needs is fixed here: the application, access and error logs on standard output, and
the logger class that redacts the webhook secret from them. Tune the rest with gunicorn's own switches: flags
on the command line or ``GUNICORN_CMD_ARGS`` (``--bind``, ``--workers`` or ``WEB_CONCURRENCY``,
``--threads``, ``--timeout``). https://docs.gunicorn.org/en/stable/settings.html
"""

wsgi_app = "settings.wsgi:application"
accesslog = "-"
errorlog = "-"
logger_class = "console.web.gunicorn_logging.RedactingLogger"
