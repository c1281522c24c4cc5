"""The server process: CLI, persistence in a database file, concurrent writes, request ids."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from tests.fixtures.sandbox import SandboxHandle, start_sandbox


def test_concurrent_creates_get_unique_ids(sb):
    def post(i):
        resp = sb.api("POST", "leads", json=[{"name": f"t{i}-{j}"} for j in range(5)])
        assert resp.status_code == 200
        return [row["id"] for row in resp.json()["_embedded"]["leads"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [i for chunk in pool.map(post, range(40)) for i in chunk]
    assert len(ids) == len(set(ids)) == 200
    assert sb.stats()["leads"] == 200


def test_every_answer_carries_a_request_id(sb):
    answers = [
        sb.api("GET", "account"),
        sb.api("GET", "leads"),
        requests.get(sb.url + "/api/v4/account"),
        requests.get(sb.url + "/_sandbox/state"),
        requests.get(sb.url + "/"),
    ]
    ids = [r.headers["X-Request-Id"] for r in answers]
    assert all(ids) and len(set(ids)) == len(ids)


def test_a_database_file_keeps_data_and_tokens_across_restarts(tmp_path):
    db = str(tmp_path / "sandbox.sqlite3")
    proc, url = start_sandbox("--db", db, "--client-id", "cid", "--rate-limit", "0")
    try:
        handle = SandboxHandle(url)
        handle.client_id = "cid"
        token = handle.long_lived_token(client_id="cid")
        lead_id = handle.api("POST", "leads", token=token, json=[{"name": "keep"}]).json()["_embedded"][
            "leads"
        ][0]["id"]
    finally:
        proc.kill()
        proc.wait()
    proc, url = start_sandbox("--db", db, "--client-id", "cid")
    try:
        again = SandboxHandle(url)
        assert again.api("GET", f"leads/{lead_id}", token=token).json()["name"] == "keep"
    finally:
        proc.kill()
        proc.wait()


def test_cli_options_set_the_defaults(tmp_path):
    proc, url = start_sandbox("--subdomain", "rental", "--token-lifetime", "60", "--rate-limit", "3")
    try:
        config = requests.get(url + "/_sandbox/config").json()
        assert (config["subdomain"], config["token_lifetime"], config["rate_limit"]) == ("rental", 60, 3)
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    finally:
        proc.kill()
        proc.wait()
