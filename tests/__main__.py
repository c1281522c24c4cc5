"""The whole test suite in one command: ``python -m tests`` (after the venv is set up, see README).

1. Makes sure what the suite needs is there: Debian's Chromium for the browser tests (installed with apt-get
   when running as root), the local PostgreSQL and Redis servers (started when installed but not running).
2. Runs every test on the embedded default (SQLite, ORM broker), browser tests included.
3. Runs the suite again in the scale-out mode: PostgreSQL (``DATABASE_URL``) and the Redis broker
   (``REDIS_URL``), browser tests excluded (they exercise templates, not the database). There the
   background tests (marked ``cluster``) run the console on a PostgreSQL database of their own with two
   ``qcluster`` processes sharing the Redis broker (``tests/fixtures/stack.py``).

Exits non-zero when anything fails or when a pass collects no test. Extra arguments go to both pytest runs.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/console")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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


def pytest(args: list[str], env: dict[str, str], label: str) -> int:
    log(f"pass: {label}")
    started = time.monotonic()
    code = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env).returncode
    log(f"pass {label} took {time.monotonic() - started:.0f} s")
    if code == 5:
        log(f"pass {label} collected no test: failing")
        return 1
    return code


def main(argv: list[str]) -> int:
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
        embedded_env["TEST_REDIS_URL"] = REDIS_URL  # lets the Redis-broker test run in the embedded pass
    failures += pytest(["-q", *argv], embedded_env, "embedded default (SQLite, ORM broker)") != 0

    if has_pg and has_redis:
        scale_env = {**base_env, "DATABASE_URL": PG_URL, "REDIS_URL": REDIS_URL, "TEST_REDIS_URL": REDIS_URL}
        failures += (
            pytest(
                ["-q", "-m", "not e2e", *argv],
                scale_env,
                "scale-out (PostgreSQL, Redis broker, two clusters)",
            )
            != 0
        )
    elif os.environ.get("CI"):
        log("PostgreSQL or Redis is not available in CI: failing")
        failures += 1
    else:
        log("PostgreSQL or Redis not available: the scale-out pass is skipped")

    log("all passes green" if not failures else f"{failures} pass(es) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
