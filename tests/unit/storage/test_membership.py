"""Members, keys and users through the services and repositories, on both engines."""

from __future__ import annotations

import pytest

from hub.errors import BadRequest, Conflict, NotFound, Unauthorized
from hub.services import Hub, membership
from hub.storage.tables import api_keys, users


def test_member_names_are_unique(any_hub: Hub) -> None:
    membership.add_member(any_hub, "Acme Bank", "industry", sector="finance")
    with pytest.raises(Conflict, match="Acme Bank"):
        membership.add_member(any_hub, "Acme Bank", "government")


@pytest.mark.parametrize(
    ("kind", "consent", "message"),
    [("martian", "none", "kind must be"), ("industry", "maybe", "consent must be")],
)
def test_member_fields_are_checked(any_hub: Hub, kind: str, consent: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        membership.add_member(any_hub, "X", kind, consent=consent)


def test_keys_are_stored_hashed_and_authenticate(any_hub: Hub) -> None:
    member = membership.add_member(any_hub, "Acme", "industry", sector="finance")
    issued = membership.issue_key(any_hub, "Acme", "write,read")
    with any_hub.db.read() as conn:
        stored = conn.execute(api_keys.select()).mappings().one()
    assert issued.secret not in str(dict(stored))
    principal = membership.authenticate(any_hub, issued.key.id, issued.secret)
    assert (principal.member_id, principal.kind, principal.sector) == (
        member.id,
        "industry",
        "finance",
    )
    assert principal.scopes == {"read", "write"}
    assert membership.list_keys(any_hub, member.id)[0].last_used_us is not None


def test_suspension_and_revocation_refuse_at_once(any_hub: Hub) -> None:
    member = membership.add_member(any_hub, "Acme", "industry")
    issued = membership.issue_key(any_hub, member.id, "read")
    membership.set_member_status(any_hub, member.id, "suspended")
    with pytest.raises(Unauthorized):
        membership.authenticate(any_hub, issued.key.id, issued.secret)
    membership.set_member_status(any_hub, member.id, "active")
    membership.authenticate(any_hub, issued.key.id, issued.secret)
    membership.revoke_key(any_hub, issued.key.id)
    with pytest.raises(Unauthorized):
        membership.authenticate(any_hub, None, issued.secret)


def test_unknown_references_are_not_found(any_hub: Hub) -> None:
    with pytest.raises(NotFound):
        membership.issue_key(any_hub, "nobody", "read")
    with pytest.raises(NotFound):
        membership.revoke_key(any_hub, "hk_nope")
    with pytest.raises(BadRequest, match="scope"):
        membership.parse_scope("admin")


def test_admin_password_is_stored_as_argon2id(any_hub: Hub) -> None:
    with any_hub.db.read() as conn:
        row = conn.execute(users.select()).mappings().one()
    assert row["role"] == "admin"
    assert row["password_hash"].startswith("$argon2id$")
    assert "an admin password for tests" not in row["password_hash"]
