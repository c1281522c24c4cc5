"""Process tuning for the web workers and the cluster: warm-up, a frozen heap, SQLite checkpoints off-path.

Measured with ``tests/bench/bench_webhooks.py`` (webhook deliveries at concurrency 20, SQLite):

- **Garbage collection.** A Django process holds a few hundred thousand long-lived objects (modules, URL
  patterns, models, templates). Every full collection walked all of them: 30-70 ms in a web worker, up to
  170 ms in a cluster worker. When that happened while the process held SQLite's write lock (or our writer
  turn, see ``console.amocrm.webhooks.sqlite_writer_turn``), every other delivery waited as long: most of
  the slow answers. ``gc.freeze()`` once the process is warm moves those objects out of the collector's
  sight; full collections then look at per-request garbage only (well under a millisecond).
- **Warm-up.** A worker's first request used to import the views and build the URL resolver (about 0.5 s);
  the WSGI module now does it when the worker boots, before it accepts a connection.
- **WAL checkpoints.** SQLite copies the write-ahead log back into the database (with an fsync) in the
  connection that commits the 1,000th page, after its commit but before its ``COMMIT`` returns: that
  request, and with it everyone queued behind it, paid the copy. Our connections switch that off and a
  daemon thread per process runs a ``PASSIVE`` checkpoint every half second on its own connection; a
  passive checkpoint never blocks a writer or a reader and never waits for one (a concurrent checkpoint in
  another process just makes it skip a turn). A fork waits for the thread to leave SQLite (see
  ``_sqlite_calls``); the child starts its own thread with its first connection.
"""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import threading
import time
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = 0.5  # seconds between passive checkpoints

_checkpointers: dict[str, int] = {}  # database file -> pid of the process whose thread checkpoints it
_checkpointers_lock = threading.Lock()
# Held by a checkpoint thread while it is inside SQLite, and by a thread that forks (the cluster forks its
# workers) for the duration of the fork: a child forked while another thread held one of SQLite's own
# mutexes would wait for it forever (seen: a cluster worker stuck opening its connection).
_sqlite_calls = threading.Lock()
os.register_at_fork(
    before=_sqlite_calls.acquire, after_in_parent=_sqlite_calls.release, after_in_child=_sqlite_calls.release
)


def heap_freeze() -> None:
    """Collect once, then keep every object alive now out of later collections (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


def web_warm_up() -> None:
    """Import every view and build the URL resolver before the first request (what that request paid)."""
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 (imports the URLconf and every view module it names)
    resolver.reverse_dict  # noqa: B018 (builds the lookup tables a resolve or reverse needs)


def web_process_ready() -> None:
    """Called by the WSGI module in each worker, once the application is loaded."""
    web_warm_up()
    heap_freeze()


def cluster_worker_spawned(**kwargs: Any) -> None:
    """django-q2 ``post_spawn``: freeze the heap of a new cluster worker (its tasks hold our write turn)."""
    heap_freeze()


def _database_file(connection: BaseDatabaseWrapper) -> str | None:
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return os.path.abspath(name)


def _checkpoint_loop(path: str, interval: float) -> None:
    with _sqlite_calls:
        database = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    while True:
        time.sleep(interval)
        try:
            with _sqlite_calls:
                database.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.OperationalError as exc:  # busy: another process is checkpointing right now
            logger.debug("passive checkpoint of %s skipped: %s", path, exc)
        except sqlite3.Error:
            logger.exception("passive checkpoint of %s failed", path)


def checkpointer_start(path: str, interval: float = CHECKPOINT_INTERVAL) -> bool:
    """Start this process's checkpoint thread for the database file ``path`` (once per process; a forked
    child starts its own). Returns True when a thread was started."""
    pid = os.getpid()
    with _checkpointers_lock:
        if _checkpointers.get(path) == pid:
            return False
        _checkpointers[path] = pid
    thread = threading.Thread(
        target=_checkpoint_loop, args=(path, interval), name="sqlite-checkpoint", daemon=True
    )
    thread.start()
    return True


def sqlite_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created``: a file-backed SQLite connection stops checkpointing on commit and the
    process's checkpoint thread does it instead."""
    if connection.vendor != "sqlite":
        return
    path = _database_file(connection)
    if path is None:
        return
    connection.connection.execute("PRAGMA wal_autocheckpoint = 0")
    checkpointer_start(path)
