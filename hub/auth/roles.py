"""Console roles and what each may do. Pure: views ask `allows(role, permission)`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# Every permission the console checks, and what it lets a user do.
PERMISSIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "dashboard": "see the dashboard (counts over every member)",
        "members.read": "see every member, its keys, submissions and reads",
        "members.write": "add, edit, suspend and reinstate members",
        "keys.write": "issue, rotate and revoke any member's API keys",
        "own.read": "see one's own organisation, its keys and submissions",
        "own.keys": "issue, rotate and revoke one's own organisation's keys",
        "review.read": "see the review queue",
        "review.decide": "approve, edit and reject held objects",
        "audit.read": "see and export the audit trail and the feed read log",
        "policy.read": "see the feeds, the sharing policy and its versions",
        "policy.write": "change the sharing policy and rotate the pseudonym key",
        "objects.read": "search every collection's objects",
        "users.manage": "add console users, set roles, require TOTP, suspend",
    }
)

ROLES: Final = ("admin", "analyst", "member-admin")

_GRANTS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "admin": frozenset(PERMISSIONS) - {"own.read", "own.keys"},
        "analyst": frozenset(
            {
                "dashboard",
                "members.read",
                "review.read",
                "review.decide",
                "audit.read",
                "policy.read",
                "objects.read",
            }
        ),
        # Bound to one member: sees only its own organisation's data.
        "member-admin": frozenset({"own.read", "own.keys"}),
    }
)


def allows(role: str, permission: str) -> bool:
    """True if `role` carries `permission` (an unknown role carries none)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"no permission named {permission!r}")
    return permission in _GRANTS.get(role, frozenset())


def granted(role: str) -> frozenset[str]:
    return _GRANTS.get(role, frozenset())
