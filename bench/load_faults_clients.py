"""The clients of the load-and-fault harness: pushers and pollers, run in processes of their own.

    .venv/bin/python bench/load_faults_clients.py SPEC.json OUT.json

`bench/load_faults.py` writes SPEC (the role, the web ports, the keys, the time window) and
reads OUT when the process exits. Clients behave as real ones do:

- a pusher POSTs bundles to the inbox, in turn over TAXII and `POST /api/v1/submissions`,
  round-robin over the web ports; on a connection error, a timeout, a 5xx or a 429 it sends the
  same body again (the API with the same `Idempotency-Key`) to the next port after a jittered
  back-off (honouring `Retry-After`), so an object whose first answer was lost arrives twice;
- a poller follows one feed with taxii2-client (through `connectors.remote`, which keeps each
  page's `X-TAXII-Date-Added-Last`): a walk pages with `next` from `added_after` (its last
  date_added seen; nothing on its first walk) until `more` is false, then it waits and walks
  again. It records a digest of each version served, per walk; after the hub has drained it
  makes one final walk.

Every request is logged with its kind, start (CLOCK_MONOTONIC, shared by every process of the
machine), duration and outcome (HTTP status, or the kind of failure).
"""

from __future__ import annotations

import base64
import random
import sys
import threading
import time
import uuid
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `connectors` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import requests
import requests.auth

from bench.ingest import make_indicator
from bench.load_faults_check import (
    CONSENT_IDS,
    OPENCTI_AMBER_STRICT,
    TLP1_IDS,
    TLP2_IDS,
    TLP_ORDER,
    digest,
)

TAXII = "application/taxii+json;version=2.1"
REQUEST_TIMEOUT_S = 60.0
BACKOFF_CAP_S = 5.0

# Shares of the objects in a bundle, and of the TLP levels of the valid ones. None: no TLP
# marking (the hub applies sharing.default_tlp); "mixed": two TLP markings, the stricter wins.
INVALID_SHARE = 0.04
MALWARE_SHARE = 0.08
NAMED_SHARE = 0.10  # descriptions that name the submitter
LEVELS: tuple[tuple[str | None, int], ...] = (
    ("clear", 15),
    ("green", 30),
    ("amber", 12),
    (None, 8),
    ("amber+strict", 10),
    ("red", 15),
    ("mixed", 10),
)
CONSENTS: tuple[tuple[str | None, int], ...] = (
    (None, 55),
    ("everyone", 15),
    ("government", 15),
    ("none", 15),
)
INVALID_KINDS = ("pattern", "modified", "no-pattern-type", "valid-until", "future")


# --- what is sent ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberSpec:
    id: str
    name: str
    kind: str
    consent: str  # the member's default
    own_ref: str  # the identity id its objects carry as created_by_ref


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in weighted], [w for _, w in weighted])[0]


def _marking_id(rng: random.Random, level: str) -> str:
    """One of the ids that mean `level`: TLP 1.0, TLP 2.0, or OpenCTI's AMBER+STRICT."""
    choices = [TLP2_IDS[level]]
    if level in TLP1_IDS:
        choices.append(TLP1_IDS[level])
    if level == "amber+strict":
        choices.append(OPENCTI_AMBER_STRICT)
    return rng.choice(choices)


def markings(rng: random.Random, default_tlp: str) -> tuple[list[str], str, str | None]:
    """(object_marking_refs, the TLP level they mean, the consent marking's level or None)."""
    level = _pick(rng, LEVELS)
    refs: list[str] = []
    if level == "mixed":
        first, second = rng.sample(TLP_ORDER, 2)
        refs = [_marking_id(rng, first), _marking_id(rng, second)]
        level = max(first, second, key=TLP_ORDER.index)
    elif level is None:
        level = default_tlp
    else:
        refs = [_marking_id(rng, level)]
    consent = _pick(rng, CONSENTS)
    if consent is not None:
        refs.append(CONSENT_IDS[consent])
    rng.shuffle(refs)
    return refs, level, consent


def _stamp(moment_s: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment_s))
    return f"{whole}.{int(moment_s * 1000) % 1000:03d}Z"


