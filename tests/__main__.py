"""The whole test suite in one command: ``python -m tests`` (after the venv is set up, see README).

1. Makes sure what the suite needs is there: Debian's Chromium for the browser tests (installed with apt-get
   when running as root), the local PostgreSQL and Redis servers (started when installed but not running).
2. Runs every test on the embedded default (SQLite, ORM broker), browser tests included.
3. Runs the suite again in the scale-out mode: PostgreSQL (``DATABASE_URL``) and the Redis broker
   (``REDIS_URL``), browser tests excluded (they exercise templates, not the database). There the
   background tests (marked ``cluster``) run the console on a PostgreSQL database of their own with two
   ``qcluster`` processes sharing the Redis broker (``tests/fixtures/stack.py``).

The two passes share nothing (their own databases, Redis database numbers, free ports and temporary files),
so they run side by side, one per CPU; each pass's output is printed when it ends (``--serial`` runs them one
after the other, printing as they go).

Exits non-zero when anything fails or when a pass collects no test. Extra arguments go to both pytest runs.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/console")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EMBEDDED_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/1"  # the embedded pass's Redis test, apart


def log(message: str) -> None:
    print(f"[tests] {message}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_port(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        time.sleep(0.5)
    return False


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def ensure_chromium() -> bool:
    if Path(CHROMIUM).exists():
        return True
    if is_root() and shutil.which("apt-get"):
        log("installing Debian's chromium (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)
    return Path(CHROMIUM).exists()


def ensure_postgres() -> bool:
    if port_open(5432):
        return True
    versions = sorted(glob.glob("/etc/postgresql/*"))
    if versions and shutil.which("pg_ctlcluster"):
        log("starting PostgreSQL")
        version = Path(versions[-1]).name
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
    return wait_port(5432)


def ensure_redis() -> bool:
    if port_open(6379):
        return True
    if shutil.which("redis-server"):
        log("starting Redis")
        Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
        Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
            check=False,
        )
    return wait_port(6379)


class Pass:
    """One pytest run in a process of its own; its output goes to a temporary file unless ``live``."""

    def __init__(self, args: list[str], env: dict[str, str], label: str, *, live: bool) -> None:
        log(f"pass: {label}")
        self.label, self.started = label, time.monotonic()
        self.output = None if live else tempfile.TemporaryFile()  # noqa: SIM115 (read and closed in wait)
        command = [sys.executable, "-m", "pytest", *args]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.output, stderr=subprocess.STDOUT
        )

    def wait(self) -> int:
        """Wait for the run, print its output (when kept) and return its exit status (a pass with no test
        collected fails)."""
        code = self.process.wait()
        if self.output is not None:
            self.output.seek(0)
            log(f"output of pass {self.label}:")
            sys.stdout.flush()
            shutil.copyfileobj(self.output, sys.stdout.buffer)
            sys.stdout.flush()
            self.output.close()
        log(f"pass {self.label} took {time.monotonic() - self.started:.0f} s")
        if code == 5:
            log(f"pass {self.label} collected no test: failing")
            return 1
        return code


def main(argv: list[str]) -> int:
    serial = "--serial" in argv
    argv = [arg for arg in argv if arg != "--serial"]
    base_env = {**os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE": "true", "PYTHONUNBUFFERED": "1"}
    base_env.pop("DATABASE_URL", None)
    base_env.pop("REDIS_URL", None)
    failures = 0

    has_chromium = ensure_chromium()
    if not has_chromium:
        log(f"no {CHROMIUM}: browser tests will be skipped (install Debian's chromium to run them)")
    has_pg = ensure_postgres()
    has_redis = ensure_redis()

    embedded_env = {**base_env}
    if has_redis:
        embedded_env["TEST_REDIS_URL"] = EMBEDDED_REDIS_URL  # lets the Redis-broker test run in this pass
    passes = []
    embedded = Pass(["-q", *argv], embedded_env, "embedded default (SQLite, ORM broker)", live=serial)
    if serial:
        failures += embedded.wait() != 0
    else:
        passes.append(embedded)

    if has_pg and has_redis:
        scale_env = {**base_env, "DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL, "TEST_REDIS_URL": REDIS_URL}
        label = "scale-out (PostgreSQL, Redis broker, two clusters)"
        passes.append(Pass(["-q", "-m", "not e2e", *argv], scale_env, label, live=serial))
    elif os.environ.get("CI"):
        log("PostgreSQL or Redis is not available in CI: failing")
        failures += 1
    else:
        log("PostgreSQL or Redis not available: the scale-out pass is skipped")

    failures += sum(run.wait() != 0 for run in passes)
    log("all passes green" if not failures else f"{failures} pass(es) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
