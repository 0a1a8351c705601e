"""A tiny Django project: django-oauth-toolkit as a real RFC 7662 authorization server for the OAuth2 plan tests."""

import os

SECRET_KEY = "sluice-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
]
MIDDLEWARE = []
ROOT_URLCONF = "urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("OAUTH2_SERVER_DB", ":memory:"),
    }
}
USE_TZ = True
# Client secrets and the user's password are hashed with few rounds: see hashers.py.
PASSWORD_HASHERS = ["hashers.FastPBKDF2PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
OAUTH2_PROVIDER = {
    "SCOPES": {"read": "read", "write": "write", "introspection": "introspect tokens"},
}
LOGGING = {"version": 1, "disable_existing_loggers": True}
