"""``manage.py demo``: the whole console on the embedded default, in one process group.

Migrates the SQLite database, creates (or resets) the ``admin`` login and prints it, loads demo data, starts
the bundled AmoCRM sandbox as the AmoCRM account and connects the console to it (OAuth code exchange + account
setup), starts a django-q2 cluster, and serves the console until Ctrl+C or SIGTERM, which stop every process
it started within 10 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django_q.models import OrmQ

from console.amocrm.outbound.controls import orders_push_bulk
from console.orders.models import Order

ROOT = Path(settings.BASE_DIR)
STOP_SECONDS = 8  # every child is gone within 10 s of Ctrl+C or SIGTERM: asked first, then killed


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def processes_stop(processes: list[subprocess.Popen], seconds: float = STOP_SECONDS) -> None:
    """Ask every child's process group to stop (SIGTERM), wait for them together up to ``seconds``, then
    kill what is left (a django-q2 cluster finishing a long task would otherwise keep running)."""
    for process in reversed(processes):
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        _signal_group(process, signal.SIGKILL)  # the group's stragglers too, once its leader is gone
        process.wait()


def server_command(host: str, port: int) -> list[str]:
    """gunicorn with the console's configuration: its logger class keeps the webhook secret, which the
    sandbox's deliveries carry in their URL, out of the access log printed here."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(ROOT / "settings" / "gunicorn.py"),
        "-b",
        f"{host}:{port}",
        "-w",
        "2",
        "--threads",
        "4",
    ]


class Command(BaseCommand):
    help = "Set up and run the console with demo data and the AmoCRM sandbox (embedded default)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8765)
        parser.add_argument("--orders", type=int, default=300)
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        console_url = f"http://{options['host']}:{options['port']}"
        sandbox_url = f"http://127.0.0.1:{options['sandbox_port']}"
        os.environ.setdefault("AMOCRM_WEBHOOK_BASE_URL", console_url)
        settings.AMOCRM_WEBHOOK_BASE_URL = settings.AMOCRM_WEBHOOK_BASE_URL or console_url

        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        password = self._admin_password()
        processes: list[subprocess.Popen] = []
        previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops the demo as Ctrl+C does
        try:
            self._run(options, processes, password, sandbox_url=sandbox_url, console_url=console_url)
        except KeyboardInterrupt:
            pass
        finally:
            processes_stop(processes)
            signal.signal(signal.SIGTERM, previous)

    def _run(
        self, options: dict[str, Any], processes: list[subprocess.Popen], password: str, **urls: str
    ) -> None:
        console_url, sandbox_url = urls["console_url"], urls["sandbox_url"]
        processes.append(self._start_sandbox(options["sandbox_port"], console_url))
        loaded_before = Order.objects.count()
        logging.getLogger("django-q").setLevel(logging.WARNING)  # one "Enqueued" line per order is noise
        call_command("demo_data", orders=options["orders"], verbosity=1)
        call_command(
            "amocrm_connect_sandbox", url=sandbox_url, redirect_uri=f"{console_url}/amocrm/oauth/callback/"
        )
        if Order.objects.count() > loaded_before:
            self._push_demo_orders_in_bulk()
        processes.append(self._spawn([sys.executable, "manage.py", "qcluster"]))
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Console:        {console_url}/\n"
                f"  Login:          admin / {password}\n"
                f"  AmoCRM sandbox: {sandbox_url}/  (its leads board plays a manager working in AmoCRM)\n"
            )
        )
        if options["no_serve"]:
            return
        server = self._spawn(server_command(options["host"], options["port"]))
        processes.append(server)
        server.wait()

    def _push_demo_orders_in_bulk(self) -> None:
        """The demo data was loaded before the cluster runs: swap the one-task-per-order queue for batched
        pushes (about 0.3 AmoCRM calls per order instead of 3 to 6), so the demo account fills in seconds."""
        if settings.Q_BROKER != "orm":
            return
        OrmQ.objects.all().delete()
        ids = list(Order.objects.filter(sync_disabled=False).values_list("pk", flat=True))
        count = orders_push_bulk(order_ids=ids, trigger="demo")
        self.stdout.write(f"{count} demo orders queued for AmoCRM in batches")

    def _admin_password(self) -> str:
        password = secrets.token_urlsafe(9)
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password

    def _spawn(self, command: list[str]) -> subprocess.Popen:
        # Each child leads its own process group, so stopping it reaches its workers too (gunicorn's,
        # django-q2's); Ctrl+C reaches the demo alone, which stops them (``processes_stop``).
        return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), start_new_session=True)

    def _start_sandbox(self, port: int, console_url: str) -> subprocess.Popen:
        process = self._spawn(
            [
                sys.executable,
                "-m",
                "console.sandbox",
                "--port",
                str(port),
                "--db",
                str(Path(settings.DATA_DIR) / "sandbox.sqlite3"),
                "--redirect-uri",
                f"{console_url}/amocrm/oauth/callback/",
            ]
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/_sandbox/config", timeout=1)
                return process
            except requests.RequestException:
                if process.poll() is not None:
                    break
                time.sleep(0.2)
        process.kill()
        raise CommandError(f"The AmoCRM sandbox did not start on port {port} (is the port taken?)")
