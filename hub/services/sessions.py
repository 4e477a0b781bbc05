"""Console sessions, kept on the server: the cookie carries a random token, the database its
SHA-256, so a session can be ended (sign-out, suspension, password change) and expires when
idle or too old whatever the browser keeps."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from hub.services.context import Hub
from hub.storage.console import SessionRepository, SessionRow


@dataclass(frozen=True)
class Loaded:
    user_id: str | None
    created_us: int
    data: dict[str, Any]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _limits(hub: Hub) -> tuple[int, int]:
    console = hub.settings.console
    return console.idle_timeout_minutes * 60_000_000, console.max_session_hours * 3_600_000_000


def load(hub: Hub, token: str, now_us: int) -> Loaded | None:
    """The session behind a cookie's token, or None if there is none or it has expired
    (idle longer than console.idle_timeout_minutes, or older than max_session_hours)."""
    idle_us, max_us = _limits(hub)
    with hub.db.read() as conn:
        row = SessionRepository(conn).get(_id(token))
    if row is None:
        return None
    if now_us - row.last_seen_us > idle_us or now_us - row.created_us > max_us:
        delete(hub, token)
        return None
    return Loaded(row.user_id, row.created_us, orjson.loads(row.data))


def save(
    hub: Hub, token: str, *, user_id: str | None, created_us: int, data: dict[str, Any], now_us: int
) -> None:
    """Store the session (its last use is now), and clear out sessions long idle."""
    idle_us, _ = _limits(hub)
    row = SessionRow(_id(token), user_id, created_us, now_us, orjson.dumps(data).decode("utf-8"))
    with hub.db.write() as conn:
        repo = SessionRepository(conn)
        repo.put(row)
        if secrets.randbelow(50) == 0:  # now and then, not on every request
            repo.delete_seen_before(now_us - idle_us)


def delete(hub: Hub, token: str) -> None:
    with hub.db.write() as conn:
        SessionRepository(conn).delete(_id(token))


def end_for_user(hub: Hub, user_id: str, *, keep_token: str | None = None) -> int:
    """End every session of a user (but the one with `keep_token`); returns how many."""
    with hub.db.write() as conn:
        return SessionRepository(conn).delete_for_user(
            user_id, keep=_id(keep_token) if keep_token else None
        )
