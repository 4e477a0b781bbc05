from __future__ import annotations

import pytest

from hub.auth.roles import PERMISSIONS, ROLES, allows, granted


def test_admin_does_everything_but_act_as_a_member() -> None:
    assert granted("admin") == frozenset(PERMISSIONS) - {"own.read", "own.keys"}


def test_analyst_reads_and_reviews_but_changes_nothing_else() -> None:
    assert allows("analyst", "review.decide")
    for permission in ("members.write", "keys.write", "policy.write", "users.manage"):
        assert not allows("analyst", permission)


def test_member_admin_is_confined_to_its_own_organisation() -> None:
    assert granted("member-admin") == {"own.read", "own.keys"}


def test_an_unknown_role_may_do_nothing_and_a_typo_in_a_permission_is_an_error() -> None:
    assert not any(allows("root", p) for p in PERMISSIONS)
    assert set(ROLES) == {"admin", "analyst", "member-admin"}
    with pytest.raises(KeyError):
        allows("admin", "member.write")
