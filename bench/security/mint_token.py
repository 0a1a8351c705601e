"""Makes the benchmark's JWT material with PyJWT (never with Sluice's own code): an RSA key pair, the public key
as PEM, and an RS256 token for client `bench-client` valid for two hours.

Usage: python mint_token.py OUT_DIR   -> OUT_DIR/public.pem, OUT_DIR/token.txt
"""

import pathlib
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

out = pathlib.Path(sys.argv[1])
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
public_pem = key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
now = int(time.time())
claims = {"iss": "bench-issuer", "sub": "bench-user", "client_id": "bench-client", "iat": now, "exp": now + 7200}
token = jwt.encode(claims, key, algorithm="RS256")
(out / "public.pem").write_bytes(public_pem)
(out / "token.txt").write_text(token)
