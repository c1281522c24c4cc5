"""``manage.py backup_sqlite <path>``: a consistent copy of the embedded mode's SQLite database, taken while
the console runs (SQLite's online backup: https://docs.python.org/3/library/sqlite3.html#sqlite3.Connection.backup).

The copy is a complete database file (no ``-wal`` beside it): restore it by stopping the console and putting
it in place of ``DATA_DIR/console.sqlite3``. The production mode's PostgreSQL is backed up with ``pg_dump``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

PAGES_PER_STEP = 1024  # copied between yields to writers, so the console keeps answering during a backup


class Command(BaseCommand):
    help = "Copy the SQLite database to PATH while the console runs (online backup)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="the backup file to write (must not exist)")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        settings_dict = connections[options["database"]].settings_dict
        if settings_dict["ENGINE"] != "django.db.backends.sqlite3":
            raise CommandError("backup_sqlite copies a SQLite database; back PostgreSQL up with pg_dump")
        target = Path(options["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Created empty (a valid SQLite file) and private before any row is written into it.
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            raise CommandError(f"{target} exists; give a new file name") from None
        source, backup = sqlite3.connect(settings_dict["NAME"]), sqlite3.connect(target)
        try:
            source.backup(backup, pages=PAGES_PER_STEP)
        finally:
            backup.close()
            source.close()
        self.stdout.write(f"SQLite database copied to {target}")
