"""Process tuning for the web workers and the cluster: warm-up, a frozen heap, SQLite checkpoints off-path.

Measured with ``tests/bench/bench_webhooks.py`` (webhook deliveries at concurrency 20, SQLite):

- **Garbage collection.** A Django process holds a few hundred thousand long-lived objects (modules, URL
  patterns, models, templates). Every full collection walked all of them: 30-70 ms in a web worker, up to
  170 ms in a cluster worker. When that happened while the process held SQLite's write lock (or our writer
  turn, see ``console.amocrm.webhooks.sqlite_writer_turn``), every other delivery waited as long: most of
  the slow answers. ``gc.freeze()`` once the process is warm moves those objects out of the collector's
  sight; full collections then look at per-request garbage only (well under a millisecond).
- **Middleware.** A webhook delivery is a machine posting a form: it needs no session, locale, CSRF, auth,
  messages, clickjacking or htmx work. ``webhook_dispatch`` serves ``/amocrm/webhook/`` with a handler
  built from the short ``WEBHOOK_MIDDLEWARE`` chain: 0.18 ms of the intake's 1.05 ms.
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
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = 0.5  # seconds between passive checkpoints

# database file -> (pid of the process whose thread checkpoints it, the event that stops that thread)
_checkpointers: dict[str, tuple[int, threading.Event]] = {}
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


class WebhookHandler(WSGIHandler):
    """Django's WSGI handler with ``settings.WEBHOOK_MIDDLEWARE`` as its middleware chain."""

    def load_middleware(self, is_async: bool = False) -> None:
        from django.test.utils import override_settings

        # BaseHandler builds its chain from settings.MIDDLEWARE; this runs once, when the handler is made.
        with override_settings(MIDDLEWARE=settings.WEBHOOK_MIDDLEWARE):
            super().load_middleware(is_async)


def webhook_dispatch(console_application: Callable[..., Any]) -> Callable[..., Iterable[bytes]]:
    """The WSGI application: webhook deliveries through a :class:`WebhookHandler`, the rest through
    ``console_application``. Both resolve URLs with the one URLconf, which also gives the intake's path."""
    from django.urls import get_script_prefix, reverse

    intake = reverse("amocrm:webhook", args=["-"]).removesuffix("-/")
    prefix = "/" + intake.removeprefix(get_script_prefix())  # PATH_INFO comes without the script prefix
    webhook_application = WebhookHandler()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(prefix):
            return webhook_application(environ, start_response)
        return console_application(environ, start_response)

    return application


def cluster_worker_spawned(**kwargs: Any) -> None:
    """django-q2 ``post_spawn``: freeze the heap of a new cluster worker (its tasks hold our write turn)."""
    heap_freeze()


def _database_file(connection: BaseDatabaseWrapper) -> str | None:
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return os.path.abspath(name)


def _checkpoint_loop(path: str, interval: float, stop: threading.Event) -> None:
    # The connection is never closed: closing the last connection to a database file makes SQLite
    # checkpoint it and delete its "-wal" file by name, which would be another database's log if the file
    # had been replaced meanwhile. It ends with the process.
    with _sqlite_calls:
        database = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    while not stop.wait(interval):
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
    pid, stop = os.getpid(), threading.Event()
    with _checkpointers_lock:
        if path in _checkpointers and _checkpointers[path][0] == pid:
            return False
        _checkpointers[path] = (pid, stop)
    thread = threading.Thread(
        target=_checkpoint_loop, args=(path, interval, stop), name="sqlite-checkpoint", daemon=True
    )
    thread.start()
    return True


def checkpointer_stop(path: str) -> None:
    """Stop this process's checkpoint thread for ``path`` (tests; a process keeps its thread otherwise)."""
    with _checkpointers_lock:
        entry = _checkpointers.get(path)
        if entry is not None and entry[0] == os.getpid():
            del _checkpointers[path]
            entry[1].set()


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
