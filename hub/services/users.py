"""Console users: creating and managing them, and signing in (password, then TOTP), with
lock-outs after repeated failures. Every sign-in, failed or not, is in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from hub.auth import totp
from hub.auth.roles import ROLES
from hub.auth.secrets import hash_password, verify_password
from hub.errors import BadRequest, Conflict, NotFound
from hub.services import membership
from hub.services.accountability import audit
from hub.services.context import Hub
from hub.services.sessions import end_for_user
from hub.stix.timestamps import now_us
from hub.storage.console import Throttle, ThrottleRepository
from hub.storage.membership import MemberRepository, User, UserRepository

# Verified against when the account does not exist, so that takes as long as a wrong password.
_DUMMY_HASH = hash_password("not a password of anyone's")
MIN_PASSWORD = 12


@dataclass(frozen=True)
class Actor:
    """The console user acting, as the audit trail names it."""

    email: str
    address: str | None = None


def record(
    hub: Hub,
    actor: Actor,
    action: str,
    *,
    member_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    conn: Connection | None = None,
) -> None:
    """Put a console user's act in the audit trail, with the address it came from (in the
    transaction of `conn` when given)."""
    detail = dict(detail or {})
    if actor.address:
        detail["address"] = actor.address
    audit(
        hub,
        action,
        actor=actor.email,
        actor_kind="user",
        member_id=member_id,
        target=target,
        detail=detail or None,
        conn=conn,
    )


_audit = record


# --- managing users ---------------------------------------------------------------------------


def get_user(hub: Hub, user_id: str) -> User:
    with hub.db.read() as conn:
        user = UserRepository(conn).get(user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    return user


def may_act(hub: Hub, user: User) -> bool:
    """An account may sign in and use the console while it is active and, when it belongs
    to a member, while that member is not suspended (its people are shut out with its keys)."""
    if user.status != "active":
        return False
    if user.member_id is None:
        return True
    with hub.db.read() as conn:
        member = MemberRepository(conn).get(user.member_id)
    return member is not None and member.status == "active"


def find_id(hub: Hub, email: str) -> str:
    found = membership.find_user(hub, email)
    if found is None:
        raise NotFound(f"no user {email!r}")
    return found.id


def list_users(hub: Hub) -> list[User]:
    with hub.db.read() as conn:
        return UserRepository(conn).list()


def create_user(
    hub: Hub,
    actor: Actor,
    email: str,
    password: str,
    role: str,
    *,
    member_id: str | None = None,
    totp_required: bool = False,
) -> User:
    """A console user; a member-admin belongs to exactly one member, other roles to none."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise BadRequest("an e-mail address is needed")
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    if role == "member-admin":
        if not member_id:
            raise BadRequest("a member-admin belongs to a member: choose one")
        member_id = membership.find_member(hub, member_id).id
    else:
        member_id = None
    user = membership.add_user(hub, email, password, role, member_id=member_id)
    if totp_required:
        require_totp(hub, user.id)
    _audit(
        hub,
        actor,
        "user.add",
        member_id=member_id,
        target=email,
        detail={"role": role, "totp_required": totp_required},
    )
    return get_user(hub, user.id)


def update_user(
    hub: Hub,
    actor: Actor,
    user_id: str,
    *,
    role: str | None = None,
    member_id: str | None = None,
    totp_required: bool | None = None,
    status: str | None = None,
) -> User:
    """Change a user's role, requirement of a second factor or status (active | suspended).
    Suspending ends the user's sessions at once."""
    user = get_user(hub, user_id)
    changes: dict[str, Any] = {}
    if role is not None and role != user.role:
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}")
        changes["role"] = role
    effective_role = changes.get("role", user.role)
    if effective_role == "member-admin":
        wanted = member_id or user.member_id
        if not wanted:
            raise BadRequest("a member-admin belongs to a member: choose one")
        wanted = membership.find_member(hub, wanted).id
        if wanted != user.member_id:
            changes["member_id"] = wanted
    elif user.member_id is not None:
        changes["member_id"] = None
    if totp_required is not None and totp_required != user.totp_required:
        changes["totp_required"] = totp_required
    if status is not None and status != user.status:
        if status not in ("active", "suspended"):
            raise BadRequest("status is active or suspended")
        if user.email == actor.email:
            raise Conflict("you cannot suspend your own account")
        changes["status"] = status
    if not changes:
        return user
    if user.role == "admin" and (
        changes.get("role", "admin") != "admin" or changes.get("status") == "suspended"
    ):
        _keep_an_admin(hub, user.id)
    with hub.db.write() as conn:
        UserRepository(conn).update(user.id, **changes)
    if "status" in changes or "role" in changes or "member_id" in changes:
        end_for_user(hub, user.id)
    _audit(
        hub,
        actor,
        "user.update",
        member_id=changes.get("member_id", user.member_id),
        target=user.email,
        detail=dict(changes),
    )
    return get_user(hub, user.id)


