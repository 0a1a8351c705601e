"""Several gateway processes on one PostgreSQL management store: a change made through one node's management API
reaches another node, a separate `sluice serve --role gateway` process, within 2 seconds."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from conftest import BINARY, free_port
from test_management import ENVIRONMENT, TOKEN, api_definition

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def wait_port(port: int, process: subprocess.Popen, log: Path):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited early: {log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}: {log.read_text()[-3000:]}")


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own (Debian's `postgresql`), as the postgres user when the tests run as root."""
    if not PG_BINS:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: scripts/test.sh installs it")
        pytest.skip("PostgreSQL is not installed (Debian's postgresql; scripts/test.sh installs it)")
    binaries = PG_BINS[-1]
    directory = Path(tempfile.mkdtemp(prefix="sluice-nodes-pg-", dir="/tmp"))
    directory.chmod(0o755)
    as_user = []
    if os.getuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_user + [f"{binaries}/initdb", "-D", str(directory / "data"), "-U", "sluice", "--auth=trust",
                              "-E", "UTF8", "-N"], check=True, capture_output=True, timeout=120)
    port = free_port()
    log = directory / "postgres.log"
    with open(log, "w") as output:
        server = subprocess.Popen(as_user + [f"{binaries}/postgres", "-D", str(directory / "data"), "-p", str(port),
                                             "-h", "127.0.0.1", "-k", str(directory), "-c", "fsync=off"],
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_port(port, server, log)
        yield f"postgres://sluice@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        subprocess.run(["pkill", "-INT", "-f", str(directory / "data")], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)


class Node:
    """One `sluice serve` process on the PostgreSQL store."""

    def __init__(self, directory: Path, name: str, url: str, role: str):
        self.port = free_port()
        self.management_port = free_port()
        self.gateway = f"http://127.0.0.1:{self.port}"
        self.management = f"http://127.0.0.1:{self.management_port}"
        self.log_path = directory / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--store", "postgres", "--postgres-url", url, "--role", role, "--host", "127.0.0.1",
             "--port", str(self.port), "--management-port", str(self.management_port)],
            stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "SLUICE_MANAGEMENT_ADMIN_TOKEN": TOKEN, "SLUICE_NODE_ID": name})

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


def status_within(seconds: float, url: str, key: str, wanted: int) -> int:
    deadline = time.monotonic() + seconds
    status = None
    while time.monotonic() < deadline:
        status = httpx.post(url, content=b"hi", headers={"X-Gravitee-Api-Key": key}).status_code
        if status == wanted:
            return status
        time.sleep(0.05)
    return status


def test_a_change_through_one_node_reaches_another_process_within_2_seconds(postgres, tmp_path):
    a = Node(tmp_path, "node-a", postgres, "all")
    b = Node(tmp_path, "node-b", postgres, "gateway")
    try:
        wait_port(a.management_port, a.process, a.log_path)
        wait_port(a.port, a.process, a.log_path)
        wait_port(b.port, b.process, b.log_path)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=a.management, headers=headers, timeout=10) as client:
            imported = client.post(f"{ENVIRONMENT}/apis/_import/definition", json=api_definition("orders"))
            assert imported.status_code == 201, imported.text
            assert client.post(f"{ENVIRONMENT}/apis/orders/_start").status_code in (200, 204)
            assert client.post(f"{ENVIRONMENT}/applications", json={"id": "shop", "name": "Shop"}).status_code == 201
            created = client.post(f"{ENVIRONMENT}/apis/orders/subscriptions",
                                  json={"planId": "orders-key", "applicationId": "shop"})
            assert created.status_code == 201, created.text
            subscription = created.json()
            key = subscription["apiKeys"][0]["key"]
            # The API and the key reach the other process, which never saw the management API.
            assert status_within(5, f"{b.gateway}/orders", key, 202) == 202, b.log_path.read_text()[-3000:]
            assert status_within(5, f"{a.gateway}/orders", key, 202) == 202
            revoked = client.post(f"{ENVIRONMENT}/apis/orders/subscriptions/{subscription['id']}/api-keys/"
                                  f"{subscription['apiKeys'][0]['id']}/_revoke")
            assert revoked.status_code in (200, 204), revoked.text
            started = time.monotonic()
            assert status_within(2, f"{b.gateway}/orders", key, 401) == 401
            print(f"revocation reached the other process in {time.monotonic() - started:.3f} s")
            # A node started later catches up with everything.
            c = Node(tmp_path, "node-c", postgres, "gateway")
            try:
                wait_port(c.port, c.process, c.log_path)
                assert status_within(5, f"{c.gateway}/orders", key, 401) == 401
                other = client.post(f"{ENVIRONMENT}/apis/orders/subscriptions",
                                    json={"planId": "orders-key", "applicationId": "shop"}).json()
                assert status_within(5, f"{c.gateway}/orders", other["apiKeys"][0]["key"], 202) == 202
            finally:
                assert c.stop() == 0, c.log_path.read_text()[-3000:]
    finally:
        assert b.stop() == 0, b.log_path.read_text()[-3000:]
        assert a.stop() == 0, a.log_path.read_text()[-3000:]
