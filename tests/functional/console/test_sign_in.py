"""Signing in: passwords, lock-outs, TOTP, sessions (cookie flags, rotation, timeouts), CSRF,
and the audit trail of every attempt."""

from __future__ import annotations

import pytest

from hub.auth import totp
from hub.services import users
from hub.services.users import Actor
from hub.stix.timestamps import now_us
from tests.functional.console.conftest import Site
from tests.support.console import ADMIN, PASSWORD, Console, audit_actions


def test_sign_in_and_out_with_a_password(site: Site) -> None:
    console = site.console()
    assert console.get("/console/members").location.startswith("/console/sign-in?next=")
    response = console.sign_in(*ADMIN)
    assert response.status_code == 302
    assert response.location == "/console/"
    assert console.get("/console/members").status_code == 200
    assert console.post("/console/sign-out").status_code == 302
    assert console.get("/console/members").status_code == 302
    (event,) = audit_actions(site.hub, "console.sign_in")
    assert event["actor"] == ADMIN[0]
    assert event["actor_kind"] == "user"
    assert audit_actions(site.hub, "console.sign_out")[0]["actor"] == ADMIN[0]


def test_sign_in_goes_to_the_page_asked_for_but_never_off_the_console(site: Site) -> None:
    console = site.console()
    console.get("/console/sign-in")
    response = console.post(
        "/console/sign-in", {"email": ADMIN[0], "password": ADMIN[1], "next": "/console/audit"}
    )
    assert response.location == "/console/audit"
    other = site.console()
    other.get("/console/sign-in")
    response = other.post(
        "/console/sign-in",
        {"email": ADMIN[0], "password": ADMIN[1], "next": "//evil.example/console/"},
    )
    assert response.location == "/console/"


def test_wrong_password_unknown_account_and_suspended_user_get_the_same_answer(
    site: Site,
) -> None:
    users.update_user(site.hub, Actor(ADMIN[0]), site.staff.analyst.id, status="suspended")
    answers = set()
    for email, password in [
        (ADMIN[0], "not the password at all"),
        ("nobody@hub.local", PASSWORD),
        ("analyst@hub.local", PASSWORD),
    ]:
        response = site.console().sign_in(email, password)
        assert response.status_code == 401
        answers.add(response.get_data(as_text=True).split('id="sign-in-error">')[1][:60])
    assert len(answers) == 1
    reasons = [e["detail"] for e in audit_actions(site.hub, "console.sign_in_failed")]
    assert [r.split('"reason":"')[1].split('"')[0] for r in reasons] == [
        "bad-password",
        "unknown-account",
        "suspended",
    ]


def test_repeated_failures_lock_the_account_then_back_off(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    threshold = site.hub.settings.console.lockout_threshold
    for _ in range(threshold):
        assert site.console().sign_in(ADMIN[0], "wrong password, again").status_code == 401
    locked = site.console().sign_in(*ADMIN)  # even the right password is refused now
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == site.hub.settings.console.lockout_seconds
    assert any('"reason":"locked"' in e["detail"] for e in audit_actions(site.hub))

    later = now_us() + (site.hub.settings.console.lockout_seconds + 1) * 1_000_000
    monkeypatch.setattr("hub.services.users.now_us", lambda: later)
    # One more failure after the lock ran out locks it for twice as long.
    assert site.console().sign_in(ADMIN[0], "wrong password, again").status_code == 401
    again = site.console().sign_in(*ADMIN)
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) == 2 * site.hub.settings.console.lockout_seconds

    much_later = later + 3 * site.hub.settings.console.lockout_seconds * 1_000_000
    monkeypatch.setattr("hub.services.users.now_us", lambda: much_later)
    assert site.console().sign_in(*ADMIN).status_code == 302


def test_failures_from_one_address_lock_it_out_for_every_account(site: Site) -> None:
    limit = site.hub.settings.console.lockout_address_threshold
    for number in range(limit):
        site.console().sign_in(f"guess{number}@hub.local", "not a password of anyone")
    assert site.console().sign_in(*ADMIN).status_code == 429


