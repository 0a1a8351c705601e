"""Creates N APIs (bench-1 … bench-N) through the management API, for the read benchmarks."""
import sys

import httpx

base, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
headers = {"Authorization": f"Bearer {token}"}
with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
    for index in range(1, count + 1):
        api_id = f"bench-{index}"
        definition = {
            "id": api_id, "name": api_id, "definitionVersion": "4.0.0", "type": "message",
            "listeners": [{"type": "http", "paths": [{"path": f"/{api_id}"}], "entrypoints": [{"type": "http-post"}]}],
            "endpointGroups": [{"name": "g", "type": "inmemory",
                                "endpoints": [{"name": "e", "type": "inmemory", "configuration": {"topic": api_id}}]}],
            "plans": [{"id": f"{api_id}-keyless", "name": "open", "security": {"type": "key-less"}}], "flows": [],
        }
        answer = client.post("/management/v2/environments/DEFAULT/apis/_import/definition", json=definition)
        assert answer.status_code in (201, 409), answer.text
print(f"seeded {count} APIs")
