"""Starts the real `sluice` binary for interop tests: third-party clients against a running gateway."""
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

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("SLUICE_BINARY", str(ROOT / ".build" / "debug" / "sluice"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningGateway:
    def __init__(self, apis: Path, extra_args=(), env=None, settings: dict | None = None):
        self.apis = apis
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = [BINARY, "serve", "--apis", str(apis), "--host", "127.0.0.1", "--port", str(self.port), *extra_args]
        if settings is not None:
            settings_file = apis.parent / "settings.yaml"
            settings_file.write_text(json.dumps(settings))
            args += ["--config", str(settings_file)]
        self.log = open(apis.parent / "gateway.log", "w+")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sluice exited early: {self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sluice did not start listening")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def signal(self, sig):
        self.process.send_signal(sig)

    def stop(self, timeout=20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        return self.process.returncode


@pytest.fixture
def apis_dir():
    directory = Path(tempfile.mkdtemp(prefix="sluice-interop-"))
    apis = directory / "apis"
    shutil.copytree(ROOT / "examples" / "apis", apis)
    yield apis
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def gateway(apis_dir):
    running = RunningGateway(apis_dir)
    yield running
    running.stop()


@pytest.fixture
def client(gateway):
    with httpx.Client(base_url=gateway.base, timeout=10) as c:
        yield c
