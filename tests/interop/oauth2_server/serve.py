"""Starts django-oauth-toolkit on a free loopback port, with the clients and tokens the tests use.

Prints one JSON line, then serves until killed:
  {"port": N, "resource_server": {"id": ..., "secret": ...}, "tokens": {name: token}, "clients": {name: client_id}}
Tokens are made through the ORM (as the token endpoint would store them): `read_write` and `read_only` of client
`shop`, `expired` of `shop`, `other_client` of client `stranger` (no subscription in the tests), `no_scope`.
The resource server authenticates its introspection calls with HTTP Basic client credentials.
"""

import json
import os
import sys
from datetime import timedelta
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
# A file, not ":memory:": each server thread opens its own connection, and they must see one database.
if "OAUTH2_SERVER_DB" not in os.environ:
    import tempfile

    os.environ["OAUTH2_SERVER_DB"] = os.path.join(tempfile.mkdtemp(prefix="sluice-oauth2-"), "db.sqlite3")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.models import AccessToken, Application  # noqa: E402


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user("alice", password="alice-password")
    secret = "resource-server-secret"
    resource_server = Application.objects.create(
        name="sluice",
        client_id="sluice-gateway",
        client_secret=secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        hash_client_secret=True,
    )
    clients = {}
    for name in ["shop", "stranger"]:
        clients[name] = Application.objects.create(
            name=name,
            client_id=f"{name}-client",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
    now = timezone.now()
    tokens = {}
    for name, client, scope, expires in [
        ("read_write", "shop", "read write", now + timedelta(hours=1)),
        ("read_only", "shop", "read", now + timedelta(hours=1)),
        ("expired", "shop", "read write", now - timedelta(minutes=5)),
        ("other_client", "stranger", "read write", now + timedelta(hours=1)),
    ]:
        value = f"{name}-" + os.urandom(12).hex()
        AccessToken.objects.create(
            user=user, application=clients[client], token=value, expires=expires, scope=scope
        )
        tokens[name] = value
    server = make_server(
        "127.0.0.1", 0, get_wsgi_application(), server_class=ThreadingServer, handler_class=QuietHandler
    )
    print(
        json.dumps(
            {
                "port": server.server_address[1],
                "resource_server": {"id": resource_server.client_id, "secret": secret},
                "tokens": tokens,
                "clients": {name: app.client_id for name, app in clients.items()},
            }
        ),
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
