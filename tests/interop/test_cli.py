"""The command line: validate, settings file and environment."""
import json
import os
import subprocess

import httpx

from conftest import BINARY, ROOT, RunningGateway, free_port


def test_validate_accepts_the_examples():
    result = subprocess.run([BINARY, "validate", str(ROOT / "examples" / "apis")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    examples = sorted(p for p in (ROOT / "examples" / "apis").iterdir() if p.suffix in (".json", ".yaml", ".yml"))
    assert f"{len(examples)} valid, 0 invalid" in result.stdout, result.stdout
    for example in examples:
        assert f"ok    {example}" in result.stdout, result.stdout
    # Each access file is summarised with what it holds, counted from the file itself (its `- id:` entries under
    # `subscriptions:` and its `- key`/`- keyHash` entries under `apiKeys:`).
    for access in (p for p in examples if ".access." in p.name):
        sections, section = {"subscriptions": 0, "apiKeys": 0}, None
        for line in access.read_text().splitlines():
            if line and not line.startswith((" ", "-", "#")):
                section = line.split(":")[0].strip()
            elif section == "subscriptions" and line.lstrip().startswith("- id:"):
                sections["subscriptions"] += 1
            elif section == "apiKeys" and line.lstrip().startswith(("- key:", "- keyHash:")):
                sections["apiKeys"] += 1
        summary = f"(access: {sections['subscriptions']} subscriptions, {sections['apiKeys']} keys)"
        assert f"ok    {access}  {summary}" in result.stdout, result.stdout


def test_validate_reports_every_problem_with_its_path(tmp_path):
    bad = {
        "id": "bad", "type": "message",
        "listeners": [{"type": "http", "paths": [{"path": "/bad"}], "entrypoints": [{"type": "webhook"}, {"type": "sse", "configuration": {"heartbeatIntervalInMs": -1}}]}],
        "endpointGroups": [{"name": "g", "type": "mock", "endpoints": [{"name": "e", "type": "mock", "configuration": {"messageInterval": 0}}]}],
    }
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    result = subprocess.run([BINARY, "validate", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "listeners[0].entrypoints[0].type: entrypoint 'webhook' belongs in a 'subscription' listener, not 'http'" in result.stdout
    assert "listeners[0].entrypoints[1].configuration.heartbeatIntervalInMs: must be an integer between 1 and 3600000" in result.stdout
    assert "endpointGroups[0].endpoints[0].configuration.messageInterval: must be a positive integer" in result.stdout


def test_environment_and_settings_file(apis_dir, tmp_path):
    settings = tmp_path / "sluice.yaml"
    settings.write_text("limits:\n  maxRequestBodyBytes: 16\n")
    port = free_port()
    env = {**os.environ, "SLUICE_PORT": str(port), "SLUICE_HOST": "127.0.0.1", "SLUICE_APIS": str(apis_dir)}
    process = subprocess.Popen([BINARY, "serve", "--config", str(settings)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import time
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/events", content=b"x" * 32, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.status_code == 413
        assert response.json()["key"] == "REQUEST_PAYLOAD_TOO_LARGE"
    finally:
        process.terminate()
        assert process.wait(20) == 0


def test_bad_settings_are_refused_with_the_setting_named(tmp_path):
    settings = tmp_path / "sluice.yaml"
    settings.write_text("port: many\nlimits:\n  maxPollMessages: 0\n")
    result = subprocess.run([BINARY, "serve", "--config", str(settings)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "port" in result.stderr and "maxPollMessages" in result.stderr
