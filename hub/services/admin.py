"""Administrative acts on members and their API keys, done by a console user: each one does
what `hub.services.membership` does and records who did it in the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from hub.errors import BadRequest, Conflict, NotFound
from hub.services import membership
from hub.services.context import Hub
from hub.services.membership import IssuedKey
from hub.services.users import Actor
from hub.services.users import record as _audit
from hub.stix.timestamps import now_us
from hub.storage.membership import (
    ApiKey,
    ApiKeyRepository,
    DuplicateError,
    Member,
    MemberRepository,
)

DAY_US = 86_400_000_000


# --- members ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberFilter:
    text: str = ""
    kind: str = ""
    sector: str = ""
    status: str = ""


def search_members(hub: Hub, query: MemberFilter) -> list[Member]:
    with hub.db.read() as conn:
        return MemberRepository(conn).search(
            text=query.text.strip() or None,
            kind=query.kind or None,
            sector=query.sector or None,
            status=query.status or None,
        )


def sectors(hub: Hub) -> list[str]:
    with hub.db.read() as conn:
        return MemberRepository(conn).sectors()


def _aliases(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.replace("\n", ",").split(",") if a.strip())


@dataclass(frozen=True)
class MemberFields:
    """A member's editable fields as a form gives them (aliases comma-separated)."""

    name: str
    kind: str
    sector: str = ""
    consent: str = "none"
    contact: str = ""
    aliases: str = ""


def add_member(hub: Hub, actor: Actor, fields: MemberFields) -> Member:
    member = membership.add_member(
        hub,
        fields.name,
        fields.kind,
        sector=fields.sector.strip() or None,
        consent=fields.consent,
        contact=fields.contact.strip() or None,
        aliases=_aliases(fields.aliases),
    )
    _audit(
        hub,
        actor,
        "member.add",
        member_id=member.id,
        target=member.name,
        detail={"kind": member.kind, "sector": member.sector, "consent": member.consent},
    )
    return member


def update_member(hub: Hub, actor: Actor, member_id: str, fields: MemberFields) -> Member:
    """Change a member's name, kind, sector, default consent, contacts and aliases."""
    old = membership.find_member(hub, member_id)
    name, kind, consent = fields.name.strip(), fields.kind, fields.consent
    sector, contact, aliases = fields.sector, fields.contact, fields.aliases
    membership.check_member(name, kind, consent)
    cleaned = membership.clean_aliases(_aliases(aliases))
    new = replace(
        old,
        name=name,
        kind=kind,
        sector=sector.strip() or None,
        consent=consent,
        contact=contact.strip() or None,
        aliases=cleaned,
    )
    if new == old:
        return old
    with hub.db.write() as conn:
        try:
            MemberRepository(conn).update(new, now_us())
        except DuplicateError as exc:
            raise Conflict(str(exc)) from None
    changed = {
        field: {"from": getattr(old, field), "to": getattr(new, field)}
        for field in ("name", "kind", "sector", "consent", "aliases")
        if getattr(old, field) != getattr(new, field)
    }
    if old.contact != new.contact:
        changed["contact"] = {"changed": True}  # contacts are personal data: not copied here
    _audit(hub, actor, "member.update", member_id=old.id, target=new.name, detail=changed)
    return new


def set_member_status(hub: Hub, actor: Actor, member_id: str, status: str) -> Member:
    """Suspend (every key refused at once) or reinstate a member."""
    if status not in ("active", "suspended"):
        raise BadRequest("status is active or suspended")
    member = membership.set_member_status(hub, member_id, status)
    action = "member.suspend" if status == "suspended" else "member.reinstate"
    _audit(hub, actor, action, member_id=member.id, target=member.name)
    return member


# --- API keys ---------------------------------------------------------------------------------


def key_state(key: ApiKey, now: int) -> str:
    if key.revoked_us is not None:
        return "revoked"
    if key.expires_us is not None and key.expires_us <= now:
        return "expired"
    return "active"


def list_keys(hub: Hub, member_id: str) -> list[ApiKey]:
    return list(reversed(membership.list_keys(hub, member_id)))


def _key_of(hub: Hub, member_id: str, key_id: str) -> ApiKey:
    with hub.db.read() as conn:
        key = ApiKeyRepository(conn).get(key_id)
    if key is None or key.member_id != member_id:
        raise NotFound(f"no API key {key_id!r}")
    return key


def issue_key(
    hub: Hub,
    actor: Actor,
    member_id: str,
    *,
    scopes: Sequence[str],
    label: str,
    expires_days: int | None,
) -> IssuedKey:
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise BadRequest("a key expires in 1 to 3650 days, or never")
    member = membership.find_member(hub, member_id)
    expires = now_us() + expires_days * DAY_US if expires_days else None
    issued = membership.issue_key(
        hub, member.id, ",".join(scopes), label=label.strip() or None, expires_us=expires
    )
    _audit(
        hub,
        actor,
        "key.issue",
        member_id=member.id,
        target=issued.key.id,
        detail={"scope": issued.key.scope, "expires_days": expires_days},
    )
    return issued


def revoke_key(hub: Hub, actor: Actor, member_id: str, key_id: str) -> ApiKey:
    key = _key_of(hub, member_id, key_id)
    if key.revoked_us is not None:
        raise Conflict(f"key {key_id} is already revoked")
    revoked = membership.revoke_key(hub, key.id)
    _audit(hub, actor, "key.revoke", member_id=member_id, target=key.id)
    return revoked


def rotate_key(
    hub: Hub, actor: Actor, member_id: str, key_id: str, *, grace_hours: int = 0
) -> IssuedKey:
    """Replace a key by a new one with the same scope, label and lifetime; the old one is
    revoked now, or expires after `grace_hours` so clients can switch over."""
    old = _key_of(hub, member_id, key_id)
    now = now_us()
    if key_state(old, now) != "active":
        raise Conflict(f"key {key_id} is not active: issue a new one instead")
    if not 0 <= grace_hours <= 24 * 30:
        raise BadRequest("the grace period is 0 to 720 hours")
    lifetime = old.expires_us - old.created_us if old.expires_us is not None else None
    issued = membership.issue_key(
        hub,
        member_id,
        old.scope,
        label=old.label,
        expires_us=now + lifetime if lifetime is not None else None,
    )
    if grace_hours:
        with hub.db.write() as conn:
            ApiKeyRepository(conn).expire_by(old.id, now + grace_hours * 3_600_000_000)
    else:
        membership.revoke_key(hub, old.id)
    _audit(
        hub,
        actor,
        "key.rotate",
        member_id=member_id,
        target=old.id,
        detail={"new_key": issued.key.id, "grace_hours": grace_hours},
    )
    return issued
