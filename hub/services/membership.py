"""Members, API keys and console users: creating them, and authenticating a key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from hub.auth.principal import Principal
from hub.auth.secrets import hash_password, key_digest, new_key_id, new_key_secret
from hub.config import MEMBER_KINDS
from hub.errors import BadRequest, Conflict, NotFound, Unauthorized
from hub.services.context import Hub
from hub.sharing.policy import alias_problem
from hub.stix.timestamps import now_us
from hub.storage.membership import (
    ApiKey,
    ApiKeyRepository,
    DuplicateError,
    Member,
    MemberRepository,
    User,
    UserRepository,
)

CONSENTS = ("everyone", "government", "none")
SCOPES = ("read", "write")
ROLES = ("admin", "analyst", "member-admin")
# How stale `last_used` may get before a request writes it again (avoids a write per request).
_TOUCH_INTERVAL_US = 60 * 1_000_000


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def check_member(name: str, kind: str, consent: str) -> None:
    """BadRequest naming the first of a member's name, kind and default consent that is unfit."""
    if not name or len(name) > 200:
        raise BadRequest("a member name is 1 to 200 characters")
    if kind not in MEMBER_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(MEMBER_KINDS)}, not {kind!r}")
    if consent not in CONSENTS:
        raise BadRequest(f"consent must be one of {', '.join(CONSENTS)}, not {consent!r}")


def clean_aliases(aliases: Sequence[str]) -> tuple[str, ...]:
    """The aliases without blanks and repeats; BadRequest naming the first unfit one."""
    cleaned = tuple(dict.fromkeys(a.strip() for a in aliases if a.strip()))
    for alias in cleaned:
        problem = alias_problem(alias)
        if problem is not None:
            raise BadRequest(problem)
    return cleaned


def add_member(
    hub: Hub,
    name: str,
    kind: str,
    *,
    sector: str | None = None,
    consent: str = "none",
    contact: str | None = None,
    aliases: Sequence[str] = (),
) -> Member:
    name = name.strip()
    cleaned = clean_aliases(aliases)
    check_member(name, kind, consent)
    member = Member(
        str(uuid.uuid4()),
        name,
        kind,
        sector or None,
        consent,
        "active",
        contact,
        now_us(),
        cleaned,
    )
    with hub.db.write() as conn:
        try:
            MemberRepository(conn).add(member)
        except DuplicateError as exc:
            raise Conflict(str(exc)) from None
    return member


def find_member(hub: Hub, id_or_name: str) -> Member:
    with hub.db.read() as conn:
        repo = MemberRepository(conn)
        member = repo.get(id_or_name) or repo.by_name(id_or_name)
    if member is None:
        raise NotFound(f"no member {id_or_name!r}")
    return member


def list_members(hub: Hub, *, kind: str | None = None, status: str | None = None) -> list[Member]:
    with hub.db.read() as conn:
        return MemberRepository(conn).list(kind=kind, status=status)


def set_member_status(hub: Hub, id_or_name: str, status: str) -> Member:
    """Suspend ('suspended') or reinstate ('active') a member; its keys follow at once."""
    member = find_member(hub, id_or_name)
    with hub.db.write() as conn:
        MemberRepository(conn).set_status(member.id, status, now_us())
    return find_member(hub, member.id)


def issue_key(
    hub: Hub,
    member_ref: str,
    scope: str,
    *,
    label: str | None = None,
    expires_us: int | None = None,
) -> IssuedKey:
    scopes = parse_scope(scope)
    member = find_member(hub, member_ref)
    key = ApiKey(new_key_id(), member.id, ",".join(scopes), label, now_us(), expires_us, None, None)
    secret = new_key_secret()
    with hub.db.write() as conn:
        ApiKeyRepository(conn).add(key, key_digest(hub.secret("api_key_pepper"), secret))
    return IssuedKey(key, secret)


def parse_scope(scope: str) -> tuple[str, ...]:
    parts = tuple(sorted({p.strip() for p in scope.split(",") if p.strip()}))
    if not parts or any(p not in SCOPES for p in parts):
        raise BadRequest(f"scope must be read, write or read,write, not {scope!r}")
    return parts


def list_keys(hub: Hub, member_ref: str) -> list[ApiKey]:
    member = find_member(hub, member_ref)
    with hub.db.read() as conn:
        return ApiKeyRepository(conn).for_member(member.id)


def revoke_key(hub: Hub, key_id: str) -> ApiKey:
    with hub.db.write() as conn:
        repo = ApiKeyRepository(conn)
        if repo.get(key_id) is None:
            raise NotFound(f"no API key {key_id!r}")
        repo.revoke(key_id, now_us())
        key = repo.get(key_id)
    assert key is not None
    return key


def authenticate(hub: Hub, key_id: str | None, secret: str) -> Principal:
    """The principal behind an API key, or Unauthorized. The same message for every failure,
    so a caller cannot tell a wrong secret from a revoked key or a suspended member."""
    digest = key_digest(hub.secret("api_key_pepper"), secret)
    with hub.db.read() as conn:
        owner = ApiKeyRepository(conn).owner_by_digest(digest)
    now = now_us()
    refused = (
        owner is None
        or (key_id is not None and owner.key.id != key_id)
        or owner.key.revoked_us is not None
        or (owner.key.expires_us is not None and owner.key.expires_us <= now)
        or owner.member.status != "active"
    )
    if refused:
        raise Unauthorized("the API key is not valid")
    assert owner is not None
    if owner.key.last_used_us is None or now - owner.key.last_used_us > _TOUCH_INTERVAL_US:
        with hub.db.write() as conn:
            ApiKeyRepository(conn).touch(owner.key.id, now)
    return Principal(
        member_id=owner.member.id,
        member_name=owner.member.name,
        kind=owner.member.kind,
        sector=owner.member.sector,
        key_id=owner.key.id,
        scopes=frozenset(owner.key.scope.split(",")),
    )


def add_user(
    hub: Hub, email: str, password: str, role: str, *, member_id: str | None = None
) -> User:
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise BadRequest("a password has at least 12 characters")
    user = User(
        str(uuid.uuid4()),
        email.strip().lower(),
        hash_password(password),
        role,
        member_id,
        "active",
        now_us(),
    )
    with hub.db.write() as conn:
        try:
            UserRepository(conn).add(user)
        except DuplicateError as exc:
            raise Conflict(str(exc)) from None
    return user


def find_user(hub: Hub, email: str) -> User | None:
    with hub.db.read() as conn:
        return UserRepository(conn).by_email(email.strip().lower())
