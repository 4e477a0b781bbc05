"""Reading a TAXII 2.1 collection incrementally: taxii-pull (upstream → hub) and taxii-push
(hub feed → downstream) both page a collection this way.

The cursor is `added_after` (the `X-TAXII-Date-Added-Last` of the last page read) plus, in the
middle of a paging session, the server's `next` token and the `added_after` that session
started from. Each page is staged with the cursor that moves past it, in one transaction.

A `next` token is only used in the run that received it: some servers consume a session as
they serve it (medallion hands out each page of a session once), so a token kept across a
crash may skip the page whose answer was lost. A run that finds a session under way, or a
server that refuses a token, starts again from one microsecond before the last page's date:
objects added in that same instant are read again and, already delivered, not sent again. A
server that sends no date headers is re-read from the cursor on each run; the record of
delivered versions keeps what it sends once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from connectors.engine import Engine
from connectors.remote import TaxiiCollection, just_before, later, version_of
from connectors.retry import Rejected


@dataclass
class Cursor:
    added_after: str | None = None  # the next session starts after this
    next: str | None = None  # the server's token, in the middle of a session
    session_after: str | None = None  # the added_after the current session started from
    last_seen: str | None = None  # the latest date_added read in the current session

    @classmethod
    def load(cls, saved: Any, start: str | None) -> Cursor:
        if not isinstance(saved, dict):
            return cls(added_after=start)
        return cls(
            **{k: saved.get(k) for k in ("added_after", "next", "session_after", "last_seen")}
        )


class TaxiiSource:
    """A collection read page by page from the cursor on."""

    def __init__(
        self,
        remote: TaxiiCollection,
        *,
        page_size: int,
        types: tuple[str, ...],
        start: str | None,
        tlp: str | None,
    ) -> None:
        self.remote = remote
        self.page_size = page_size
        self.types = types
        self.start = start
        self.tlp = tlp
        self.description = f"{remote.url} collection {remote.ref!r}"

    def close(self) -> None:
        self.remote.close()

    def cursor(self, engine: Engine) -> Cursor:
        return Cursor.load(engine.state.get("cursor"), self.start)

    def collect(self, engine: Engine) -> None:
        """Read every page added since the cursor, staging and delivering each in turn."""
        cursor = self.cursor(engine)
        if cursor.next:
            cursor = self._resume(engine, cursor, "a paging session was under way")
        warned = False
        while True:
            after = cursor.session_after if cursor.next else cursor.added_after
            try:
                page = engine.call(
                    f"GET objects from {self.description}",
                    partial(
                        self.remote.page,
                        added_after=after,
                        next_token=cursor.next,
                        limit=self.page_size,
                        types=self.types,
                    ),
                )
            except Rejected as exc:
                if not cursor.next:
                    raise
                cursor = self._resume(engine, cursor, f"the server refused its token ({exc})")
                continue
            if page.objects and page.date_added_last is None and not warned:
                warned = True
                engine.event(
                    logging.WARNING,
                    "no_date_headers",
                    f"{self.description} sends no X-TAXII-Date-Added-Last: each run reads "
                    f"again from {cursor.added_after or 'the start'}, sending only what is new",
                )
            last_seen = later(cursor.last_seen, page.date_added_last)
            if page.more and page.next:
                following = Cursor(cursor.added_after, page.next, after, last_seen)
            else:
                following = Cursor(added_after=last_seen or cursor.added_after)
            self._stage(engine, page.objects, following)
            engine.flush()
            cursor = following
            if not following.next:
                return

    def _resume(self, engine: Engine, cursor: Cursor, why: str) -> Cursor:
        """A fresh session from just before the last date read (or where the last began)."""
        resume = just_before(cursor.last_seen) if cursor.last_seen else cursor.session_after
        engine.event(
            logging.INFO,
            "paging_restarted",
            f"{why}; reading again from {resume or 'the start'}",
            cursor=resume,
        )
        return Cursor(added_after=resume)

    def _stage(self, engine: Engine, objects: list[Any], cursor: Cursor) -> None:
        fresh, skipped, seen = [], 0, set()
        known = engine.state.known(version_of(o) for o in objects)
        for obj in objects:
            key = version_of(obj)
            if key[0] and (key in known or key in seen):
                skipped += 1
                continue
            seen.add(key)
            fresh.append(obj)
        source = f"page after {cursor.added_after or 'the start'}"
        batches, too_large = engine.object_batches(source, fresh, self.tlp)
        with engine.state.transaction():
            engine.state.stage(batches)
            failed = engine.reject_too_large(source, too_large)
            engine.state.put("cursor", asdict(cursor))
            engine.state.count(fetched=len(objects), skipped=skipped, failed=failed)
        if objects:
            engine.event(
                logging.INFO,
                "page_fetched",
                f"{len(objects)} objects read from {self.description}"
                + (f", {skipped} already delivered" if skipped else ""),
                fetched=len(objects),
                skipped=skipped,
                cursor=cursor.added_after,
            )