def _keep_an_admin(hub: Hub, leaving_id: str) -> None:
    others = [
        u
        for u in list_users(hub)
        if u.role == "admin" and u.status == "active" and u.id != leaving_id
    ]
    if not others:
        raise Conflict("the hub needs at least one active admin")


def require_totp(hub: Hub, user_id: str) -> None:
    """Mark a user as having to sign in with a TOTP code (the caller records the act)."""
    with hub.db.write() as conn:
        UserRepository(conn).update(user_id, totp_required=True)


def set_status(hub: Hub, user_id: str, status: str) -> None:
    """Suspend or reinstate a user from the command line (the caller records the act)."""
    if status not in ("active", "suspended"):
        raise BadRequest("status is active or suspended")
    user = get_user(hub, user_id)
    if user.role == "admin" and status == "suspended":
        _keep_an_admin(hub, user.id)
    with hub.db.write() as conn:
        UserRepository(conn).update(user_id, status=status)
    end_for_user(hub, user_id)


def reset_totp(hub: Hub, actor: Actor, user_id: str) -> User:
    """Remove a user's second factor (a lost phone); if it is required they enrol again at
    their next sign-in."""
    user = get_user(hub, user_id)
    with hub.db.write() as conn:
        UserRepository(conn).update(user.id, totp_secret=None)
    end_for_user(hub, user.id)
    _audit(hub, actor, "user.totp_reset", member_id=user.member_id, target=user.email)
    return get_user(hub, user.id)


def change_password(
    hub: Hub, actor: Actor, user_id: str, current: str, new: str, *, keep_token: str | None
) -> None:
    """Change one's own password; every other session of the user ends."""
    user = get_user(hub, user_id)
    if not verify_password(current, user.password_hash):
        raise BadRequest("the current password is not right")
    if len(new) < MIN_PASSWORD:
        raise BadRequest(f"a password has at least {MIN_PASSWORD} characters")
    if new == current:
        raise BadRequest("the new password is the current one")
    with hub.db.write() as conn:
        UserRepository(conn).set_password(user.id, hash_password(new))
    end_for_user(hub, user.id, keep_token=keep_token)
    _audit(hub, actor, "user.password_change", member_id=user.member_id, target=user.email)


def totp_needed(hub: Hub, user: User) -> bool:
    return user.totp_required or hub.settings.console.require_totp


def enrol_totp(hub: Hub, actor: Actor, user_id: str, secret: bytes, code: str) -> User:
    """Turn on the second factor with a secret the user's app was given, once a code from the
    app proves it has it."""
    user = get_user(hub, user_id)
    step = totp.matching_step(secret, code, now_us() / 1e6)
    if step is None:
        raise BadRequest("that code does not match: check the phone's clock and try again")
    box = totp.SecretBox(hub.secret("session_key"))
    with hub.db.write() as conn:
        repo = UserRepository(conn)
        repo.update(user.id, totp_secret=box.seal(secret))
        repo.use_totp_step(user.id, step)
    _audit(hub, actor, "user.totp_enrol", member_id=user.member_id, target=user.email)
    return get_user(hub, user.id)


def disable_totp(hub: Hub, actor: Actor, user_id: str, password: str) -> User:
    user = get_user(hub, user_id)
    if totp_needed(hub, user):
        raise Conflict("a second factor is required for this account")
    if not verify_password(password, user.password_hash):
        raise BadRequest("the password is not right")
    with hub.db.write() as conn:
        UserRepository(conn).update(user.id, totp_secret=None)
    _audit(hub, actor, "user.totp_disable", member_id=user.member_id, target=user.email)
    return get_user(hub, user.id)


def member_name(hub: Hub, member_id: str | None) -> str | None:
    if member_id is None:
        return None
    with hub.db.read() as conn:
        member = MemberRepository(conn).get(member_id)
    return member.name if member else None


# --- signing in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInResult:
    # "ok": signed in; "totp": the password was right, a code is needed; "enrol": the password
    # was right and a second factor must be set up first; "refused": wrong or unknown;
    # "locked": too many failures, try again in retry_after seconds.
    outcome: str
    user: User | None = None
    retry_after: int = 0


def _keys(email: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("account", f"account:{email}")]
    if address:
        keys.append(("address", f"address:{address}"))
    return keys