def invalid_object(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy of a valid indicator that the hub must refuse, for the reason `kind`."""
    bad = dict(obj)
    if kind == "pattern":
        bad["pattern"] = bad["pattern"].rstrip("]")
    elif kind == "modified":
        bad["modified"] = "2025-01-01T00:00:00.000Z"
    elif kind == "no-pattern-type":
        del bad["pattern_type"]
    elif kind == "valid-until":
        bad["valid_until"] = "2025-06-01T00:00:00.000Z"
    else:  # created a month ahead of the hub's clock
        ahead = _stamp(time.time() + 30 * 86_400)
        bad["created"] = bad["modified"] = bad["valid_from"] = ahead
    return bad


def _malware(index: int, salt: str) -> dict[str, Any]:
    base = make_indicator(index, salt)
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": base["id"].replace("indicator--", "malware--"),
        "created": base["created"],
        "modified": base["modified"],
        "name": f"Family {base['id'][-8:]}",
        "is_family": True,
    }


@dataclass
class Bundle:
    objects: list[dict[str, Any]]
    # Per object: [id, version (`modified`), tlp, consent or None, valid, shared]
    meta: list[list[Any]]


class Generator:
    """A pusher's bundles: deterministic for a seed, never the same object twice, except the
    re-sends (objects of earlier bundles sent again, as a client that lost track would)."""

    def __init__(
        self, member: MemberSpec, salt: str, seed: int, sizes: tuple[int, int], default_tlp: str
    ) -> None:
        self.member = member
        self.salt = salt
        self.rng = random.Random(seed)
        self.sizes = sizes
        self.default_tlp = default_tlp
        self.number = 0
        self.history: list[tuple[dict[str, Any], list[Any]]] = []

    def next(self) -> Bundle:
        rng = self.rng
        objects: list[dict[str, Any]] = []
        meta: list[list[Any]] = []
        count = rng.randint(*self.sizes)
        for k in range(count):
            index = self.number * 10_000 + k
            roll = rng.random()
            obj = (
                _malware(index, self.salt)
                if roll < MALWARE_SHARE
                else make_indicator(index, self.salt)
            )
            obj["created_by_ref"] = self.member.own_ref
            refs, level, consent = markings(rng, self.default_tlp)
            if refs:
                obj["object_marking_refs"] = refs
            else:
                obj.pop("object_marking_refs", None)
            if obj["type"] == "indicator" and rng.random() < NAMED_SHARE:
                obj["description"] += f" Shared by {self.member.name} analysts."
            valid = not (MALWARE_SHARE <= roll < MALWARE_SHARE + INVALID_SHARE)
            if not valid:
                obj = invalid_object(obj, rng.choice(INVALID_KINDS))
            entry = [obj["id"], obj["modified"], level, consent, valid, True]
            objects.append(obj)
            meta.append(entry)
            if valid and rng.random() < 0.02:
                self.history.append((obj, entry))
        if rng.random() < 0.05:  # the member's own identity: stored, never forwarded
            identity = {
                "type": "identity",
                "spec_version": "2.1",
                "id": self.member.own_ref,
                "created": "2026-01-01T00:00:00.000Z",
                "modified": "2026-01-01T00:00:00.000Z",
                "name": self.member.name,
                "identity_class": "organization",
            }
            objects.append(identity)
            meta.append([identity["id"], identity["modified"], "amber", None, True, False])
        if self.history and rng.random() < 0.05:
            for obj, entry in rng.sample(self.history, min(len(self.history), 3)):
                objects.append(obj)
                meta.append(entry)
        self.number += 1
        return Bundle(objects, meta)


# --- requests ----------------------------------------------------------------------------------


class RequestLog:
    """Every request a client process made: [kind, started (monotonic), seconds, outcome],
    and a few of the messages each kind of failure came with."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self.messages: dict[str, list[str]] = {}
        # [kind, started, seconds, outcome, X-Request-Id] of each 5xx: the server's log says why
        self.server_errors: list[list[Any]] = []
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        started: float,
        seconds: float,
        outcome: str,
        message: str = "",
        request_id: str = "",
    ) -> None:
        with self._lock:
            self.rows.append([kind, round(started, 4), round(seconds, 5), outcome])
            if outcome.startswith("5"):
                self.server_errors.append([kind, started, seconds, outcome, request_id])
            if message:
                kept = self.messages.setdefault(outcome, [])
                if len(kept) < 3 and message[:300] not in kept:
                    kept.append(message[:300])


