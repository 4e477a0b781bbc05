"""Repositories for the console's own records: sessions and sign-in throttles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from hub.storage.tables import console_sessions, sign_in_throttles


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str  # SHA-256 of the cookie's token
    user_id: str | None
    created_us: int
    last_seen_us: int
    data: str  # JSON


_SESSION_COLS = [console_sessions.c[name] for name in SessionRow.__slots__]


class SessionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, session_id: str) -> SessionRow | None:
        row = self.conn.execute(
            select(*_SESSION_COLS).where(console_sessions.c.id == session_id)
        ).first()
        return SessionRow(*row) if row else None

    def put(self, session: SessionRow) -> None:
        values = {name: getattr(session, name) for name in SessionRow.__slots__}
        changed = self.conn.execute(
            update(console_sessions).where(console_sessions.c.id == session.id).values(**values)
        )
        if changed.rowcount == 0:
            self.conn.execute(insert(console_sessions).values(**values))

    def delete(self, session_id: str) -> None:
        self.conn.execute(delete(console_sessions).where(console_sessions.c.id == session_id))

    def delete_for_user(self, user_id: str, *, keep: str | None = None) -> int:
        query = delete(console_sessions).where(console_sessions.c.user_id == user_id)
        if keep is not None:
            query = query.where(console_sessions.c.id != keep)
        return int(self.conn.execute(query).rowcount)

    def delete_seen_before(self, cutoff_us: int) -> int:
        return int(
            self.conn.execute(
                delete(console_sessions).where(console_sessions.c.last_seen_us < cutoff_us)
            ).rowcount
        )

    def count_for_user(self, user_id: str) -> int:
        rows = self.conn.execute(
            select(console_sessions.c.id).where(console_sessions.c.user_id == user_id)
        )
        return len(rows.all())


@dataclass(frozen=True, slots=True)
class Throttle:
    key: str
    failures: int
    last_failure_us: int
    locked_until_us: int | None


_THROTTLE_COLS = [sign_in_throttles.c[name] for name in Throttle.__slots__]


class ThrottleRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> Throttle | None:
        row = self.conn.execute(
            select(*_THROTTLE_COLS).where(sign_in_throttles.c.key == key)
        ).first()
        return Throttle(*row) if row else None

    def put(self, throttle: Throttle) -> None:
        values = {name: getattr(throttle, name) for name in Throttle.__slots__}
        changed = self.conn.execute(
            update(sign_in_throttles)
            .where(sign_in_throttles.c.key == throttle.key)
            .values(**values)
        )
        if changed.rowcount == 0:
            self.conn.execute(insert(sign_in_throttles).values(**values))

    def purge_quiet_since(self, cutoff_us: int, now_us: int) -> int:
        """Forget counts whose last failure is before the cut-off and whose lock is over."""
        t = sign_in_throttles.c
        return int(
            self.conn.execute(
                delete(sign_in_throttles).where(
                    t.last_failure_us < cutoff_us,
                    (t.locked_until_us.is_(None)) | (t.locked_until_us < now_us),
                )
            ).rowcount
        )

    def clear(self, key: str) -> None:
        self.conn.execute(delete(sign_in_throttles).where(sign_in_throttles.c.key == key))
