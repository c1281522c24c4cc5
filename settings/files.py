"""File modes of the embedded mode, applied where a process starts (``manage.py``, ``settings/wsgi.py``).

In the embedded mode the data folder holds the SQLite database (with its ``-wal`` and ``-shm`` files; the
rate limiter's window is a row in it) and the generated secret key and encryption key: every file a console
process creates is made readable by its own user only (0600; folders 0700), with the process's umask, the
operating system's own switch. The production mode (a database server, keys in the environment) keeps the
umask it was given.
"""

from __future__ import annotations

import os

PRIVATE_UMASK = 0o077


def is_embedded() -> bool:
    """True unless ``DATABASE_URL`` names a database other than SQLite (read before Django's settings)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    return not url or url.startswith("sqlite:")


def restrict_new_files() -> None:
    """Make files and folders created from now on private to this user, in the embedded mode."""
    if is_embedded():
        os.umask(PRIVATE_UMASK)
