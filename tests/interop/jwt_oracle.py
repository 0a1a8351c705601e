"""PyJWT as the token oracle of the JWT plan tests: keys, tokens and a JWK set server, made by a third party.

Subcommands (one JSON document on stdout each, except the server):
  keys                 new RSA 2048, EC P-256, EC P-384 and Ed25519 key pairs: PEMs and public JWKs
  mint                 stdin: a JSON list of {alg, key, claims, headers?}; out: the list of tokens, signed by PyJWT.
                       {"forge_hmac_key": "..."} instead of "key" signs HMAC by hand with those bytes (PyJWT refuses
                       to use a public key as an HMAC secret, which is the very attack the tests try)
  jwks-server FILE     serves FILE at GET /jwks on a free loopback port (printed as the first line), counting the
                       fetches (GET /count); re-reads FILE on each fetch, so a test rotates keys by rewriting it
"""

import base64
import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def pems(private_key):
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


def keys():
    out = {}
    for name, key, algorithm in [
        ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048), jwt.algorithms.RSAAlgorithm),
        ("rsa2", rsa.generate_private_key(public_exponent=65537, key_size=2048), jwt.algorithms.RSAAlgorithm),
        ("ec256", ec.generate_private_key(ec.SECP256R1()), jwt.algorithms.ECAlgorithm),
        ("ec384", ec.generate_private_key(ec.SECP384R1()), jwt.algorithms.ECAlgorithm),
        ("ed25519", ed25519.Ed25519PrivateKey.generate(), jwt.algorithms.OKPAlgorithm),
    ]:
        private, public = pems(key)
        out[name] = {
            "private": private,
            "public": public,
            "jwk": json.loads(algorithm.to_jwk(key.public_key())),
        }
    print(json.dumps(out))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_hmac(claims, headers, secret):
    header = {"alg": "HS256", "typ": "JWT", **headers}
    signing_input = (
        b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def mint():
    requests = json.load(sys.stdin)
    tokens = []
    for request in requests:
        claims = request["claims"]
        headers = request.get("headers") or {}
        if "forge_hmac_key" in request:
            tokens.append(forge_hmac(claims, headers, request["forge_hmac_key"]))
            continue
        alg = request["alg"]
        key = request.get("key")
        if alg in ("HS256", "HS384", "HS512") and isinstance(key, str):
            key = key.encode()
        tokens.append(jwt.encode(claims, key, algorithm=alg, headers=headers or None))
    print(json.dumps(tokens))


def jwks_server(path):
    count = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/count":
                with lock:
                    body = json.dumps({"count": count["n"]}).encode()
            elif self.path == "/jwks":
                with lock:
                    count["n"] += 1
                with open(path, "rb") as f:
                    body = f.read()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "keys":
        keys()
    elif command == "mint":
        mint()
    elif command == "jwks-server":
        jwks_server(sys.argv[2])
    else:
        sys.exit(__doc__)
