"""The test server's secret hasher: Django's PBKDF2 with few iterations.

django-oauth-toolkit checks the resource server's hashed client secret on every introspection call. With Django's
default (a million PBKDF2 rounds, about 0.3 s of CPU each) a few calls at once on a busy two-core machine take
longer than the tests' read timeout. The secrets here are throwaway test values, so the work factor is lowered.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1000
