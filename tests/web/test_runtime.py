"""Process tuning (console/web/runtime.py): WAL checkpoints off the request path, fork safety, frozen heap."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from console.web import runtime

REPO = Path(__file__).resolve().parents[2]


def wal_database(path: Path, pages: int) -> sqlite3.Connection:
    """A WAL database at ``path`` with about ``pages`` pages written to its log and none checkpointed."""
    database = sqlite3.connect(path, isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA wal_autocheckpoint=0")
    database.execute("CREATE TABLE t (x BLOB)")
    for _ in range(pages):
        database.execute("INSERT INTO t VALUES (zeroblob(4000))")
    return database  # left open: closing the last connection would checkpoint it


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.django_db
def test_django_sqlite_connections_leave_checkpoints_to_the_process_thread() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: other databases have no write-ahead log to checkpoint")
    connection.ensure_connection()
    assert connection.connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    path = runtime._database_file(connection)
    assert runtime._checkpointers[path][0] == os.getpid()
    assert any(thread.name == "sqlite-checkpoint" and thread.daemon for thread in threading.enumerate())


def test_the_checkpoint_thread_copies_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    writer = wal_database(path, pages=200)
    size_before = path.stat().st_size
    assert size_before < 100_000  # the 200 pages are still only in the log

    assert runtime.checkpointer_start(str(path), interval=0.05) is True
    assert runtime.checkpointer_start(str(path), interval=0.05) is False  # once per process

    try:
        assert wait_for(lambda: path.stat().st_size > 200 * 4000), "no checkpoint within 10 s"
    finally:
        runtime.checkpointer_stop(str(path))
        writer.close()


def test_a_fork_never_inherits_sqlite_in_the_middle_of_a_checkpoint(tmp_path: Path) -> None:
    """The cluster forks its workers while this process's checkpoint thread runs; without the at-fork lock a
    child could inherit one of SQLite's mutexes held and hang opening its first connection."""
    path = tmp_path / "forks.sqlite3"
    writer = wal_database(path, pages=50)
    runtime.checkpointer_start(str(path), interval=0)  # checkpoints back to back: always inside SQLite
    children = []
    for _ in range(60):
        writer.execute("INSERT INTO t VALUES (zeroblob(4000))")  # something to checkpoint again
        pid = os.fork()
        if pid == 0:  # the child: open a connection and read, as a new cluster worker does
            try:
                signal.alarm(10)
                sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()
                os._exit(0)
            except BaseException:
                os._exit(1)
        children.append(pid)
    statuses = {}
    deadline = time.monotonic() + 30
    while len(statuses) < len(children) and time.monotonic() < deadline:
        for pid in children:
            if pid not in statuses:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    statuses[pid] = status
        time.sleep(0.01)
    for pid in set(children) - set(statuses):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    runtime.checkpointer_stop(str(path))
    writer.close()
    hung_or_failed = [pid for pid in children if statuses.get(pid) != 0]
    assert hung_or_failed == [], f"{len(hung_or_failed)} of {len(children)} children hung or failed"


def test_a_web_worker_is_warm_and_frozen_once_the_wsgi_module_is_loaded() -> None:
    code = (
        "import gc, sys, settings.wsgi;"
        "print(gc.get_freeze_count(), 'console.web.views.orders' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings.test"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    frozen, views_imported = out.stdout.split()
    assert int(frozen) > 10_000  # the framework's and the project's objects, out of the collector's sight
    assert views_imported == "True"  # the URLconf and its views were loaded before any request


def test_heap_freeze_moves_the_live_objects_out_of_collections() -> None:
    try:
        runtime.heap_freeze()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
