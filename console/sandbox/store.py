"""The sandbox's state store: JSON documents in one SQLite database.

One connection (a file or ``:memory:``) is shared by all request threads and guarded by one re-entrant lock,
so a handler that needs several reads and writes to be atomic simply holds ``store.lock``. Documents are
keyed by ``(kind, id)``; ``kind`` names a collection (``leads``, ``contacts``, ``link``, ``refresh`` ...) and
keeps insertion order through SQLite's rowid, which is what the list endpoints page over.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS doc (
    kind TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS seq (kind TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""


class Store:
    """Thread-safe document store over one SQLite connection."""

    def __init__(self, path: str = ":memory:") -> None:
        self.lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Hold the lock and one SQLite transaction for a group of reads and writes (re-entrant)."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def get(self, kind: str, key: Any) -> dict[str, Any] | None:
        """The document stored under ``(kind, key)``, or None."""
        with self.lock:
            row = self._db.execute("SELECT data FROM doc WHERE kind=? AND id=?", (kind, str(key))).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, key: Any, data: dict[str, Any]) -> None:
        """Insert or replace a document (a replaced document keeps its position in the list order)."""
        blob = json.dumps(data, ensure_ascii=False)
        with self.lock:
            cur = self._db.execute("UPDATE doc SET data=? WHERE kind=? AND id=?", (blob, kind, str(key)))
            if cur.rowcount == 0:
                self._db.execute("INSERT INTO doc (kind, id, data) VALUES (?, ?, ?)", (kind, str(key), blob))

    def delete(self, kind: str, key: Any) -> bool:
        """Remove a document; True when it existed."""
        with self.lock:
            cur = self._db.execute("DELETE FROM doc WHERE kind=? AND id=?", (kind, str(key)))
        return cur.rowcount > 0

    def all(self, kind: str, prefix: str | None = None) -> list[dict[str, Any]]:
        """Every document of a kind in insertion order, optionally only keys starting with ``prefix``."""
        with self.lock:
            if prefix is None:
                rows = self._db.execute(
                    "SELECT data FROM doc WHERE kind=? ORDER BY rowid", (kind,)
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT data FROM doc WHERE kind=? AND substr(id, 1, ?)=? ORDER BY rowid",
                    (kind, len(prefix), prefix),
                ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, kind: str) -> int:
        """How many documents of a kind exist."""
        with self.lock:
            return self._db.execute("SELECT count(*) FROM doc WHERE kind=?", (kind,)).fetchone()[0]

    def next_id(self, kind: str, start: int) -> int:
        """Allocate the next integer id of a sequence that begins at ``start``."""
        with self.lock:
            row = self._db.execute("SELECT n FROM seq WHERE kind=?", (kind,)).fetchone()
            n = (row[0] + 1) if row else start
            self._db.execute("INSERT OR REPLACE INTO seq (kind, n) VALUES (?, ?)", (kind, n))
        return n

    def clear(self) -> None:
        """Drop every document and sequence."""
        with self.lock:
            self._db.execute("DELETE FROM doc")
            self._db.execute("DELETE FROM seq")
