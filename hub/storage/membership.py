"""Repositories for members, their API keys and console users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.storage.tables import api_keys, members, users


class DuplicateError(Exception):
    """A unique name or key was already taken."""


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    kind: str
    sector: str | None
    consent: str
    status: str
    contact: str | None
    created_us: int
    # Other names that identify it (short names, its domains); the sharing rules hide them
    # wherever they hide its name.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    member_id: str
    scope: str
    label: str | None
    created_us: int
    expires_us: int | None
    revoked_us: int | None
    last_used_us: int | None


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """An API key joined with its member: all authentication needs in one row."""

    key: ApiKey
    member: Member


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    password_hash: str
    role: str
    member_id: str | None
    status: str
    created_us: int


_MEMBER_COLS = [members.c[name] for name in Member.__slots__]
_KEY_COLS = [api_keys.c[name] for name in ApiKey.__slots__]
# Built once: every authenticated request runs it, and building costs more than running it.
_OWNER_BY_DIGEST = (
    select(*_KEY_COLS, *_MEMBER_COLS)
    .join(members, members.c.id == api_keys.c.member_id)
    .where(api_keys.c.digest == bindparam("digest"))
)


def _member(row: Sequence[Any]) -> Member:
    member_id, name, kind, sector, consent, status, contact, created_us, aliases = row
    return Member(
        member_id,
        name,
        kind,
        sector,
        consent,
        status,
        contact,
        created_us,
        tuple(orjson.loads(aliases)) if aliases else (),
    )


class MemberRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, member: Member) -> None:
        try:
            with self.conn.begin_nested():
                values = {name: getattr(member, name) for name in Member.__slots__}
                values["aliases"] = orjson.dumps(list(member.aliases)).decode("utf-8")
                self.conn.execute(insert(members).values(**values, updated_us=member.created_us))
        except IntegrityError:
            raise DuplicateError(f"a member named {member.name!r} already exists") from None

    def get(self, member_id: str) -> Member | None:
        row = self.conn.execute(select(*_MEMBER_COLS).where(members.c.id == member_id)).first()
        return _member(row) if row else None

    def by_name(self, name: str) -> Member | None:
        row = self.conn.execute(select(*_MEMBER_COLS).where(members.c.name == name)).first()
        return _member(row) if row else None

    def list(self, *, kind: str | None = None, status: str | None = None) -> list[Member]:
        query = select(*_MEMBER_COLS).order_by(func.lower(members.c.name))
        if kind:
            query = query.where(members.c.kind == kind)
        if status:
            query = query.where(members.c.status == status)
        return [_member(row) for row in self.conn.execute(query)]

    def set_status(self, member_id: str, status: str, now_us: int) -> bool:
        result = self.conn.execute(
            update(members)
            .where(members.c.id == member_id)
            .values(status=status, updated_us=now_us)
        )
        return result.rowcount == 1


class ApiKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, key: ApiKey, digest: str) -> None:
        values = {name: getattr(key, name) for name in ApiKey.__slots__}
        self.conn.execute(insert(api_keys).values(**values, digest=digest))

    def get(self, key_id: str) -> ApiKey | None:
        row = self.conn.execute(select(*_KEY_COLS).where(api_keys.c.id == key_id)).first()
        return ApiKey(*row) if row else None

    def owner_by_digest(self, digest: str) -> KeyOwner | None:
        row = self.conn.execute(_OWNER_BY_DIGEST, {"digest": digest}).first()
        if row is None:
            return None
        split = len(_KEY_COLS)
        return KeyOwner(ApiKey(*row[:split]), _member(row[split:]))

    def for_member(self, member_id: str) -> list[ApiKey]:
        query = (
            select(*_KEY_COLS)
            .where(api_keys.c.member_id == member_id)
            .order_by(api_keys.c.created_us)
        )
        return [ApiKey(*row) for row in self.conn.execute(query)]

    def revoke(self, key_id: str, now_us: int) -> bool:
        result = self.conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_us.is_(None))
            .values(revoked_us=now_us)
        )
        return result.rowcount == 1

    def touch(self, key_id: str, now_us: int) -> None:
        self.conn.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(last_used_us=now_us)
        )


class UserRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, user: User) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(users).values(**{name: getattr(user, name) for name in User.__slots__})
                )
        except IntegrityError:
            raise DuplicateError(f"a user with e-mail {user.email!r} already exists") from None

    def by_email(self, email: str) -> User | None:
        cols = [users.c[name] for name in User.__slots__]
        row = self.conn.execute(select(*cols).where(users.c.email == email)).first()
        return User(*row) if row else None

    def set_password(self, user_id: str, password_hash: str) -> None:
        self.conn.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )
