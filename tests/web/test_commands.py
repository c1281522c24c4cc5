"""The operations commands: ``backup_sqlite`` and what ``demo`` prints (never the webhook secret)."""

from __future__ import annotations

import sqlite3
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from console.amocrm.models import AmoConnection
from console.customers.models import Customer
from console.web.management.commands.demo import server_command

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded mode's SQLite database")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_backup_sqlite_copies_the_live_database_into_a_private_file(
    tmp_path: Path, make_customer: Any
) -> None:
    make_customer(first_name="Резерв")
    target = tmp_path / "backups" / "console.sqlite3"
    call_command("backup_sqlite", str(target), stdout=StringIO())
    assert target.stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        table = Customer._meta.db_table
        assert copy.execute(f"SELECT first_name FROM {table}").fetchall() == [("Резерв",)]
    with pytest.raises(CommandError, match="exists"):
        call_command("backup_sqlite", str(target), stdout=StringIO())


@pytest.mark.skipif(connection.vendor == "sqlite", reason="a database server")
def test_backup_sqlite_points_a_database_server_to_pg_dump(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="pg_dump"):
        call_command("backup_sqlite", str(tmp_path / "x.sqlite3"), stdout=StringIO())


def test_the_demo_serves_with_the_redacting_gunicorn_config() -> None:
    command = server_command("127.0.0.1", 8000)
    assert command[command.index("-c") + 1].endswith("settings/gunicorn.py")
    assert "--access-logfile" not in command  # the config's logger class writes it


def test_what_the_demo_prints_when_connecting_holds_no_webhook_secret(db: Any, sandbox: Any) -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "amocrm_connect_sandbox",
        "--url",
        sandbox.url,
        "--webhook-base-url",
        "http://127.0.0.1:8000",
        stdout=out,
        stderr=err,
    )
    secret = AmoConnection.get_solo().webhook_secret
    assert secret and "webhook: subscribed" in out.getvalue()
    assert secret not in out.getvalue() + err.getvalue()
