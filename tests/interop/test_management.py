"""The management API of the `sluice` binary: `sluice serve` with a SQLite store, the admin token at first start,
the command line against it, and a schemathesis run of its OpenAPI document that must find no server error."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import BINARY, ROOT, free_port

TOKEN = "interop-admin-token-0123456789"
ENVIRONMENT = "/management/v2/environments/DEFAULT"


class RunningServe:
    """`sluice serve` with a SQLite store in a temporary directory; gateway and management API on free ports."""

    def __init__(self, directory: Path, extra_args=(), env=None):
        self.port = free_port()
        self.management_port = free_port()
        self.base = f"http://127.0.0.1:{self.management_port}"
        self.gateway = f"http://127.0.0.1:{self.port}"
        args = [BINARY, "serve", "--store", "sqlite", "--data-dir", str(directory / "data"), "--host", "127.0.0.1",
                "--port", str(self.port), "--management-port", str(self.management_port), *extra_args]
        self.log_path = directory / "serve.log"
        self.log = open(self.log_path, "w+")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "SLUICE_STORE_POLL_INTERVAL_MS": "200", **(env or {})})

    def wait(self, port):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sluice exited early: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sluice did not listen on {port}: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


@pytest.fixture
def serve(tmp_path):
    running = RunningServe(tmp_path, env={"SLUICE_MANAGEMENT_ADMIN_TOKEN": TOKEN})
    running.wait(running.management_port).wait(running.port)
    yield running
    assert running.stop() == 0, running.output()


def api_definition(api_id: str) -> dict:
    return {
        "id": api_id, "name": api_id, "apiVersion": "1.0", "definitionVersion": "4.0.0", "type": "message",
        "listeners": [{"type": "http", "paths": [{"path": f"/{api_id}"}],
                       "entrypoints": [{"type": "http-post"}, {"type": "http-get"}, {"type": "sse"}]}],
        "endpointGroups": [{"name": "default", "type": "inmemory",
                            "endpoints": [{"name": "e", "type": "inmemory", "configuration": {"topic": api_id}}]}],
        "plans": [{"id": f"{api_id}-key", "name": "Key", "security": {"type": "api-key"}, "mode": "STANDARD",
                   "validation": "AUTO", "status": "PUBLISHED"}],
        "flows": [],
    }


def cli(serve, *args, token=TOKEN):
    env = {**os.environ, "SLUICE_MANAGEMENT_URL": serve.base}
    if token is not None:
        env["SLUICE_MANAGEMENT_TOKEN"] = token
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=60, env=env)


def test_first_start_prints_an_admin_token_once(tmp_path):
    first = RunningServe(tmp_path, extra_args=["--role", "management"])
    first.wait(first.management_port)
    try:
        deadline = time.monotonic() + 10
        while "admin token" not in first.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        line = next(line for line in first.output().splitlines() if "admin token" in line)
        token = line.rsplit(" ", 1)[1]
        assert httpx.get(f"{first.base}{ENVIRONMENT}/apis").status_code == 401
        assert httpx.get(f"{first.base}{ENVIRONMENT}/apis", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        # --role management: no gateway listener.
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", first.port), timeout=0.5).close()
    finally:
        assert first.stop() == 0
    # The second start finds the admin and prints nothing.
    second = RunningServe(tmp_path, extra_args=["--role", "management"])
    second.wait(second.management_port)
    try:
        time.sleep(0.5)
        assert "admin token" not in second.output()
        assert httpx.get(f"{second.base}{ENVIRONMENT}/apis", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        assert second.stop() == 0


def test_the_admin_token_from_a_file(tmp_path):
    token_file = tmp_path / "admin-token"
    token_file.write_text("token-from-a-file-0123456789\n")
    running = RunningServe(tmp_path, extra_args=["--role", "management"],
                           env={"SLUICE_MANAGEMENT_ADMIN_TOKEN_FILE": str(token_file)})
    running.wait(running.management_port)
    try:
        good = httpx.get(f"{running.base}{ENVIRONMENT}/apis",
                         headers={"Authorization": "Bearer token-from-a-file-0123456789"})
        assert good.status_code == 200, good.text
        assert "admin token (shown once" not in running.output()
        bad = httpx.get(f"{running.base}{ENVIRONMENT}/apis", headers={"Authorization": "Bearer something-else-0000"})
        assert bad.status_code == 401 and bad.headers["content-type"].startswith("application/problem+json")
    finally:
        assert running.stop() == 0


def test_the_command_line_manages_apis_and_keys(serve, tmp_path):
    definition = tmp_path / "orders.json"
    definition.write_text(json.dumps(api_definition("orders")))
    imported = cli(serve, "apis", "import", str(definition), "--start", "--output", "json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["state"] == "STARTED"
    listed = cli(serve, "apis", "list")
    assert listed.returncode == 0 and "orders" in listed.stdout and "STARTED" in listed.stdout, listed.stdout
    assert cli(serve, "apps", "create", "--id", "shop", "--name", "Shop").returncode == 0
    created = cli(serve, "subscriptions", "create", "--api", "orders", "--plan", "orders-key", "--application", "shop",
                  "--output", "json")
    assert created.returncode == 0, created.stderr
    subscription = json.loads(created.stdout)
    key = subscription["apiKeys"][0]["key"]
    # The key works through the gateway of the same process…
    deadline = time.monotonic() + 5
    status = None
    while time.monotonic() < deadline:
        status = httpx.post(f"{serve.gateway}/orders", content=b"hi", headers={"X-Gravitee-Api-Key": key}).status_code
        if status == 202:
            break
        time.sleep(0.1)
    assert status == 202
    # …until it is revoked through the command line.
    revoked = cli(serve, "keys", "revoke", "--api", "orders", "--subscription", subscription["id"],
                  subscription["apiKeys"][0]["id"])
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        status = httpx.post(f"{serve.gateway}/orders", content=b"hi", headers={"X-Gravitee-Api-Key": key}).status_code
        if status == 401:
            break
        time.sleep(0.05)
    assert status == 401
    exported = cli(serve, "apis", "export", "orders")
    assert exported.returncode == 0 and json.loads(exported.stdout)["api"]["id"] == "orders"
    # Errors: a problem detail printed readably, a non-zero exit.
    missing = cli(serve, "apis", "get", "nope")
    assert missing.returncode == 1 and "Not found (HTTP 404)" in missing.stderr, missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "bad", "type": "message", "listeners": [{"type": "http", "paths": [{"path": "/b"}], "entrypoints": [{"type": "webhook"}]}]}))
    refused = cli(serve, "apis", "import", str(bad))
    assert refused.returncode == 1
    assert "listeners[0].entrypoints[0].type:" in refused.stderr, refused.stderr
    unauthorized = cli(serve, "apis", "list", token="wrong-token-00000000")
    assert unauthorized.returncode == 1 and "HTTP 401" in unauthorized.stderr
    assert cli(serve, "apis", "stop", "orders").returncode == 0
    assert cli(serve, "apis", "delete", "orders").returncode == 0


def test_schemathesis_finds_no_server_error(serve):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=serve.base, headers=headers, timeout=10) as client:
        assert client.post(f"{ENVIRONMENT}/apis/_import/definition", json=api_definition("orders")).status_code == 201
        assert client.post(f"{ENVIRONMENT}/applications", json={"id": "shop", "name": "Shop"}).status_code == 201
        assert client.post(f"{ENVIRONMENT}/apis/orders/subscriptions",
                           json={"planId": "orders-key", "applicationId": "shop"}).status_code == 201
    schemathesis = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [str(schemathesis), "run", f"{serve.base}/management/openapi.json", "--checks", "not_a_server_error",
         "-H", f"Authorization: Bearer {TOKEN}", "--max-examples", os.environ.get("SLUICE_SCHEMATHESIS_EXAMPLES", "30"),
         "--workers", "1", "--seed", "1", "--request-timeout", "10", "--continue-on-failure", "--no-color",
         # Renewing a user's token may hit the admin's own (its id is listed), which would lock the run out.
         "--exclude-operation-id", "renewUserToken"],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "Authentication failed" not in result.stdout, result.stdout[-4000:]
    assert "management request failed" not in serve.output()
    # The run went through with the admin's token to the end.
    assert httpx.get(f"{serve.base}{ENVIRONMENT}/apis", headers=headers).status_code == 200
