"""Reading back what a load-and-fault run left in the hub (`bench/load_faults.py`): the
database, every feed over TAXII, each accepted request's status resource, merged with what the
clients recorded into the evidence `bench/load_faults_check.py` judges; and the defects
`--self-check` plants in the database to see that the verdict catches each."""

from __future__ import annotations

import base64
import contextlib
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
import requests

from bench.ingest import BenchError, log
from bench.load_faults_check import (
    Answered,
    Evidence,
    Receipt,
    Row,
    Sent,
    StatusCount,
    Verdict,
    Walk,
    verify,
)
from bench.load_faults_clients import TAXII
from bench.load_faults_cluster import Cluster, HighWater

# --- draining and reading back -----------------------------------------------------------------


def pending_submissions(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM submissions WHERE state <> 'done'").fetchone()
    return int(row[0]) if row else 0


def drain(database_url: str, timeout_s: float) -> tuple[float, int]:
    """Wait until no submission is pending; returns how long it took and how many were
    pending when it began (the backlog the load left)."""
    started = time.monotonic()
    first = last = -1
    while True:
        try:
            left = pending_submissions(database_url)
        except Exception as exc:
            left, note = -1, f" ({type(exc).__name__})"
        else:
            note = ""
        if first < 0:
            first = left
        if left == 0 or time.monotonic() - started > timeout_s:
            return time.monotonic() - started, first
        if left != last:
            log(f"draining: {left} submissions pending{note}")
            last = left
        time.sleep(1.0)


def read_rows(database_url: str) -> tuple[list[Row], list[Receipt], list[StatusCount], int]:
    """The stored versions of every collection, the receipts, the status resources and the
    number of pending submissions, straight from the database."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = [
            Row(alias, object_id, int(version), int(seq), int(added), bool(latest), kind)
            for alias, object_id, version, seq, added, latest, kind in conn.execute(
                "SELECT c.alias, v.object_id, v.version_us, v.seq, v.date_added_us, "
                "v.is_latest, v.type FROM object_versions v "
                "JOIN collections c ON c.id = v.collection_id ORDER BY c.alias, v.seq"
            )
        ]
        receipts = [
            Receipt(object_id, int(version), alias, kind, bool(named))
            for object_id, version, alias, kind, named in conn.execute(
                "SELECT r.object_id, r.version_us, c.alias, r.kind, r.named FROM receipts r "
                "JOIN collections c ON c.id = r.feed_id"
            )
        ]
        statuses = [
            StatusCount(*row)
            for row in conn.execute(
                "SELECT id, status, total_count, success_count, failure_count, pending_count "
                "FROM statuses"
            )
        ]
        row = conn.execute("SELECT count(*) FROM submissions WHERE state <> 'done'").fetchone()
    return rows, receipts, statuses, int(row[0]) if row else 0


def read_feed(
    port: int, feed_id: str, auth: tuple[str, str]
) -> tuple[Counter[tuple[str, int]], dict[tuple[str, int], dict[str, Any]]]:
    """Every version of a feed over TAXII (match[version]=all, following next): how often
    each was served, and its body."""
    from hub.stix.timestamps import parse_us

    url = f"http://127.0.0.1:{port}/taxii2/hub/collections/{feed_id}/objects/"
    served: Counter[tuple[str, int]] = Counter()
    bodies: dict[tuple[str, int], dict[str, Any]] = {}
    token = None
    with requests.Session() as session:
        session.auth = auth
        while True:
            params = {"limit": "1000", "match[version]": "all"}
            if token:
                params["next"] = token
            answer = session.get(url, params=params, headers={"Accept": TAXII}, timeout=120)
            if answer.status_code != 200:
                raise BenchError(f"reading the feed answered {answer.status_code}: {answer.text}")
            page = orjson.loads(answer.content)
            for obj in page.get("objects", ()):
                key = (obj["id"], parse_us(obj.get("modified", obj.get("created"))))
                served[key] += 1
                bodies[key] = obj
            if not page.get("more"):
                return served, bodies
            token = page["next"]


def read_statuses(port: int, bundles: Sequence[dict[str, Any]], auth: dict[int, Any]) -> list[Any]:
    """Each accepted request's status resource as its submitter reads it: over TAXII for a
    TAXII POST, from the REST API for a submission."""

    def one(bundle: dict[str, Any]) -> Any:
        key = auth[bundle["pusher"]]
        if bundle["channel"] == "api":
            url = f"http://127.0.0.1:{port}/api/v1/submissions/{bundle['submission_id']}"
            headers = {"Accept": "application/json"}
        else:
            url = f"http://127.0.0.1:{port}/taxii2/hub/status/{bundle['status_id']}/"
            headers = {"Accept": TAXII}
        for attempt in range(5):
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(url, auth=key, headers=headers, timeout=60)
                if answer.status_code == 200:
                    body = orjson.loads(answer.content)
                    return body["status"] if bundle["channel"] == "api" else body
            time.sleep(0.5 * (attempt + 1))
        return None

    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(one, bundles))


@dataclass
class Gathered:
    """What the clients did, merged from their processes."""

    requests: list[list[Any]]
    bundles: list[dict[str, Any]]
    walks: list[dict[str, Any]]
    errors: list[str]
    messages: dict[str, list[str]]  # a few messages of each kind of failed request
    server_errors: list[list[Any]]  # [kind, started, seconds, outcome, X-Request-Id] per 5xx


def gather(results: Sequence[dict[str, Any]]) -> Gathered:
    out = Gathered([], [], [], [], {}, [])
    for result in results:
        out.requests += result["requests"]
        out.server_errors += result["server_errors"]
        out.bundles += result["bundles"]
        out.walks += result["walks"]
        out.errors += result["errors"]
        for outcome, messages in result["messages"].items():
            kept = out.messages.setdefault(outcome, [])
            kept += [m for m in messages if m not in kept][: 3 - len(kept)]
    return out


def sent_objects(bundles: Sequence[dict[str, Any]], members: dict[str, Any]) -> list[Sent]:
    from hub.stix.timestamps import parse_us

    sent = []
    for bundle in bundles:
        default = members[bundle["member"]]["consent"]
        accepted = bundle.get("outcome") == "accepted"
        for object_id, version, tlp, consent, valid, shared in bundle["meta"]:
            try:
                version_us = parse_us(version)
            except ValueError:
                version_us = 0
            sent.append(
                Sent(
                    object_id,
                    version_us,
                    bundle["member"],
                    tlp,
                    consent or default,
                    valid,
                    accepted,
                    shared,
                )
            )
    return sent


def collect(
    cluster: Cluster, gathered: Gathered, high_water: HighWater | None, statuses: list[Any] | None
) -> Evidence:
    """The evidence, read back from the hub: the database, every feed over TAXII, each
    accepted request's status resource."""
    rows, receipts, status_rows, pending = read_rows(cluster.database_url)
    feeds = {rule.alias for rule in cluster.feed_rules}
    readers = {
        "government": next(
            a for a in cluster.accounts["poller"] if a.member["kind"] == "government"
        ),
        "members": next(a for a in cluster.accounts["poller"] if a.member["kind"] == "industry"),
    }
    served: dict[str, Counter[tuple[str, int]]] = {}
    bodies: dict[tuple[str, str, int], dict[str, Any]] = {}
    for alias in sorted(feeds):
        account = readers.get(alias, readers["members"])
        port = cluster.ports[len(served) % len(cluster.ports)]
        counts, feed_bodies = read_feed(port, cluster.collection_ids[alias], account.key)
        served[alias] = counts
        bodies.update({(alias, *key): body for key, body in feed_bodies.items()})
    feed_rows = [
        Row(
            r.collection,
            r.object_id,
            r.version_us,
            r.seq,
            r.date_added_us,
            r.is_latest,
            r.type,
            bodies.get((r.collection, r.object_id, r.version_us)),
        )
        for r in rows
        if r.collection in feeds
    ]
    inbox = [r for r in rows if r.collection == "inbox"]
    accepted = [b for b in gathered.bundles if b.get("outcome") == "accepted"]
    if statuses is None:
        keys = {n: tuple(a.key) for n, a in enumerate(cluster.accounts["pusher"])}
        statuses = read_statuses(cluster.ports[0], accepted, keys)
    answered = [
        Answered(
            bundle["status_id"],
            bundle["channel"],
            tuple(m[0] for m in bundle["meta"] if m[4]),
            tuple(m[0] for m in bundle["meta"] if not m[4]),
            status,
        )
        for bundle, status in zip(accepted, statuses, strict=True)
    ]
    return Evidence(
        feeds=cluster.feed_rules,
        members=cluster.members,
        sent=sent_objects(gathered.bundles, cluster.member_specs),
        inbox=inbox,
        feed_rows=feed_rows,
        receipts=receipts,
        statuses=status_rows,
        answered=answered,
        pending_submissions=pending,
        walks=walks_of(gathered.walks, high_water),
        served=served,
    )


def walks_of(raw: Sequence[dict[str, Any]], high_water: HighWater | None) -> list[Walk]:
    from hub.stix.timestamps import parse_us

    walks = []
    for walk in raw:
        seen = array("q")
        seen.frombytes(base64.b64decode(walk["seen"]))
        walks.append(
            Walk(
                walk["poller"],
                walk["feed"],
                parse_us(walk["added_after"]) if walk["added_after"] else None,
                high_water.before(walk["started"], walk["feed"]) if high_water else None,
                seen,
                walk["complete"],
                walk["final"],
            )
        )
    return walks


# --- planted defects (--self-check) ------------------------------------------------------------


@dataclass
class Plant:
    """A defect put into the hub's database after a clean run, and the kind of violation the
    verdict must then report."""

    name: str
    expect: str
    apply: Callable[[Any, Cluster, Evidence], Callable[[Any], None]]  # returns its undo


def _saved_row(conn: Any, collection_id: str, seq: int) -> dict[str, Any]:
    """Every column of one stored version."""
    cursor = conn.execute(
        "SELECT * FROM object_versions WHERE collection_id = %s AND seq = %s", (collection_id, seq)
    )
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _insert_row(conn: Any, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    conn.execute(
        f"INSERT INTO object_versions ({columns}) VALUES ({marks})",  # noqa: S608
        list(values.values()),
    )


def _copy_row(conn: Any, source: tuple[str, int], **changes: Any) -> tuple[str, int]:
    """Insert a copy of the stored version at `source` (collection id, seq), with `changes`,
    after the last version of its collection (`changes` may name another); returns where it
    went."""
    values = _saved_row(conn, *source)
    values.update(changes)
    target = values["collection_id"]
    top = conn.execute(
        "SELECT coalesce(max(seq), 0), coalesce(max(date_added_us), 0) FROM object_versions "
        "WHERE collection_id = %s",
        (target,),
    ).fetchone()
    values.update(seq=top[0] + 1, date_added_us=top[1] + 1, is_latest=True, is_first=True)
    _insert_row(conn, values)
    return target, int(values["seq"])


def _delete_row(where: tuple[str, int]) -> Callable[[Any], None]:
    def undo(conn: Any) -> None:
        conn.execute("DELETE FROM object_versions WHERE collection_id = %s AND seq = %s", where)

    return undo


def _pick(evidence: Evidence, feed: str, **where: Any) -> Row:
    by_key = {(s.object_id, s.version_us): s for s in evidence.sent}
    for row in evidence.feed_rows if feed != "inbox" else evidence.inbox:
        sent = by_key.get((row.object_id, row.version_us))
        if (
            row.collection == feed
            and sent is not None
            and sent.shared
            and all(getattr(sent, k) == v for k, v in where.items())
        ):
            return row
    raise BenchError(f"no object to plant a defect with in {feed} ({where})")


def _plant_duplicate(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "inbox", tlp="green")
    inbox = cluster.collection_ids["inbox"]
    return _delete_row(_copy_row(conn, (inbox, row.seq), version_us=row.version_us + 1))


def _plant_missing(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "members", tlp="green")
    feed = cluster.collection_ids["members"]
    saved = _saved_row(conn, feed, row.seq)
    conn.execute(
        "DELETE FROM object_versions WHERE collection_id = %s AND seq = %s", (feed, row.seq)
    )
    return lambda conn: _insert_row(conn, saved)


def _plant_extra(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    feed = cluster.collection_ids["public"]
    row = _pick(evidence, "public")
    stranger = f"indicator--{uuid.uuid4()}"
    body = conn.execute(
        "SELECT body FROM object_versions WHERE collection_id = %s AND seq = %s", (feed, row.seq)
    ).fetchone()[0]
    return _delete_row(
        _copy_row(
            conn, (feed, row.seq), object_id=stranger, body=body.replace(row.object_id, stranger)
        )
    )


def _plant_red(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "inbox", tlp="red")
    feed = cluster.collection_ids["government"]
    return _delete_row(
        _copy_row(conn, (cluster.collection_ids["inbox"], row.seq), collection_id=feed)
    )


def _plant_named(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "members", consent="none")
    feed = cluster.collection_ids["members"]
    member = next(
        m
        for m in evidence.members.values()
        if any(s.member_id == m.id and s.object_id == row.object_id for s in evidence.sent)
    )
    (body,) = conn.execute(
        "SELECT body FROM object_versions WHERE collection_id = %s AND seq = %s", (feed, row.seq)
    ).fetchone()
    doctored = orjson.loads(body)
    doctored["created_by_ref"] = member.real_identity_id
    conn.execute(
        "UPDATE object_versions SET body = %s WHERE collection_id = %s AND seq = %s",
        (orjson.dumps(doctored).decode(), feed, row.seq),
    )

    def undo(conn: Any) -> None:
        conn.execute(
            "UPDATE object_versions SET body = %s WHERE collection_id = %s AND seq = %s",
            (body, feed, row.seq),
        )

    return undo


def _plant_stuck(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    status = evidence.statuses[0]
    conn.execute(
        "UPDATE statuses SET status = 'pending', pending_count = 1, total_count = total_count + 1 "
        "WHERE id = %s",
        (status.id,),
    )

    def undo(conn: Any) -> None:
        conn.execute(
            "UPDATE statuses SET status = %s, pending_count = %s, total_count = %s WHERE id = %s",
            (status.status, status.pending, status.total, status.id),
        )

    return undo


PLANTS = (
    Plant("an inbox object stored twice (as a second version)", "duplicate", _plant_duplicate),
    Plant("a released object deleted from the members feed", "loss", _plant_missing),
    Plant("an object nobody sent in the public feed", "extra", _plant_extra),
    Plant("a TLP:RED object copied into the government feed", "policy", _plant_red),
    Plant("a pseudonymised object pointing at its submitter", "identity", _plant_named),
    Plant("a status resource left pending", "status", _plant_stuck),
)


def self_check(
    cluster: Cluster, gathered: Gathered, high_water: HighWater, clean: Evidence
) -> list[dict[str, str]]:
    """Plant each defect in turn, read everything back, and see that the verdict names it."""
    import psycopg

    outcomes = []
    for plant in PLANTS:
        with psycopg.connect(cluster.database_url) as conn:
            undo = plant.apply(conn, cluster, clean)
        try:
            statuses = [a.status for a in clean.answered] if plant.expect != "status" else None
            verdict = verify(collect(cluster, gathered, high_water, statuses))
        finally:
            with psycopg.connect(cluster.database_url) as conn:
                undo(conn)
        outcomes.append(_caught(plant.name, plant.expect, verdict))
    # A poller that missed a version: one digest taken out of a checked walk.
    walks = list(clean.walks)
    for index, walk in enumerate(walks):
        # A walk from the start: what it served first was committed before it began.
        if walk.complete and walk.added_after_us is None and walk.high_water and walk.seen:
            walks[index] = Walk(
                walk.poller,
                walk.feed,
                walk.added_after_us,
                walk.high_water,
                walk.seen[1:],
                walk.complete,
                walk.final,
            )
            break
    doctored = Evidence(**{**clean.__dict__, "walks": walks})
    outcomes.append(_caught("a poller's walk that skipped a version", "poller", verify(doctored)))
    return outcomes


def _caught(name: str, expect: str, verdict: Verdict) -> dict[str, str]:
    found = [v for v in verdict.violations if v.kind == expect]
    log(f"self-check: {name}: {'caught' if found else 'NOT CAUGHT'}")
    return {
        "plant": name,
        "expected": expect,
        "caught": "yes" if found else "NO",
        "message": found[0].message if found else "; ".join(v.message for v in verdict.violations),
    }