def failure_kind(exc: BaseException) -> str:
    """A short name for a failed request: connection-refused, connection-reset, timeout, ..."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return str(exc.response.status_code)
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return "connection-refused"
        if "reset" in text or "aborted" in text or "remote end closed" in text:
            return "connection-reset"
        return "connection-error"
    return type(exc).__name__


def _wait(attempt: int, rng: random.Random, retry_after: str | None = None) -> float:
    if retry_after and retry_after.isdigit():
        return min(float(retry_after), 30.0)
    ceiling = min(BACKOFF_CAP_S, 0.25 * 2**attempt)
    return ceiling / 2 + rng.random() * ceiling / 2


@dataclass
class Client:
    """What every client thread has: its key, where the hub is and when to work."""

    number: int
    auth: tuple[str, str]
    ports: list[int]
    start_at: float
    stop_at: float
    give_up_s: float  # how long one request is tried again before it is given up
    pause_s: float  # between bundles, or between walks (on average)
    log: RequestLog


@dataclass
class Pusher(Client):
    member: MemberSpec
    inbox_id: str
    generator: Generator
    bundles: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> None:
        session = requests.Session()
        session.auth = self.auth
        rng = random.Random(self.number)
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        sent = 0
        while time.monotonic() < self.stop_at:
            bundle = self.generator.next()
            channel = "taxii" if sent % 2 == 0 else "api"
            self.bundles.append(self._send(session, rng, bundle, channel, sent))
            sent += 1
            time.sleep(self.pause_s * rng.uniform(0.5, 1.5))
        session.close()

    def _send(
        self, session: requests.Session, rng: random.Random, bundle: Bundle, channel: str, n: int
    ) -> dict[str, Any]:
        if channel == "taxii":
            body = orjson.dumps({"objects": bundle.objects})
            headers = {"Content-Type": TAXII, "Accept": TAXII}
        else:
            body = orjson.dumps(
                {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": bundle.objects}
            )
            headers = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        record: dict[str, Any] = {"channel": channel, "meta": bundle.meta, "attempts": 0}
        deadline = time.monotonic() + self.give_up_s
        attempt = 0
        while True:
            port = self.ports[(self.number + n + attempt) % len(self.ports)]
            if channel == "taxii":
                url = f"http://127.0.0.1:{port}/taxii2/hub/collections/{self.inbox_id}/objects/"
            else:
                url = f"http://127.0.0.1:{port}/api/v1/submissions"
            started = time.monotonic()
            retry_after = None
            message = ""
            request_id = uuid.uuid4().hex
            try:
                answer = session.post(
                    url,
                    data=body,
                    headers={**headers, "X-Request-Id": request_id},
                    timeout=REQUEST_TIMEOUT_S,
                )
                outcome = str(answer.status_code)
                if answer.status_code >= 500:
                    message = answer.text
            except requests.RequestException as exc:
                answer, outcome, message = None, failure_kind(exc), repr(exc)
            seconds = time.monotonic() - started
            self.log.add(f"{channel} POST", started, seconds, outcome, message, request_id)
            record["attempts"] = attempt + 1
            if answer is not None and answer.status_code == 202:
                reply = orjson.loads(answer.content)
                if channel == "api":
                    record["submission_id"] = reply["id"]
                    record["status_id"] = reply["status"]["id"]
                else:
                    record["status_id"] = reply["id"]
                record["outcome"] = "accepted"
                return record
            if answer is not None:
                retry_after = answer.headers.get("Retry-After")
                if answer.status_code < 500 and answer.status_code != 429:
                    record["outcome"] = f"refused {answer.status_code}: {answer.text[:200]}"
                    return record
            attempt += 1
            if time.monotonic() > deadline:
                record["outcome"] = "uncertain"  # the hub may or may not have recorded it
                return record
            time.sleep(_wait(attempt, rng, retry_after))


@dataclass
class Poller(Client):
    feed: str  # alias
    feed_id: str
    page_size: int
    drained_flag: Path  # appears once the hub has drained: time for the final walk
    final_by: float
    walks: list[dict[str, Any]] = field(default_factory=list)

    def run(self) -> None:
        from connectors.remote import TaxiiCollection

        auth = requests.auth.HTTPBasicAuth(*self.auth)
        self.clients = [
            TaxiiCollection(
                f"http://127.0.0.1:{port}/taxii2/hub/",
                self.feed_id,
                auth=auth,
                timeout=REQUEST_TIMEOUT_S,
            )
            for port in self.ports
        ]
        self.rng = random.Random(1000 + self.number)
        self.turn = self.number
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        cursor: str | None = None
        while time.monotonic() < self.stop_at:
            cursor = self._walk(cursor, final=False)
            time.sleep(self.pause_s * self.rng.uniform(0.5, 1.5))
        while not self.drained_flag.exists() and time.monotonic() < self.final_by:
            time.sleep(0.5)
        if self.drained_flag.exists():
            self._walk(cursor, final=True)
        for client in self.clients:
            client.close()

    def _walk(self, cursor: str | None, *, final: bool) -> str | None:
        started = time.monotonic()
        seen = array("q")
        token: str | None = None
        last = cursor
        complete = True
        while True:
            page = self._page(cursor, token)
            if page is None:
                complete = False
                break
            for obj in page.objects:
                object_id, version = _version(obj)
                seen.append(digest(object_id, version))
            last = page.date_added_last or last
            if not page.more or page.next is None:
                break
            token = page.next
        self.walks.append(
            {
                "feed": self.feed,
                "added_after": cursor,
                "started": round(started, 4),
                "complete": complete,
                "final": final,
                "seen": base64.b64encode(seen.tobytes()).decode(),
            }
        )
        return last

    def _page(self, cursor: str | None, token: str | None) -> Any:
        """One page, asked again (of the other web process) until it comes or time is up."""
        deadline = time.monotonic() + self.give_up_s
        attempt = 0
        while True:
            client = self.clients[self.turn % len(self.clients)]
            request_id = uuid.uuid4().hex
            client.conn.session.headers["X-Request-Id"] = request_id
            started = time.monotonic()
            try:
                page = client.page(
                    added_after=cursor, next_token=token, limit=self.page_size, types=()
                )
            except Exception as exc:
                outcome = failure_kind(exc)
                message = repr(exc)
                if isinstance(exc, requests.HTTPError) and exc.response is not None:
                    message = exc.response.text
                seconds = time.monotonic() - started
                self.log.add("poll GET", started, seconds, outcome, message, request_id)
                self.turn += 1
                attempt += 1
                if time.monotonic() > deadline:
                    return None
                retry_after = None
                if isinstance(exc, requests.HTTPError) and exc.response is not None:
                    retry_after = exc.response.headers.get("Retry-After")
                time.sleep(_wait(attempt, self.rng, retry_after))
                continue
            self.log.add("poll GET", started, time.monotonic() - started, "200")
            return page


def _version(obj: Any) -> tuple[str, int]:
    from hub.stix.timestamps import parse_us

    stamp = obj.get("modified", obj.get("created"))
    return str(obj.get("id")), parse_us(stamp)


# --- the process -------------------------------------------------------------------------------


def run(spec: dict[str, Any]) -> dict[str, Any]:
    log = RequestLog()
    threads: list[threading.Thread] = []

    def common(one: dict[str, Any], pause_s: float) -> dict[str, Any]:
        return {
            "number": one["number"],
            "auth": (one["auth"][0], one["auth"][1]),
            "ports": spec["ports"],
            "start_at": one["start_at"],
            "stop_at": spec["stop_at"],
            "give_up_s": spec["give_up_s"],
            "pause_s": pause_s,
            "log": log,
        }

    pushers = []
    for one in spec.get("pushers", ()):
        member = MemberSpec(**one["member"])
        sizes = (spec["min_objects"], spec["max_objects"])
        pushers.append(
            Pusher(
                **common(one, spec["push_pause_s"]),
                member=member,
                inbox_id=spec["inbox_id"],
                generator=Generator(member, one["salt"], one["seed"], sizes, spec["default_tlp"]),
            )
        )
    pollers = [
        Poller(
            **common(one, spec["poll_pause_s"]),
            feed=one["feed"],
            feed_id=one["feed_id"],
            page_size=one["page_size"],
            drained_flag=Path(spec["drained_flag"]),
            final_by=spec["final_by"],
        )
        for one in spec.get("pollers", ())
    ]
    errors: list[str] = []

    def guarded(client: Client) -> None:
        try:
            client.run()
        except Exception as exc:  # reported, and the harness fails on it
            errors.append(f"{type(client).__name__} {client.number}: {type(exc).__name__}: {exc}")

    for client in [*pushers, *pollers]:
        thread = threading.Thread(target=guarded, args=(client,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return {
        "requests": log.rows,
        "bundles": [
            {"pusher": p.number, "member": p.member.id, **b} for p in pushers for b in p.bundles
        ],
        "walks": [{"poller": f"poller-{p.number}", **w} for p in pollers for w in p.walks],
        "errors": errors,
        "messages": log.messages,
        "server_errors": log.server_errors,
    }


def main(argv: list[str]) -> int:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    result = run(orjson.loads(spec_path.read_bytes()))
    temporary = out_path.with_suffix(".tmp")
    temporary.write_bytes(orjson.dumps(result))
    temporary.replace(out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
