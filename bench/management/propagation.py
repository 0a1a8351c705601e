"""Time from revoking an API key through node A's management API to node B refusing it, over N changes.

Each round issues a fresh key (through A), waits until B accepts it, then revokes it through A and polls B every
2 ms until B answers 401; the time is from just before the revoke request is sent to B's first 401."""
import statistics
import sys
import time

import httpx

management, gateway, token, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = "/management/v2/environments/DEFAULT"
headers = {"Authorization": f"Bearer {token}"}
api = {
    "id": "prop", "name": "prop", "definitionVersion": "4.0.0", "type": "message",
    "listeners": [{"type": "http", "paths": [{"path": "/prop"}], "entrypoints": [{"type": "http-post"}]}],
    "endpointGroups": [{"name": "g", "type": "inmemory",
                        "endpoints": [{"name": "e", "type": "inmemory", "configuration": {"topic": "prop"}}]}],
    "plans": [{"id": "prop-key", "name": "key", "security": {"type": "api-key"}, "validation": "AUTO",
               "status": "PUBLISHED"}],
    "flows": [],
}


def wait_for(client, key, status, limit=10.0):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        answer = client.post(f"{gateway}/prop", content=b"x", headers={"X-Gravitee-Api-Key": key})
        if answer.status_code == status:
            return time.monotonic()
        time.sleep(0.002)
    raise SystemExit(f"node B did not answer {status} within {limit} s")


with httpx.Client(headers=headers, timeout=30) as admin, httpx.Client(timeout=5) as client:
    assert admin.post(f"{management}{env}/apis/_import/definition", json=api).status_code == 201
    assert admin.post(f"{management}{env}/apis/prop/_start").status_code == 204
    assert admin.post(f"{management}{env}/applications", json={"id": "app", "name": "app"}).status_code == 201
    created = admin.post(f"{management}{env}/apis/prop/subscriptions", json={"planId": "prop-key", "applicationId": "app"})
    assert created.status_code == 201, created.text
    subscription = created.json()["id"]
    keys = f"{management}{env}/apis/prop/subscriptions/{subscription}/api-keys"
    times = []
    for _ in range(rounds):
        issued = admin.post(f"{keys}/_renew").json()
        wait_for(client, issued["key"], 202)
        start = time.monotonic()
        assert admin.post(f"{keys}/{issued['id']}/_revoke").status_code == 200
        times.append((wait_for(client, issued["key"], 401) - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    print(f"changes: {len(times)}")
    print(f"revoke -> refused on node B, ms: median {statistics.median(times):.1f}, p99 {p99:.1f}, "
          f"min {times[0]:.1f}, max {times[-1]:.1f}")
