"""The console's server-side session: Flask's `session`, stored by hub.services.sessions.

Only requests under /console open or save a session; the TAXII and REST APIs never set a
cookie. The cookie holds a random token (HttpOnly, SameSite, Secure over https), and is
replaced by a new one at every change of who is signed in, so a token seen before sign-in is
worth nothing after it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from hub.services import sessions
from hub.services.context import Hub
from hub.stix.timestamps import now_us

COOKIE = "hub_console"
PATH = "/console"


class ConsoleSession(CallbackDict[str, Any], SessionMixin):
    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        created_us: int | None = None,
        expired: bool = False,
    ) -> None:
        def on_update(session: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.token = token
        self.created_us = created_us
        self.expired = expired  # the browser sent a cookie whose session had ended
        self.modified = False
        self.renew = False
        self.ended = False

    def regenerate(self) -> None:
        """Give the session a new token (at sign-in), keeping its data."""
        self.renew = True
        self.modified = True

    def end(self) -> None:
        """Forget the session: the row and the cookie go."""
        self.clear()
        self.ended = True


def _in_console(request: Request) -> bool:
    return request.path == PATH or request.path.startswith(PATH + "/")


class ConsoleSessionInterface(SessionInterface):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def open_session(self, app: Flask, request: Request) -> ConsoleSession:
        token = request.cookies.get(COOKIE)
        if not token or not _in_console(request) or len(token) > 100:
            return ConsoleSession()
        loaded = sessions.load(self.hub, token, now_us())
        if loaded is None:
            return ConsoleSession(expired=True)
        return ConsoleSession(loaded.data, token=token, created_us=loaded.created_us)

    def _secure(self, request: Request) -> bool:
        console = self.hub.settings.console
        if console.cookie_secure == "always":
            return True
        if console.cookie_secure == "never":
            return False
        return request.is_secure or self.hub.settings.server.public_url.startswith("https:")

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        from flask import request

        if not isinstance(session, ConsoleSession) or not _in_console(request):
            return
        if session.ended:
            if session.token:
                sessions.delete(self.hub, session.token)
            response.delete_cookie(COOKIE, path=PATH, httponly=True)
            return
        if not session.token and not session:
            return  # nothing worth keeping: no cookie
        now = now_us()
        token, created = session.token, session.created_us or now
        if token is None or session.renew:
            if token is not None:
                sessions.delete(self.hub, token)
            token, created = sessions.new_token(), now
        sessions.save(
            self.hub,
            token,
            user_id=session.get("user_id") if session.get("stage") == "signed-in" else None,
            created_us=created,
            data=dict(session),
            now_us=now,
        )
        response.set_cookie(
            COOKIE,
            token,
            path=PATH,
            httponly=True,
            secure=self._secure(request),
            samesite=self.hub.settings.console.cookie_samesite,
        )
        response.vary.add("Cookie")
