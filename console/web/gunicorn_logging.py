"""gunicorn's logger with our redaction: no access or error line carries a secret.

gunicorn logs the request line of every request, so the webhook path ``/amocrm/webhook/<secret>/`` would land
in the access log as is. This logger class (``logger_class`` in ``settings/gunicorn.py``) puts the same
``RedactingFilter`` as Django's logging on gunicorn's two loggers; the filter formats each line first, so a
custom ``access_log_format`` is covered too. https://docs.gunicorn.org/en/stable/settings.html#logger-class
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from console.amocrm.api.redaction import RedactingFilter


class RedactingLogger(Logger):
    """gunicorn's ``glogging.Logger`` whose access and error lines go through ``redact`` first."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())
