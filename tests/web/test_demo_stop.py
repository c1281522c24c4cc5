"""``manage.py demo`` stops everything it started within 10 s of SIGTERM (as of Ctrl+C): the sandbox, the
django-q2 cluster and gunicorn, their worker processes included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.fixtures.stack import free_port

ROOT = Path(settings.BASE_DIR)


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(url: str, demo: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert demo.poll() is None, "the demo exited early"
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.cluster
def test_sigterm_stops_the_demo_and_every_process_it_started_within_ten_seconds(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "settings.base"}
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "manage.py", "demo", "--orders", "3"]
    command += ["--port", str(port), "--sandbox-port", str(sandbox_port)]
    demo = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: set[int] = set()
    try:
        _wait_for(f"http://127.0.0.1:{port}/login/", demo, 180)
        children = _descendants(demo.pid)
        assert len(children) >= 4  # the sandbox, the cluster (and its workers), gunicorn (and its workers)
        demo.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (demo.poll() is None or any(map(_alive, children))):
            time.sleep(0.2)
        assert demo.poll() is not None
        assert [pid for pid in children if _alive(pid)] == []
    finally:
        for pid in {demo.pid, *children, *_descendants(demo.pid)}:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
