"""Writes the benchmark's gateway directory: three APIs alike but for their plan (key-less, api-key, JWT RS256 with
the given public key), each an http-post entrypoint into the embedded log, and the access file that subscribes
application `bench-client` to the api-key and JWT plans.

Usage: python make_apis.py OUT_DIR PUBLIC_PEM API_KEY
"""

import json
import pathlib
import sys

out, pem_path, api_key = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
out.mkdir(parents=True, exist_ok=True)
plans = {
    "open": {"type": "key-less"},
    "keyed": {"type": "api-key"},
    "jwt": {
        "type": "jwt",
        "configuration": {
            "signature": "RSA_RS256",
            "publicKeyResolver": "GIVEN_KEY",
            "resolverParameter": pem_path.read_text(),
            "extractClaims": False,
            "propagateAuthHeader": True,
        },
    },
}
for api, security in plans.items():
    definition = {
        "id": api,
        "name": api,
        "apiVersion": "1.0",
        "definitionVersion": "4.0.0",
        "type": "message",
        "listeners": [
            {
                "type": "http",
                "paths": [{"path": f"/{api}"}],
                "entrypoints": [{"type": "http-post", "qos": "auto", "configuration": {"requestHeadersToMessage": False}}],
            }
        ],
        "endpointGroups": [
            {
                "name": "log",
                "type": "inmemory",
                "endpoints": [
                    {
                        "name": "log",
                        "type": "inmemory",
                        "weight": 1,
                        "inheritConfiguration": False,
                        "configuration": {"topic": f"bench-{api}"},
                    }
                ],
            }
        ],
        "plans": [{"id": f"{api}-plan", "name": api, "security": security, "status": "PUBLISHED", "mode": "STANDARD"}],
        "flows": [],
        "analytics": {"enabled": False},
    }
    (out / f"{api}.json").write_text(json.dumps(definition, indent=2))
access = {
    "applications": [{"id": "bench", "name": "Benchmark", "clientId": "bench-client"}],
    "subscriptions": [
        {"id": "keyed-sub", "application": "bench", "api": "keyed", "plan": "keyed-plan", "status": "ACCEPTED"},
        {"id": "jwt-sub", "application": "bench", "api": "jwt", "plan": "jwt-plan", "status": "ACCEPTED"},
    ],
    "apiKeys": [{"key": api_key, "subscriptions": ["keyed-sub"]}],
}
(out / "bench.access.json").write_text(json.dumps(access, indent=2))
