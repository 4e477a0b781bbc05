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
    totp_secret: str | None = None  # sealed (hub.auth.totp.SecretBox)
    totp_required: bool = False
    totp_last_step: int | None = None
    last_sign_in_us: int | None = None


_USER_COLS = [users.c[name] for name in User.__slots__]
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

    def search(
        self,
        *,
        text: str | None = None,
        kind: str | None = None,
        sector: str | None = None,
        status: str | None = None,
    ) -> list[Member]:
        """Members whose name, alias, sector or contact contains `text` (any case)."""
        query = select(*_MEMBER_COLS).order_by(func.lower(members.c.name))
        if text:
            pattern = "%" + text.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
            query = query.where(
                func.lower(members.c.name).like(pattern)
                | func.lower(func.coalesce(members.c.aliases, "")).like(pattern)
                | func.lower(func.coalesce(members.c.sector, "")).like(pattern)
                | func.lower(func.coalesce(members.c.contact, "")).like(pattern)
            )
        if kind:
            query = query.where(members.c.kind == kind)
        if sector:
            query = query.where(members.c.sector == sector)
        if status:
            query = query.where(members.c.status == status)
        return [_member(row) for row in self.conn.execute(query)]

    def sectors(self) -> list[str]:
        rows = self.conn.execute(
            select(members.c.sector).where(members.c.sector.is_not(None)).distinct()
        )
        return sorted(str(row[0]) for row in rows)

    def update(self, member: Member, now_us: int) -> None:
        """Store a member's editable fields (name, kind, sector, consent, contact, aliases)."""
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    update(members)
                    .where(members.c.id == member.id)
                    .values(
                        name=member.name,
                        kind=member.kind,
                        sector=member.sector,
                        consent=member.consent,
                        contact=member.contact,
                        aliases=orjson.dumps(list(member.aliases)).decode("utf-8"),
                        updated_us=now_us,
                    )
                )
        except IntegrityError:
            raise DuplicateError(f"a member named {member.name!r} already exists") from None

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

    def expire_by(self, key_id: str, expires_us: int) -> None:
        """Make a key expire no later than `expires_us` (a rotated key's grace period)."""
        self.conn.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                (api_keys.c.expires_us.is_(None)) | (api_keys.c.expires_us > expires_us),
            )
            .values(expires_us=expires_us)
        )

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
        row = self.conn.execute(select(*_USER_COLS).where(users.c.email == email)).first()
        return User(*row) if row else None

    def get(self, user_id: str) -> User | None:
        row = self.conn.execute(select(*_USER_COLS).where(users.c.id == user_id)).first()
        return User(*row) if row else None

    def list(self, *, member_id: str | None = None) -> list[User]:
        query = select(*_USER_COLS).order_by(users.c.email)
        if member_id is not None:
            query = query.where(users.c.member_id == member_id)
        return [User(*row) for row in self.conn.execute(query)]

    def update(self, user_id: str, **values: object) -> None:
        """Set some of status, role, member_id, totp_secret, totp_required, last_sign_in_us."""
        allowed = {"status", "role", "member_id", "totp_secret", "totp_required", "last_sign_in_us"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        if "totp_secret" in values:
            values["totp_last_step"] = None
        self.conn.execute(update(users).where(users.c.id == user_id).values(**values))

    def use_totp_step(self, user_id: str, step: int) -> bool:
        """Remember `step` as used; False if it (or a later one) was used already, so a code
        is accepted once even when two requests race."""
        result = self.conn.execute(
            update(users)
            .where(
                users.c.id == user_id,
                (users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return result.rowcount == 1

    def set_password(self, user_id: str, password_hash: str) -> None:
        self.conn.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )
