"""Hashing of API-key secrets and console passwords. Nothing here stores or logs a secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

KEY_ID_PREFIX = "hk_"
SECRET_PREFIX = "hks_"  # noqa: S105 - a prefix, not a secret
# OWASP's recommended Argon2id parameters for interactive sign-in (19 MiB, 2 passes, 1 lane).
_ARGON_MEMORY_KIB = 19 * 1024
_ARGON_ITERATIONS = 2


def new_key_id() -> str:
    """A public key id, safe to show and log."""
    return KEY_ID_PREFIX + secrets.token_hex(8)


def new_key_secret() -> str:
    """A 256-bit random secret, shown to its owner once."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def key_digest(pepper: bytes, secret: str) -> str:
    """The stored form of an API-key secret: HMAC-SHA256 under the hub's pepper.

    The secrets are random and 256 bits long, so a keyed hash is enough (a slow KDF would only
    slow every request); the pepper lives outside the database, so a stolen database alone does
    not let anyone test guesses.
    """
    return hmac.new(pepper, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_password(password: str) -> str:
    """A PHC-encoded Argon2id hash of a console password."""
    kdf = Argon2id(
        salt=secrets.token_bytes(16),
        length=32,
        iterations=_ARGON_ITERATIONS,
        lanes=1,
        memory_cost=_ARGON_MEMORY_KIB,
    )
    return kdf.derive_phc_encoded(password.encode("utf-8"))


def verify_password(password: str, encoded: str) -> bool:
    """True if `password` matches the stored Argon2id hash."""
    try:
        Argon2id.verify_phc_encoded(password.encode("utf-8"), encoded)
    except (InvalidKey, ValueError):
        return False
    return True