def test_sign_in_with_a_totp_code(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = totp.new_secret()
    users.enrol_totp(
        site.hub,
        Actor(ADMIN[0]),
        users.find_id(site.hub, ADMIN[0]),
        secret,
        totp.code_at(secret, now_us() / 1e6),
    )
    console = site.console()
    response = console.sign_in(*ADMIN)
    assert response.location == "/console/sign-in/code"
    assert console.get("/console/members").status_code == 302  # not signed in yet
    assert console.post("/console/sign-in/code", {"code": "000000"}).status_code == 401
    # The code of the next step (the enrolment used this one's).
    later = now_us() + 30_000_000
    monkeypatch.setattr("hub.services.users.now_us", lambda: later)
    code = totp.code_at(secret, later / 1e6)
    assert console.post("/console/sign-in/code", {"code": code}).location == "/console/"
    assert console.get("/console/members").status_code == 200
    event = audit_actions(site.hub, "console.sign_in")[-1]
    assert '"factor":"password+totp"' in event["detail"]

    # The same code does not work twice.
    other = site.console()
    other.sign_in(*ADMIN)
    assert other.post("/console/sign-in/code", {"code": code}).status_code == 401


def test_a_user_required_to_use_totp_sets_it_up_before_anything_else(site: Site) -> None:
    users.update_user(site.hub, Actor(ADMIN[0]), site.staff.analyst.id, totp_required=True)
    console = site.console()
    assert console.sign_in("analyst@hub.local").location == "/console/sign-in/enrol"
    page = console.get("/console/sign-in/enrol").get_data(as_text=True)
    assert console.get("/console/dashboard").status_code == 302
    shown = page.split('id="totp-secret" class="secret">')[1].split("<")[0]
    secret = totp_secret_from_base32(shown)
    assert console.post("/console/sign-in/enrol", {"code": "123"}).status_code == 200
    response = console.post(
        "/console/sign-in/enrol", {"code": totp.code_at(secret, now_us() / 1e6)}
    )
    assert response.location == "/console/"
    assert console.get("/console/dashboard").status_code == 200
    assert users.get_user(site.hub, site.staff.analyst.id).totp_secret


def totp_secret_from_base32(text: str) -> bytes:
    import base64

    return base64.b32decode(text + "=" * (-len(text) % 8))


def test_session_cookie_flags_and_a_new_token_at_sign_in(site: Site) -> None:
    console = site.console()
    page = console.get("/console/sign-in")
    before = console.cookie()
    assert before is not None  # the sign-in form's CSRF token lives in a session
    flags = page.headers["Set-Cookie"]
    assert "HttpOnly" in flags
    assert "SameSite=Lax" in flags
    assert "Path=/console" in flags
    assert "Secure" not in flags  # plain http, cookie_secure = "auto"
    console.post("/console/sign-in", {"email": ADMIN[0], "password": ADMIN[1]})
    after = console.cookie()
    assert after is not None and after != before
    # The pre-sign-in token is worth nothing now.
    stale = site.console()
    stale.client.set_cookie("hub_console", before, path="/console")
    assert stale.get("/console/members").status_code == 302


def test_cookie_is_secure_over_https(site: Site) -> None:
    response = site.app.test_client().get("/console/sign-in", base_url="https://hub.example")
    assert "Secure" in response.headers["Set-Cookie"]


def test_api_requests_never_get_a_console_cookie(site: Site) -> None:
    response = site.app.test_client().get("/taxii2/")
    assert "Set-Cookie" not in response.headers


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    console = site.console()
    console.sign_in(*ADMIN)
    token = console.cookie()
    console.post("/console/sign-out")
    replay = site.console()
    replay.client.set_cookie("hub_console", token or "", path="/console")
    assert replay.get("/console/members").status_code == 302


def test_idle_session_ends(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    console = site.console()
    console.sign_in(*ADMIN)
    idle = site.hub.settings.console.idle_timeout_minutes * 60_000_000
    start = now_us()
    monkeypatch.setattr("hub.console.sessions.now_us", lambda: start + idle - 1_000_000)
    assert console.get("/console/members").status_code == 200  # activity keeps it alive
    monkeypatch.setattr("hub.console.sessions.now_us", lambda: start + 2 * idle - 2_000_000)
    assert console.get("/console/members").status_code == 200
    monkeypatch.setattr("hub.console.sessions.now_us", lambda: start + 3 * idle)
    response = console.get("/console/members")
    assert response.location.startswith("/console/sign-in")
    assert "Your session ended" in console.get(response.location).get_data(as_text=True)


def test_sessions_end_after_the_maximum_age_however_active(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = site.console()
    console.sign_in(*ADMIN)
    start, step = now_us(), 10 * 60_000_000
    limit = site.hub.settings.console.max_session_hours * 3_600_000_000
    moment = start
    while moment + step < start + limit:
        moment += step
        monkeypatch.setattr("hub.console.sessions.now_us", lambda at=moment: at)
        assert console.get("/console/account").status_code == 200
    monkeypatch.setattr("hub.console.sessions.now_us", lambda: start + limit + step)
    assert console.get("/console/account").status_code == 302


def test_suspending_a_user_ends_its_sessions_at_once(site: Site) -> None:
    console = site.console()
    console.sign_in("analyst@hub.local")
    assert console.get("/console/dashboard").status_code == 200
    users.update_user(site.hub, Actor(ADMIN[0]), site.staff.analyst.id, status="suspended")
    assert console.get("/console/dashboard").status_code == 302


def test_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    console = site.console()
    assert (
        console.post(
            "/console/sign-in", {"email": ADMIN[0], "password": ADMIN[1]}, csrf=False
        ).status_code
        == 400
    )
    console.sign_in(*ADMIN)
    member = site.world.acme.member.id
    response = console.post(
        f"/console/members/{member}/status", {"status": "suspended"}, csrf=False
    )
    assert response.status_code == 400
    forged = console.post(
        f"/console/members/{member}/status", {"status": "suspended", "csrf_token": "forged"}
    )
    assert forged.status_code == 400
    # A token from another session does not do either.
    other = site.console()
    foreign = other.token()
    response = console.post(
        f"/console/members/{member}/status", {"status": "suspended", "csrf_token": foreign}
    )
    assert response.status_code == 400
    assert "missing its security token" in response.get_data(as_text=True)
    from hub.services import membership

    assert membership.find_member(site.hub, member).status == "active"


def test_changing_the_password_ends_other_sessions(site: Site) -> None:
    first, second = site.console(), site.console()
    first.sign_in("analyst@hub.local")
    second.sign_in("analyst@hub.local")
    response = first.post(
        "/console/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "a brand new password",
            "confirm_password": "a brand new password",
        },
    )
    assert response.status_code == 302
    assert first.get("/console/account").status_code == 200
    assert second.get("/console/account").status_code == 302
    assert site.console().sign_in("analyst@hub.local", "a brand new password").status_code == 302


def test_security_headers_on_console_pages(site: Site) -> None:
    response = Console(site.app).get("/console/sign-in")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_retention_clears_idle_sessions_and_quiet_failure_counts(site: Site) -> None:
    from hub.services import retention

    console = site.console()
    console.sign_in(*ADMIN)
    site.console().sign_in(ADMIN[0], "a wrong password here")
    assert retention.run(site.hub) == []  # nothing is old yet
    later = now_us() + 2 * site.hub.settings.console.lockout_max_seconds * 1_000_000
    purged = {r.rule: r.count for r in retention.run(site.hub, now=later)}
    assert purged["console-sessions"] >= 2  # the admin's and the failed attempt's
    assert purged["sign-in-throttles"] == 2  # the account and the address
    assert console.get("/console/members").status_code == 302
