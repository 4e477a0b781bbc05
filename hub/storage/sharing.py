"""Repositories for the sharing records: policy versions, pseudonym key epochs, receipts and
the review queue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson
from sqlalchemy import Connection, func, insert, select, update

from hub.storage.bulk import insert_rows
from hub.storage.tables import policy_versions, pseudonym_epochs, receipts, review_items

_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: int
    created_us: int
    source: str
    author: str | None
    digest: str
    document: str
    note: str | None
    # Source "config": the file's own policy when `document` differs from it (see tables.py).
    config_document: str | None = None

    @property
    def file_document(self) -> str:
        """What the configuration file described, for a version taken from it."""
        return self.config_document or self.document


_POLICY_COLS = [policy_versions.c[name] for name in PolicyVersion.__slots__]


class PolicyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def latest(self, source: str | None = None) -> PolicyVersion | None:
        query = select(*_POLICY_COLS).order_by(policy_versions.c.version.desc()).limit(1)
        if source is not None:
            query = query.where(policy_versions.c.source == source)
        row = self.conn.execute(query).first()
        return PolicyVersion(*row) if row else None

    def latest_number(self) -> int | None:
        value = self.conn.execute(select(func.max(policy_versions.c.version))).scalar()
        return None if value is None else int(value)

    def get(self, version: int) -> PolicyVersion | None:
        row = self.conn.execute(
            select(*_POLICY_COLS).where(policy_versions.c.version == version)
        ).first()
        return PolicyVersion(*row) if row else None

    def history(self) -> list[PolicyVersion]:
        rows = self.conn.execute(select(*_POLICY_COLS).order_by(policy_versions.c.version))
        return [PolicyVersion(*row) for row in rows]

    def add(
        self,
        *,
        created_us: int,
        source: str,
        author: str | None,
        digest: str,
        document: str,
        note: str | None = None,
        config_document: str | None = None,
    ) -> int:
        number = (self.latest_number() or 0) + 1
        self.conn.execute(
            insert(policy_versions).values(
                version=number,
                created_us=created_us,
                source=source,
                author=author,
                digest=digest,
                document=document,
                note=note,
                config_document=config_document,
            )
        )
        return number


@dataclass(frozen=True, slots=True)
class Epoch:
    epoch: int
    fingerprint: str
    started_us: int
    ended_us: int | None


class EpochRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def by_fingerprint(self, fingerprint: str) -> Epoch | None:
        row = self.conn.execute(
            select(
                pseudonym_epochs.c.epoch,
                pseudonym_epochs.c.fingerprint,
                pseudonym_epochs.c.started_us,
                pseudonym_epochs.c.ended_us,
            ).where(pseudonym_epochs.c.fingerprint == fingerprint)
        ).first()
        return Epoch(*row) if row else None

    def all(self) -> list[Epoch]:
        """Every epoch, newest first (fingerprints only, never a key)."""
        rows = self.conn.execute(
            select(
                pseudonym_epochs.c.epoch,
                pseudonym_epochs.c.fingerprint,
                pseudonym_epochs.c.started_us,
                pseudonym_epochs.c.ended_us,
            ).order_by(pseudonym_epochs.c.epoch.desc())
        )
        return [Epoch(*row) for row in rows]

    def start(self, fingerprint: str, now_us: int) -> Epoch:
        """Begin a new epoch for the key with `fingerprint`, ending the current one."""
        current = self.conn.execute(select(func.max(pseudonym_epochs.c.epoch))).scalar()
        number = int(current or 0) + 1
        self.conn.execute(
            update(pseudonym_epochs)
            .where(pseudonym_epochs.c.ended_us.is_(None))
            .values(ended_us=now_us)
        )
        self.conn.execute(
            insert(pseudonym_epochs).values(
                epoch=number, fingerprint=fingerprint, started_us=now_us, ended_us=None
            )
        )
        return Epoch(number, fingerprint, now_us, None)


class Receipt(NamedTuple):
    """Where one version of an object went: a feed, under which identity, by which policy.
    A tuple in the table's column order, so the pipeline stores receipts as they are."""

    object_id: str
    version_us: int
    feed_id: str
    member_id: str
    submission_id: str | None
    policy_version: int
    tlp: str
    identity_id: str
    named: bool
    redactions: str | None
    kind: str
    released_us: int


_RECEIPT_NAMES: tuple[str, ...] = Receipt._fields
_RECEIPT_COLS = [receipts.c[name] for name in _RECEIPT_NAMES]


class ReceiptRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, items: Sequence[Receipt]) -> None:
        """Store receipts (the pipeline writes one per released version per feed)."""
        insert_rows(self.conn, receipts, _RECEIPT_NAMES, items)

    def for_objects(self, object_ids: Iterable[str]) -> list[Receipt]:
        """Every receipt of these objects, oldest first."""
        ids = sorted(set(object_ids))
        found: list[Receipt] = []
        for start in range(0, len(ids), _IN_CHUNK):
            rows = self.conn.execute(
                select(*_RECEIPT_COLS)
                .where(receipts.c.object_id.in_(ids[start : start + _IN_CHUNK]))
                .order_by(receipts.c.id)
            )
            found.extend(Receipt(*row) for row in rows)
        return found

    def for_member(self, member_id: str) -> list[Receipt]:
        rows = self.conn.execute(
            select(*_RECEIPT_COLS).where(receipts.c.member_id == member_id).order_by(receipts.c.id)
        )
        return [Receipt(*row) for row in rows]

    def for_submission(self, submission_id: str) -> list[Receipt]:
        rows = self.conn.execute(
            select(*_RECEIPT_COLS)
            .where(receipts.c.submission_id == submission_id)
            .order_by(receipts.c.id)
        )
        return [Receipt(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: str
    state: str
    member_id: str
    submission_id: str | None
    object_id: str
    version_us: int
    type: str
    body: str
    reasons: str
    hits: str
    policy_version: int
    created_us: int
    decided_us: int | None
    decided_by: str | None
    note: str | None
    edited_body: str | None

    @property
    def reason_list(self) -> list[str]:
        return list(orjson.loads(self.reasons))

    @property
    def hit_list(self) -> list[dict[str, object]]:
        return list(orjson.loads(self.hits))


_REVIEW_COLS = [review_items.c[name] for name in ReviewItem.__slots__]


class ReviewRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, items: Sequence[ReviewItem]) -> None:
        """Queue items; an object version already queued stays as it is."""
        if not items:
            return
        existing = {
            (row[0], row[1])
            for row in self.conn.execute(
                select(review_items.c.object_id, review_items.c.version_us).where(
                    review_items.c.object_id.in_(sorted({item.object_id for item in items}))
                )
            )
        }
        fresh = [item for item in items if (item.object_id, item.version_us) not in existing]
        if fresh:
            self.conn.execute(
                insert(review_items),
                [{name: getattr(item, name) for name in ReviewItem.__slots__} for item in fresh],
            )

    def get(self, item_id: str) -> ReviewItem | None:
        row = self.conn.execute(select(*_REVIEW_COLS).where(review_items.c.id == item_id)).first()
        return ReviewItem(*row) if row else None

    def get_for_update(self, item_id: str) -> ReviewItem | None:
        row = self.conn.execute(
            select(*_REVIEW_COLS).where(review_items.c.id == item_id).with_for_update()
        ).first()
        return ReviewItem(*row) if row else None

    def list(self, state: str | None = "pending", limit: int = 100) -> list[ReviewItem]:
        query = select(*_REVIEW_COLS).order_by(review_items.c.created_us).limit(limit)
        if state is not None:
            query = query.where(review_items.c.state == state)
        return [ReviewItem(*row) for row in self.conn.execute(query)]

    def count(self, state: str = "pending") -> int:
        return int(
            self.conn.execute(
                select(func.count()).select_from(review_items).where(review_items.c.state == state)
            ).scalar()
            or 0
        )

    def decide(
        self,
        item_id: str,
        *,
        state: str,
        decided_by: str,
        decided_us: int,
        note: str | None,
        edited_body: str | None,
    ) -> None:
        self.conn.execute(
            update(review_items)
            .where(review_items.c.id == item_id)
            .values(
                state=state,
                decided_by=decided_by,
                decided_us=decided_us,
                note=note,
                edited_body=edited_body,
            )
        )

    def states_for_submission(self, submission_id: str) -> dict[tuple[str, int], str]:
        """(object id, version) -> pending | approved | rejected, of one submission's items."""
        rows = self.conn.execute(
            select(review_items.c.object_id, review_items.c.version_us, review_items.c.state)
            .where(review_items.c.submission_id == submission_id)
            .order_by(review_items.c.created_us)
        )
        return {(str(o), int(v)): str(s) for o, v, s in rows}
