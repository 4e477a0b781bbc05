"""TOTP second factor (RFC 6238, 6 digits, 30 s, SHA-1: what authenticator apps expect).

Secrets are stored sealed (AES-GCM under a key derived from the hub's session key), and each
accepted code's time step is remembered, so a code works once.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA1, SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
# Codes from one step before or after are accepted too: phones' clocks drift.
_WINDOW = (0, -1, 1)


def new_secret() -> bytes:
    """A random 160-bit TOTP secret (RFC 4226's recommended length)."""
    return secrets.token_bytes(20)


def as_base32(secret: bytes) -> str:
    """The secret as people type it into an authenticator app."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 and every authenticator app use; HMAC-SHA-1 is not broken.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=False)  # noqa: S303


def provisioning_uri(secret: bytes, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (typed in or scanned)."""
    label = quote(f"{issuer}:{account}", safe="@:")
    return (
        f"otpauth://totp/{label}?secret={as_base32(secret)}&issuer={quote(issuer)}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, for phones to scan (drawn here, no service)."""
    import segno

    svg: str = segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff")
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code of the key" ', 1)


def code_at(secret: bytes, at_seconds: float) -> str:
    """The code an authenticator shows at a time (for enrolment checks and tests)."""
    return _totp(secret).generate(int(at_seconds)).decode("ascii")


def matching_step(
    secret: bytes, code: str, at_seconds: float, *, after_step: int | None = None
) -> int | None:
    """The time step `code` belongs to, within one step of now, or None. A step at or before
    `after_step` (the last one used) does not count: each code works once."""
    cleaned = "".join(code.split())
    if len(cleaned) != DIGITS or not cleaned.isdigit():
        return None
    totp = _totp(secret)
    now_step = int(at_seconds) // STEP_SECONDS
    for offset in _WINDOW:
        step = now_step + offset
        if after_step is not None and step <= after_step:
            continue
        try:
            totp.verify(cleaned.encode("ascii"), step * STEP_SECONDS)
        except InvalidToken:
            continue
        return step
    return None


class SecretBox:
    """Seals TOTP secrets for storage under a key derived from the hub's session key."""

    def __init__(self, session_key: bytes) -> None:
        key = HKDF(SHA256(), 32, salt=None, info=b"hub console totp secrets").derive(session_key)
        self._aead = AESGCM(key)

    def seal(self, secret: bytes) -> str:
        nonce = secrets.token_bytes(12)
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, secret, None)).decode()

    def open(self, sealed: str) -> bytes:
        """The secret; ValueError if it was not sealed under this key (the key changed)."""
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        try:
            return self._aead.decrypt(raw[:12], raw[12:], None)
        except InvalidTag:
            raise ValueError("the TOTP secret was sealed under another session key") from None
