"""The production mode and the process-level hardening, each proven in a fresh process: settings read from the
environment (``PRODUCTION=true`` and its switches), ``check --deploy``, private data files, the cache table
created by ``migrate``, and gunicorn's access log without the webhook secret."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_SECRET = "s3cr3t-Webhook-Value-42"


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a console process in the embedded mode with its own ``DATA_DIR``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PRODUCTION", "SECURE_"))}
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "Q_BROKER",
        "ALLOWED_HOSTS",
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEY",
    ):
        env.pop(name, None)
    return {**env, "DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "settings.base", **extra}


def production_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return embedded_env(
        data_dir,
        PRODUCTION="true",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="console.example.com",
        # Not connected by the checks below: the settings only need them to be given.
        DATABASE_URL="postgres://console@127.0.0.1:5432/console",
        REDIS_URL="redis://127.0.0.1:6379/0",
        **extra,
    )


def run(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


def settings_of(env: dict[str, str]) -> dict[str, Any]:
    """The settings ``settings.base`` computes in ``env`` (a fresh interpreter, no Django set-up)."""
    names = [
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        "CACHES",
        "Q_BROKER",
    ]
    code = (
        f"import json, settings.base as s; print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}"
        " | {'NUM_PROXIES': s.REST_FRAMEWORK['NUM_PROXIES']}, default=str))"
    )
    result = run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- production settings ---------------------------------------------------------------------------------


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SECRET_KEY"])
def test_production_refuses_to_start_without_a_required_setting(tmp_path: Path, missing: str) -> None:
    env = production_env(tmp_path)
    env.pop(missing)
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and f"{missing}" in result.stderr


def test_production_turns_the_security_settings_on_with_redis_as_broker_and_cache(tmp_path: Path) -> None:
    values = settings_of(production_env(tmp_path))
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and values["SECURE_HSTS_PRELOAD"]
    assert values["SECURE_SSL_REDIRECT"] and values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_PROXY_SSL_HEADER"] is None and values["NUM_PROXIES"] == 0
    assert values["Q_BROKER"] == "redis"
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


SWITCHES = (
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)


def test_each_security_setting_has_its_own_switch(tmp_path: Path) -> None:
    switched_off = dict.fromkeys(SWITCHES, "false")
    env = production_env(
        tmp_path,
        **switched_off,
        SECURE_HSTS_SECONDS="0",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto:https",
        TRUSTED_PROXY_COUNT="1",
    )
    values = settings_of(env)
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert not any(values[name] for name in SWITCHES)
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["NUM_PROXIES"] == 1


def test_the_embedded_mode_keeps_http_and_shares_its_cache_through_the_database(tmp_path: Path) -> None:
    values = settings_of(embedded_env(tmp_path))
    assert not values["SECURE_SSL_REDIRECT"] and values["SECURE_HSTS_SECONDS"] == 0
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert values["NUM_PROXIES"] == 0


# --- data files, cache table -----------------------------------------------------------------------------

LIST_MODES = (
    "import json, os; from django.db import connection\n"
    "with connection.cursor() as c:\n"
    "    c.execute('CREATE TABLE probe (x integer)'); c.execute('INSERT INTO probe VALUES (1)')\n"
    "d = os.environ['DATA_DIR']\n"
    "print(json.dumps({f: os.stat(os.path.join(d, f)).st_mode & 0o777 for f in os.listdir(d)}))\n"
)


@pytest.mark.parametrize("entry", ["manage.py", "settings/wsgi.py"])
def test_the_embedded_mode_creates_its_data_files_private(tmp_path: Path, entry: str) -> None:
    if entry == "manage.py":
        args = ["manage.py", "shell", "-c", LIST_MODES]
    else:
        args = ["-c", "import settings.wsgi\n" + LIST_MODES]
    result = run(args, embedded_env(tmp_path / "data"), umask=0o022)
    assert result.returncode == 0, result.stderr
    modes = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("console.sqlite3", "console.sqlite3-wal", "console.sqlite3-shm", "secret_key"):
        assert modes[name] == 0o600, (name, oct(modes[name]))
    assert modes["field_encryption_key"] == 0o600 and modes["staticfiles"] == 0o700


def test_migrate_creates_the_cache_table_of_the_embedded_mode(tmp_path: Path) -> None:
    result = run(["manage.py", "migrate", "-v", "0"], embedded_env(tmp_path))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "console.sqlite3") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "console_cache" in tables


# --- gunicorn's logs -------------------------------------------------------------------------------------


def test_the_gunicorn_config_names_the_redacting_logger() -> None:
    from gunicorn.config import Config

    from console.web.gunicorn_logging import RedactingLogger

    config = Config()
    config.set("logger_class", "console.web.gunicorn_logging.RedactingLogger")
    assert config.logger_class is RedactingLogger
    text = (ROOT / "settings" / "gunicorn.py").read_text()
    assert 'logger_class = "console.web.gunicorn_logging.RedactingLogger"' in text


def test_the_logger_class_writes_an_access_line_without_the_webhook_secret(tmp_path: Path) -> None:
    from gunicorn.config import Config

    from console.web.gunicorn_logging import RedactingLogger

    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = RedactingLogger(config)
    path = f"/amocrm/webhook/{WEBHOOK_SECRET}/"
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.5",
        "HTTP_REFERER": f"https://example.com{path}",
    }
    response = SimpleNamespace(status="200 OK", sent=2, headers=[])
    request = SimpleNamespace(headers=[("X-ORIGINAL-URI", path)])
    logger.access(response, request, environ, SimpleNamespace(seconds=0, microseconds=1500))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert WEBHOOK_SECRET not in line
    assert '"POST /amocrm/webhook/***/ HTTP/1.1" 200' in line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_started_with_the_config_logs_no_webhook_secret(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "settings/gunicorn.py",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
        ],
        cwd=ROOT,
        env=embedded_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/amocrm/webhook/{WEBHOOK_SECRET}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        assert answer.status_code == 405  # the intake takes POST only; no database needed
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "GET /amocrm/webhook/***/ HTTP/1.1" in output
    assert WEBHOOK_SECRET not in output


def test_env_example_lists_every_variable_the_settings_read() -> None:
    base = (ROOT / "settings" / "base.py").read_text()
    read = set(re.findall(r'env(?:_bool|_ints?|_float)?\(\s*"([A-Z0-9_]+)"', base))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read and read <= listed, sorted(read - listed)


# --- issue 18: production refuses a generated key even with DEBUG, and keeps /metrics closed without a token


def test_production_with_debug_still_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path, DEBUG="true")
    env.pop("SECRET_KEY")
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SECRET_KEY" in result.stderr


METRICS_PROBE = (
    "import django; django.setup(); from django.test import Client; "
    "print(Client().get('/metrics', secure=True, HTTP_HOST='console.example.com').status_code)"
)


@pytest.mark.parametrize(("token", "status"), [("", "403"), ("m3trics-T0ken", "401")])
def test_metrics_in_production_needs_a_configured_token(tmp_path: Path, token: str, status: str) -> None:
    result = run(["-c", METRICS_PROBE], production_env(tmp_path, METRICS_TOKEN=token))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == status
