"""Opaque, signed `next` tokens: a keyset position bound to the collection and the filters.

A token is signed with the hub's session key, so a client cannot forge a position, and it
carries a fingerprint of the request's filters, so it cannot be replayed against another
query. Positions are sequence numbers (or versions), so a page costs the same wherever it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from itsdangerous import BadSignature, URLSafeSerializer

from hub.errors import BadRequest


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt="taxii-next")

    def issue(self, scope: str, fingerprint: str, position: int) -> str:
        return self._serializer.dumps([scope, fingerprint, position])

    def read(self, token: str, scope: str, fingerprint: str) -> int:
        """The position a token points at; 400 if it was tampered with or belongs elsewhere."""
        try:
            value = self._serializer.loads(token)
        except BadSignature:
            raise BadRequest("the 'next' token is not valid") from None
        valid = (
            isinstance(value, list)
            and len(value) == 3
            and value[0] == scope
            and value[1] == fingerprint
            and isinstance(value[2], int)
        )
        if not valid:
            raise BadRequest(
                "the 'next' token belongs to another collection or to other filters; "
                "repeat the filters of the request that returned it"
            )
        return int(value[2])


def fingerprint(params: Iterable[tuple[str, str]]) -> str:
    """A short digest of the filters that shape a result (not limit or next)."""
    digest = hashlib.sha256()
    for name, value in sorted(params):
        if name in ("limit", "next"):
            continue
        digest.update(f"{name}\x00{value}\x01".encode())
    return digest.hexdigest()[:16]
