"""Pseudonyms: the stable stand-in identity that replaces a submitter in a feed.

A pseudonym is HMAC-SHA256(key, member id, audience) under the current key epoch: the same
member gets the same pseudonym in the same feed for as long as the key lasts, and pseudonyms
of one member in two feeds cannot be linked without the key. Rotating the key (a new epoch)
starts new pseudonyms; the old key is destroyed, so old pseudonyms can no longer be re-derived.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac

from hub.sharing.policy import Submitter
from hub.stix.timestamps import format_us

# Fixed forever: the ids of members' real identities in feeds are uuid5 in this namespace.
MEMBER_IDENTITY_NAMESPACE = uuid.UUID("5b7b8d4e-3f0a-4c7e-9a55-0c2f1e6d8b91")


@dataclass(frozen=True, slots=True)
class PseudonymKey:
    epoch: int
    secret: bytes
    started_us: int  # when the epoch began: the `created` of its pseudonym identities

    def __repr__(self) -> str:  # never print the secret
        return f"PseudonymKey(epoch={self.epoch})"


@dataclass(frozen=True, slots=True)
class AudienceIdentity:
    """Who a submitter appears as in one feed: a pseudonym or, with consent, itself."""

    id: str
    name: str
    named: bool  # True: the real identity
    obj: dict[str, Any]  # the identity object published in the feed


def _digest(key: PseudonymKey, *parts: str) -> bytes:
    mac = hmac.HMAC(key.secret, hashes.SHA256())
    for part in parts:
        data = part.encode("utf-8")
        mac.update(len(data).to_bytes(4, "big") + data)  # length-prefixed: no ambiguity
    return mac.finalize()


def pseudonym(key: PseudonymKey, member_id: str, audience: str) -> AudienceIdentity:
    """The pseudonym identity of `member_id` in the feed `audience` under `key`."""
    digest = _digest(key, "pseudonym", member_id, audience)
    ident = uuid.UUID(bytes=digest[:16], version=4)
    code = base64.b32encode(digest[16:26]).decode("ascii")[:8]
    name = f"Member {code[:4]}-{code[4:]}"
    stamp = format_us(key.started_us)
    return AudienceIdentity(
        f"identity--{ident}",
        name,
        False,
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": f"identity--{ident}",
            "created": stamp,
            "modified": stamp,
            "name": name,
            "identity_class": "organization",
            "description": "A member of this sharing hub; the hub keeps its name private.",
        },
    )


def real_identity(submitter: Submitter, created_us: int) -> AudienceIdentity:
    """The submitter's own identity, for feeds its consent allows to name it."""
    ident = uuid.uuid5(MEMBER_IDENTITY_NAMESPACE, submitter.member_id)
    stamp = format_us(created_us)
    obj: dict[str, Any] = {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{ident}",
        "created": stamp,
        "modified": stamp,
        "name": submitter.name,
        "identity_class": "organization",
    }
    if submitter.sector:
        obj["sectors"] = [submitter.sector]
    return AudienceIdentity(obj["id"], submitter.name, True, obj)


def member_identity_id(member_id: str) -> str:
    """The id of a member's real identity object, as the hub publishes it."""
    return f"identity--{uuid.uuid5(MEMBER_IDENTITY_NAMESPACE, member_id)}"


def key_fingerprint(secret: bytes) -> str:
    """A public fingerprint telling key epochs apart without revealing the key."""
    mac = hmac.HMAC(secret, hashes.SHA256())
    mac.update(b"hub pseudonym key fingerprint")
    return mac.finalize()[:16].hex()
