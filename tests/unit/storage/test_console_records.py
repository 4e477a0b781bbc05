"""Console sessions and sign-in throttles behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from hub.services import Hub, sessions, users
from hub.stix.timestamps import now_us

ADMIN = ("admin@hub.local", "an admin password for tests")


def test_sessions_are_stored_hashed_loaded_and_expire(any_hub: Hub) -> None:
    token, now = sessions.new_token(), now_us()
    sessions.save(any_hub, token, user_id=None, created_us=now, data={"a": 1}, now_us=now)
    sessions.save(any_hub, token, user_id=None, created_us=now, data={"a": 2}, now_us=now + 1)
    loaded = sessions.load(any_hub, token, now + 2)
    assert loaded is not None and loaded.data == {"a": 2}
    assert sessions.load(any_hub, token + "x", now) is None
    idle = any_hub.settings.console.idle_timeout_minutes * 60_000_000
    assert sessions.load(any_hub, token, now + 1 + idle + 1) is None
    assert sessions.load(any_hub, token, now + 2) is None  # an expired session is deleted


def test_lock_out_and_success_on_each_engine(any_hub: Hub) -> None:
    for _ in range(any_hub.settings.console.lockout_threshold):
        assert users.check_password(any_hub, ADMIN[0], "wrong", "192.0.2.1").outcome == "refused"
    assert users.check_password(any_hub, *ADMIN, "192.0.2.1").outcome == "locked"
    assert users.check_password(any_hub, *ADMIN, None).outcome == "locked"  # the account is
    ok = users.check_password(any_hub, "Admin@Hub.Local", ADMIN[1], "192.0.2.2")
    assert ok.outcome == "locked"  # e-mail addresses are compared in lower case