def _locked_for(hub: Hub, keys: list[tuple[str, str]], now: int) -> int:
    with hub.db.read() as conn:
        repo = ThrottleRepository(conn)
        until = [t.locked_until_us for _, key in keys if (t := repo.get(key)) is not None]
    remaining = max((u - now for u in until if u is not None), default=0)
    return -(-remaining // 1_000_000) if remaining > 0 else 0


def _fail(hub: Hub, keys: list[tuple[str, str]], now: int) -> None:
    console = hub.settings.console
    with hub.db.write() as conn:
        repo = ThrottleRepository(conn)
        for kind, key in keys:
            threshold = (
                console.lockout_threshold
                if kind == "account"
                else console.lockout_address_threshold
            )
            old = repo.get(key)
            failures = (old.failures if old else 0) + 1
            locked_until = None
            if failures >= threshold:
                doublings = min(failures - threshold, 30)
                seconds = min(console.lockout_seconds * 2**doublings, console.lockout_max_seconds)
                locked_until = now + seconds * 1_000_000
            repo.put(Throttle(key, failures, now, locked_until))


def _clear(hub: Hub, keys: list[tuple[str, str]]) -> None:
    with hub.db.write() as conn:
        repo = ThrottleRepository(conn)
        for _, key in keys:
            repo.clear(key)


def _refuse(hub: Hub, email: str, address: str | None, reason: str, user: User | None) -> None:
    _audit(
        hub,
        Actor(email[:320] or "(none)", address),
        "console.sign_in_failed",
        member_id=user.member_id if user else None,
        target=user.email if user else None,
        detail={"reason": reason},
    )


def check_password(hub: Hub, email: str, password: str, address: str | None) -> SignInResult:
    """The first step of signing in. The answer for an unknown account, a wrong password and
    a suspended account is the same "refused", and takes as long."""
    email = email.strip().lower()
    now = now_us()
    keys = _keys(email, address)
    wait = _locked_for(hub, keys, now)
    user = membership.find_user(hub, email) if email else None
    if wait:
        _refuse(hub, email, address, "locked", user)
        return SignInResult("locked", retry_after=wait)
    good = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not good or not may_act(hub, user):
        _fail(hub, keys, now)
        reason = "unknown-account" if user is None else "bad-password" if not good else "suspended"
        if reason == "suspended" and user is not None and user.status == "active":
            reason = "member-suspended"
        _refuse(hub, email, address, reason, user)
        return SignInResult("refused")
    if user.totp_secret:
        return SignInResult("totp", user)
    if totp_needed(hub, user):
        return SignInResult("enrol", user)
    return _succeed(hub, user, address, keys, factor="password")


def check_totp(hub: Hub, user_id: str, code: str, address: str | None) -> SignInResult:
    """The second step: a code from the user's authenticator, accepted once."""
    user = get_user(hub, user_id)
    now = now_us()
    keys = _keys(user.email, address)
    wait = _locked_for(hub, keys, now)
    if wait:
        _refuse(hub, user.email, address, "locked", user)
        return SignInResult("locked", retry_after=wait)
    if not may_act(hub, user) or not user.totp_secret:
        _refuse(hub, user.email, address, "suspended", user)
        return SignInResult("refused")
    secret = totp.SecretBox(hub.secret("session_key")).open(user.totp_secret)
    step = totp.matching_step(secret, code, now / 1e6, after_step=user.totp_last_step)
    accepted = False
    if step is not None:
        with hub.db.write() as conn:
            accepted = UserRepository(conn).use_totp_step(user.id, step)
    if not accepted:
        _fail(hub, keys, now)
        _refuse(hub, user.email, address, "bad-code", user)
        return SignInResult("refused", user)
    return _succeed(hub, user, address, keys, factor="password+totp")


def finish_enrolment(hub: Hub, user: User, address: str | None) -> SignInResult:
    """A user who had to set up a second factor at sign-in has done so: signed in."""
    return _succeed(hub, user, address, _keys(user.email, address), factor="password+totp")


def _succeed(
    hub: Hub, user: User, address: str | None, keys: list[tuple[str, str]], *, factor: str
) -> SignInResult:
    _clear(hub, keys)
    with hub.db.write() as conn:
        UserRepository(conn).update(user.id, last_sign_in_us=now_us())
    _audit(
        hub,
        Actor(user.email, address),
        "console.sign_in",
        member_id=user.member_id,
        target=user.email,
        detail={"factor": factor, "role": user.role},
    )
    return SignInResult("ok", get_user(hub, user.id))


def sign_out(hub: Hub, user: User, address: str | None) -> None:
    _audit(hub, Actor(user.email, address), "console.sign_out", member_id=user.member_id)
