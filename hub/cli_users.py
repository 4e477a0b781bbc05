"""`hub user`: console accounts from the command line (the console's Users page does the same)."""

from __future__ import annotations

import secrets
from typing import Any

import click

from hub.auth.roles import ROLES
from hub.cli_sharing import state_of_command
from hub.errors import BadRequest
from hub.services import membership, users
from hub.stix.timestamps import format_us
from hub.storage.membership import User


def _user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "member_id": user.member_id,
        "status": user.status,
        "totp": bool(user.totp_secret),
        "totp_required": user.totp_required,
        "last_sign_in": format_us(user.last_sign_in_us) if user.last_sign_in_us else None,
    }


@click.group()
def user() -> None:
    """Console users: admin, analyst, member-admin (of one member)."""


@user.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--member", "member_ref", default=None, help="Member id or name (member-admin).")
@click.option(
    "--password",
    envvar="HUB_USER_PASSWORD",
    default=None,
    help="Its password (or $HUB_USER_PASSWORD); generated and printed once if omitted.",
)
@click.option("--require-totp", is_flag=True, help="It must sign in with a TOTP code.")
def user_add(
    email: str, role: str, member_ref: str | None, password: str | None, require_totp: bool
) -> None:
    """Add a console user."""
    state = state_of_command()
    if role == "member-admin" and not member_ref:
        raise BadRequest("a member-admin needs --member")
    member_id = membership.find_member(state.hub, member_ref).id if member_ref else None
    if role != "member-admin":
        member_id = None
    generated = password is None
    password = password or secrets.token_urlsafe(18)
    created = membership.add_user(state.hub, email, password, role, member_id=member_id)
    if require_totp:
        users.require_totp(state.hub, created.id)
    state.audit(
        "user.add",
        member_id=member_id,
        target=created.email,
        detail={"role": role, "totp_required": require_totp},
    )
    data = _user_dict(users.get_user(state.hub, created.id))
    text = f"added {created.email} ({role})"
    if generated:
        data["password"] = password
        text += f"\npassword (shown once): {password}"
    state.emit(data, text)


@user.command("list")
def user_list() -> None:
    """Every console user (never a password or TOTP secret)."""
    state = state_of_command()
    found = users.list_users(state.hub)
    state.emit(
        [_user_dict(u) for u in found],
        "\n".join(
            f"{u.email:<32} {u.role:<13} {u.status:<9} totp={'on' if u.totp_secret else 'off'}"
            for u in found
        )
        or "no users",
    )


def _set_status(email: str, status: str) -> None:
    state = state_of_command()
    found = membership.find_user(state.hub, email)
    if found is None:
        raise BadRequest(f"no user {email!r}")
    users.set_status(state.hub, found.id, status)
    state.audit(
        "user.update", member_id=found.member_id, target=found.email, detail={"status": status}
    )
    state.emit(_user_dict(users.get_user(state.hub, found.id)), f"{found.email}: {status}")


@user.command("suspend")
@click.argument("email")
def user_suspend(email: str) -> None:
    """Suspend a console user: its sessions end at once."""
    _set_status(email, "suspended")


@user.command("reinstate")
@click.argument("email")
def user_reinstate(email: str) -> None:
    """Let a suspended console user sign in again."""
    _set_status(email, "active")


def register(main: click.Group) -> None:
    main.add_command(user)
