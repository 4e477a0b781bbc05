"""`hub push`: send a large STIX, CSV or plain-text file to a hub as a series of submissions.

A member-side client of the hub's public HTTP API, like any member's own tool: it speaks HTTP with
requests and never imports `hub.storage` or `hub.services`. The input is cut into batches under the
request size the hub announces over TAXII (`max_content_length`) and an object cap, and each batch
is POSTed to `/api/v1/submissions`. A state file records the batches the hub accepted, so running
the same command again after an interruption sends only the rest.

Delivery is at least once: a batch whose answer was lost (the connection cut after the hub recorded
it) is sent again. The hub stores an object version once, so STIX input is not duplicated; rows of a
CSV or text list would become new versions, because the hub stamps them when it receives them.
"""

from __future__ import annotations

import csv
import email.utils
import hashlib
import io
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin, urlsplit

import click
import orjson
import requests
import requests.auth

FORMATS = ("json", "csv", "text")
TLP_LEVELS = ("clear", "green", "amber", "amber+strict", "red")
# The OASIS TLP 2.0 marking definitions (cti-stix-common-objects, extension-definition
# --60a3c5c5-0d10-413e-aab3-9e08dde9e88d).
TLP_MARKINGS: Mapping[str, str] = MappingProxyType(
    {
        "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
)
# TLP 1.0 as defined in STIX 2.1 section 7.2.1.4: an object marked with one already has a TLP.
_TLP_1_MARKINGS = frozenset(
    {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
    }
)
_ANY_TLP = _TLP_1_MARKINGS | set(TLP_MARKINGS.values())
_CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}
_NOUNS = {"json": "objects", "csv": "rows", "text": "lines"}
TAXII_21 = "application/taxii+json;version=2.1"
STATE_SUFFIX = ".hub-push.json"
STATE_VERSION = 1
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_BASE = 0.5  # seconds before the first retry, doubled for each further one
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 120.0
TIMEOUT = (10.0, 300.0)  # connect, read: the hub processes small submissions before answering
FAILURES_SHOWN = 10
_COUNTS = ("total_count", "success_count", "failure_count", "pending_count")
_NEWLINES = re.compile(r"\r\n|\r|\n")  # how the hub splits a plain-text list


def _sleep(seconds: float) -> None:
    """Wait between attempts (a seam for tests)."""
    time.sleep(seconds)


class PushError(Exception):
    """A reason to stop, worded for the user in one line."""


class InputError(PushError):
    """The input cannot be sent as it is; nothing was sent."""


# --- credentials ---------------------------------------------------------------------------


class _Bearer(requests.auth.AuthBase):
    """`Authorization: Bearer` set as requests auth, so no .netrc entry replaces it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


@dataclass(frozen=True)
class Credentials:
    """An API key: HTTP Basic when the key id is given, Bearer otherwise. Never shown."""

    key_id: str | None
    secret: str = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> Credentials:
        """`KEYID:SECRET` or a bare `SECRET`."""
        key_id, colon, secret = text.strip().partition(":")
        if colon and not (key_id and secret):
            raise InputError("the key must be KEYID:SECRET or a bare SECRET")
        if not key_id:
            raise InputError("the key is empty")
        return cls(key_id, secret) if colon else cls(None, key_id)

    def auth(self) -> requests.auth.AuthBase:
        if self.key_id is None:
            return _Bearer(self.secret)
        return requests.auth.HTTPBasicAuth(self.key_id, self.secret)


# --- the batch plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanParams:
    """Everything besides the input that decides how it is cut; recorded in the state file."""

    fmt: str
    max_bytes: int
    max_items: int
    tlp: str | None


@dataclass(frozen=True)
class _Unit:
    """One object or row as sent; `lines` are the input lines it came from (CSV and text)."""

    data: bytes
    ref: str
    lines: range = range(0)


@dataclass(frozen=True)
class Batch:
    """One request body of `items` objects or rows; `lines[k]` is the input line of its line k+1."""

    index: int
    body: bytes = field(repr=False)
    items: int
    lines: tuple[int, ...] = ()

    def input_ref(self, ref: str) -> str:
        """A status resource's `line N` (of this body) as the input line it came from."""
        match = re.fullmatch(r"line (\d+)", ref)
        if match and 1 <= int(match.group(1)) <= len(self.lines):
            return f"line {self.lines[int(match.group(1)) - 1]}"
        return ref


@dataclass(frozen=True)
class Skipped:
    """An object or row that alone makes a request over the hub's limit: not sent."""

    ref: str
    size: int


@dataclass(frozen=True)
class Plan:
    params: PlanParams
    batches: list[Batch]
    skipped: list[Skipped]
    items: int


@dataclass(frozen=True)
class _Frame:
    """What surrounds the units of a body: an envelope for JSON, the header row for CSV."""

    prefix: bytes = b""
    separator: bytes = b""
    suffix: bytes = b""
    prefix_lines: range = range(0)

    def batch(self, index: int, units: list[_Unit]) -> Batch:
        body = self.prefix + self.separator.join(u.data for u in units) + self.suffix
        lines = tuple(chain(self.prefix_lines, *(u.lines for u in units)))
        return Batch(index, body, len(units), lines)


def make_plan(raw: bytes, params: PlanParams) -> Plan:
    """Cut the input into batches; the same input and parameters always give the same plan."""
    if params.fmt == "json":
        units = _json_units(raw, params.tlp)
        frame = _Frame(b'{"objects":[', b",", b"]}")
    elif params.fmt == "csv":
        header, units = _csv_units(_decode(raw), params.tlp)
        frame = _Frame(header.data, prefix_lines=header.lines)
    else:
        check_tlp(params.fmt, params.tlp)
        units, frame = _text_units(_decode(raw)), _Frame()
    batches, skipped = _pack(units, frame, params)
    return Plan(params, batches, skipped, len(units))


def check_tlp(fmt: str, tlp: str | None) -> None:
    """Refuse a TLP the format cannot carry: the hub reads none for a plain-text list."""
    if tlp and fmt == "text":
        raise InputError(
            "--tlp cannot mark a plain-text list: the hub reads TLP from a CSV 'tlp' column; "
            "send CSV (type,value,tlp) instead"
        )


def _pack(
    units: list[_Unit], frame: _Frame, params: PlanParams
) -> tuple[list[Batch], list[Skipped]]:
    """Fill batches greedily in input order, each under max_bytes and max_items."""
    batches: list[Batch] = []
    skipped: list[Skipped] = []
    current: list[_Unit] = []
    empty = len(frame.prefix) + len(frame.suffix)
    size = empty
    for unit in units:
        if empty + len(unit.data) > params.max_bytes:
            skipped.append(Skipped(unit.ref, empty + len(unit.data)))
            continue
        extra = len(unit.data) + (len(frame.separator) if current else 0)
        if current and (size + extra > params.max_bytes or len(current) >= params.max_items):
            batches.append(frame.batch(len(batches), current))
            current, size, extra = [], empty, len(unit.data)
        current.append(unit)
        size += extra
    if current:
        batches.append(frame.batch(len(batches), current))
    return batches, skipped


def mark(obj: Any, marking_id: str) -> Any:
    """`obj` with `marking_id` added to its object_marking_refs unless it already has a TLP."""
    if not isinstance(obj, dict) or obj.get("type") == "marking-definition":
        return obj
    refs = obj.get("object_marking_refs")
    if refs is None:
        return {**obj, "object_marking_refs": [marking_id]}
    if not isinstance(refs, list) or any(ref in _ANY_TLP for ref in refs):
        return obj  # malformed refs are the hub's to report; a TLP already set is kept
    return {**obj, "object_marking_refs": [*refs, marking_id]}


def _json_units(raw: bytes, tlp: str | None) -> list[_Unit]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"the input is not valid JSON: {exc}") from None
    objects = document.get("objects") if isinstance(document, dict) else None
    if not isinstance(objects, list):
        raise InputError(
            "the input must be a STIX bundle or a TAXII envelope: a JSON object with 'objects'"
        )
    marking = TLP_MARKINGS[tlp] if tlp else None
    units = []
    for number, obj in enumerate(objects, 1):
        marked = mark(obj, marking) if marking else obj
        ref = obj.get("id") if isinstance(obj, dict) else None
        units.append(
            _Unit(orjson.dumps(marked), ref if isinstance(ref, str) else f"object {number}")
        )
    return units


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"the input is not UTF-8 text: {exc.reason} at byte {exc.start}") from None


def _text_units(text: str) -> list[_Unit]:
    """One unit per line holding a value (the hub skips blank and `#` lines: so do we)."""
    units = []
    for number, line in enumerate(_NEWLINES.split(text), 1):
        value = re.split(r"\s#", line, maxsplit=1)[0].strip()
        if value and not value.startswith("#"):
            units.append(_Unit(f"{line}\n".encode(), f"line {number}", range(number, number + 1)))
    return units


def _normal_column(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


def _delimiter(lines: list[str]) -> str:
    """The delimiter that makes the first non-comment line name both `type` and `value`."""
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            for delimiter in (",", ";", "\t", "|"):
                names = {_normal_column(c) for c in next(csv.reader([line], delimiter=delimiter))}
                if {"type", "value"} <= names:
                    return delimiter
            break
    return ","


def _csv_records(lines: list[str], delimiter: str) -> Iterator[tuple[int, int, list[str] | None]]:
    """(first line index, line count, cells or None when unreadable) of each CSV record."""
    reader = csv.reader(iter(lines), delimiter=delimiter)
    done = 0
    while True:
        try:
            row: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            row = None
        if reader.line_num > done:
            yield done, reader.line_num - done, row
        done = reader.line_num


class _TlpColumn:
    """Puts a TLP level in the `tlp` cell of rows that have none, adding the column if needed."""

    def __init__(self, header: list[str], delimiter: str, level: str | None) -> None:
        names = [_normal_column(cell) for cell in header]
        if not {"type", "value"} <= set(names):
            raise InputError("the CSV header row must name a 'type' and a 'value' column")
        self.header_row = header
        self.width = len(header)
        self.index = names.index("tlp") if "tlp" in names else None
        self.delimiter = delimiter
        self.level = level

    def header(self, source: str) -> str:
        if self.level is None or self.index is not None:
            return source
        return self._render([*self.header_row, "tlp"])

    def row(self, source: str, row: list[str] | None) -> str:
        if self.level is None or row is None:
            return source
        if self.index is None:
            padding = [""] * (self.width - len(row))
            return self._render([*row[: self.width], *padding, self.level, *row[self.width :]])
        if self.index < len(row) and row[self.index].strip():
            return source
        cells = [*row, *[""] * (self.index + 1 - len(row))]
        cells[self.index] = self.level
        return self._render(cells)

    def _render(self, cells: list[str]) -> str:
        out = io.StringIO()
        csv.writer(out, delimiter=self.delimiter, lineterminator="\n").writerow(cells)
        return out.getvalue()


def _csv_unit(text: str, ref: str, first_line: int) -> _Unit:
    text = text if text.endswith(("\n", "\r")) else f"{text}\n"
    count = len(io.StringIO(text, newline="").readlines())
    return _Unit(text.encode(), ref, range(first_line, first_line + count))


def _csv_units(text: str, tlp: str | None) -> tuple[_Unit, list[_Unit]]:
    """The header row and one unit per data row (blank and `#` rows dropped, as the hub does)."""
    lines = io.StringIO(text, newline="").readlines()
    delimiter = _delimiter(lines)
    column: _TlpColumn | None = None
    header: _Unit | None = None
    units: list[_Unit] = []
    for first, count, row in _csv_records(lines, delimiter):
        if row is not None and (not any(c.strip() for c in row) or row[0].strip().startswith("#")):
            continue
        source = "".join(lines[first : first + count])
        if column is None or header is None:
            if row is None:
                raise InputError(f"line {first + 1}: the CSV header row cannot be read")
            column = _TlpColumn(row, delimiter, tlp)
            header = _csv_unit(column.header(source), "header", first + 1)
            continue
        units.append(_csv_unit(column.row(source, row), f"line {first + 1}", first + 1))
    if header is None:
        raise InputError("the CSV has no header row (like type,value)")
    return header, units


def detect_format(source: str, raw: bytes, given: str | None) -> str:
    """`given`, else by the file's extension, else sniffed from its first line."""
    if given:
        return given
    by_extension = {".json": "json", ".csv": "csv", ".txt": "text"}
    suffix = Path(source).suffix.lower() if source != "-" else ""
    if suffix in by_extension:
        return by_extension[suffix]
    head = raw[:65536].decode("utf-8-sig", errors="replace").lstrip()
    if head.startswith("{"):
        return "json"
    return "csv" if _is_csv_header(head.splitlines()) else "text"


def _is_csv_header(lines: list[str]) -> bool:
    delimiter = _delimiter(lines)
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            names = {_normal_column(c) for c in next(csv.reader([line], delimiter=delimiter))}
            return {"type", "value"} <= names
    return False


# --- the state file ------------------------------------------------------------------------


@dataclass
class PushState:
    """The batches of one plan the hub accepted, kept on disk so an interrupted push resumes."""

    path: Path | None
    target: dict[str, str]  # input_sha256, url, collection
    params: PlanParams
    batches: int
    accepted: dict[int, str] = field(default_factory=dict)  # batch index -> submission id

    def record(self, index: int, submission_id: str) -> None:
        self.accepted[index] = submission_id
        self.save()

    def save(self) -> None:
        """Write the file atomically: a crash leaves the old state or the new one, never half."""
        if self.path is None:
            return
        data = {
            "version": STATE_VERSION,
            **self.target,
            "plan": asdict(self.params),
            "batches": self.batches,
            "accepted": {str(i): s for i, s in sorted(self.accepted.items())},
        }
        temp: str | None = None
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            with os.fdopen(fd, "wb") as out:
                out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except OSError as exc:
            if temp is not None:
                Path(temp).unlink(missing_ok=True)
            raise PushError(f"cannot write the state file {self.path}: {exc.strerror}") from None

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def read_state(path: Path | None, notify: Callable[[str], None]) -> dict[str, Any] | None:
    """The saved state, or None when there is none or it cannot be read (said via `notify`)."""
    if path is None or not path.exists():
        return None
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        notify(f"the state file {path} cannot be read ({exc}); starting over")
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        notify(f"{path} is not a state file of this version of hub push; starting over")
        return None
    return data


def resume_point(
    saved: dict[str, Any] | None, target: dict[str, str], fresh: PlanParams
) -> tuple[PlanParams, dict[int, str], str | None]:
    """The plan parameters to use and the batches accepted before, with what to tell the user."""
    if saved is None:
        return fresh, {}, None
    try:
        old = PlanParams(**saved["plan"])
        accepted = {int(k): str(v) for k, v in saved["accepted"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return fresh, {}, "the state file is not one hub push wrote; starting over"
    if any(saved.get(k) != v for k, v in target.items()):
        return fresh, {}, "the state file is for another input, hub or collection; starting over"
    again = f" (the {len(accepted)} batches accepted before are sent again)" if accepted else ""
    if (old.fmt, old.max_items, old.tlp) != (fresh.fmt, fresh.max_items, fresh.tlp):
        return (
            fresh,
            {},
            f"the batch plan changed (format, --batch-objects or --tlp); starting over{again}",
        )
    if old.max_bytes > fresh.max_bytes:
        return fresh, {}, f"the hub's size limit is now smaller; starting over{again}"
    total = saved.get("batches")
    return old, accepted, f"resuming: {len(accepted)} of {total} batches were accepted before"


# --- the hub's HTTP API --------------------------------------------------------------------


class HubClient:
    """The hub's public HTTP API as `hub push` uses it, retrying transient failures."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        retries: int,
        notify: Callable[[str], None],
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self.retries = retries
        self.notify = notify
        self.session = session or requests.Session()
        self.session.auth = credentials.auth()

    def max_content_length(self) -> int:
        """The request size the hub's default API root announces (TAXII discovery)."""
        discovery_url = f"{self.url}/taxii2/"
        discovery = self._json("GET", discovery_url, headers={"Accept": TAXII_21})
        root = discovery.get("default")
        if not isinstance(root, str) or not root:
            raise PushError("the hub's TAXII discovery names no default API root")
        info = self._json("GET", urljoin(discovery_url, root), headers={"Accept": TAXII_21})
        limit = info.get("max_content_length")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1024:
            raise PushError("the hub's API root announces no usable max_content_length")
        return limit

    def submit(self, body: bytes, content_type: str, collection: str) -> dict[str, Any]:
        """POST one batch; the hub's answer (id, state, status resource).

        The Idempotency-Key is derived from the batch itself, so a batch re-sent because its
        answer was lost (or on resume) names the submission the hub already has, instead of
        making a second one: CSV rows, stamped with the time the hub receives them, would
        otherwise become new versions.
        """
        key = "hub-push-" + hashlib.sha256(body).hexdigest()[:48]
        answer = self._json(
            "POST",
            f"{self.url}/api/v1/submissions",
            params={"collection": collection},
            data=body,
            headers={
                "Content-Type": content_type,
                "Accept": "application/json",
                "Idempotency-Key": key,
            },
        )
        if not isinstance(answer.get("id"), str):
            raise PushError("the hub accepted a batch but named no submission id")
        return answer

    def status(self, submission_id: str) -> dict[str, Any]:
        """The status resource of one of our submissions, as it stands now."""
        answer = self._json(
            "GET",
            f"{self.url}/api/v1/submissions/{submission_id}",
            headers={"Accept": "application/json"},
        )
        status = answer.get("status")
        if not isinstance(status, dict):
            raise PushError(f"the hub's answer for submission {submission_id} has no status")
        return status

    def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, url, **kwargs)
        if not response.ok:
            raise PushError(_refusal(response))
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            path = urlsplit(url).path
            raise PushError(f"the hub answered {method} {path} with something other than JSON")
        return body

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request, repeated with backoff while the failure is transient."""
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason, delay = f"cannot reach the hub: {_cause(exc)}", _backoff(attempt)
            else:
                if response.status_code not in TRANSIENT_STATUSES:
                    return response
                reason = _refusal(response)
                delay = _retry_after(response) or _backoff(attempt)
            if attempt >= self.retries:
                raise PushError(f"{reason} (tried {attempt + 1} times)")
            self.notify(f"{reason}; trying again in {delay:.1f}s")
            _sleep(delay)
            attempt += 1


def _refusal(response: requests.Response) -> str:
    """One line from an error answer: its status and the problem's `detail` (or TAXII's
    `description`)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = None
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("description") or body.get("title")
    if response.status_code == 401:
        head = "the hub refused the key (401)"
    else:
        head = f"the hub answered {response.status_code} {response.reason or ''}".rstrip()
    return f"{head}: {detail}" if isinstance(detail, str) and detail else head


def _cause(exc: Exception) -> str:
    """The useful end of a requests connection error (`[Errno 111] Connection refused`)."""
    match = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
    if match:
        return match.group().strip()
    return "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__


def _backoff(attempt: int) -> float:
    return float(min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


def _retry_after(response: requests.Response) -> float | None:
    """The answer's Retry-After (seconds or an HTTP date), bounded."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


# --- a push --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushOptions:
    """What the `hub push` command was asked to do."""

    source: str  # a path, or "-" for stdin
    url: str
    key: str = field(repr=False)
    collection: str = "inbox"
    fmt: str | None = None
    tlp: str | None = None
    state_file: str | None = None
    batch_objects: int = 10_000
    wait: bool = False
    wait_timeout: float = 600.0
    retries: int = 5
    progress: bool = False


@dataclass
class BatchResult:
    index: int
    items: int
    size: int
    submission_id: str | None = None
    sent: str = "no"  # "now", "before" (by an earlier run) or "no"
    status: dict[str, Any] | None = None


@dataclass
class Report:
    """What a push did: the summary printed, the document --json prints, the exit code."""

    source: str
    url: str
    collection: str
    fmt: str
    max_bytes: int
    max_items: int
    items: int
    batches: list[BatchResult]
    skipped: list[Skipped]
    state_file: str | None
    failures: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        return all(b.submission_id for b in self.batches)

    @property
    def exit_code(self) -> int:
        """0 all sent; 1 stopped (run again to resume); 3 all sent but some objects skipped;
        130 interrupted."""
        if self.interrupted:
            return 130
        if self.error or not self.complete:
            return 1
        return 3 if self.skipped else 0

    def totals(self) -> dict[str, int]:
        known = [b.status for b in self.batches if b.status]
        counts = {key: sum(int(s.get(key) or 0) for s in known) for key in _COUNTS}
        return {
            "items": self.items,
            "batches": len(self.batches),
            "accepted": sum(1 for b in self.batches if b.submission_id),
            "accepted_before": sum(1 for b in self.batches if b.sent == "before"),
            "skipped": len(self.skipped),
            "batches_with_status": len(known),
            **counts,
        }

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(complete=self.complete, exit_code=self.exit_code, totals=self.totals())
        return data

    def problems(self) -> list[str]:
        """The lines for stderr: every skipped object and why the push stopped."""
        lines = [
            f"{s.ref} alone makes a {s.size}-byte request, over the hub's limit of "
            f"{self.max_bytes}: skipped"
            for s in self.skipped
        ]
        return [*lines, self.error] if self.error else lines

    def summary(self) -> str:
        noun, totals = _NOUNS[self.fmt], self.totals()
        if self.complete:
            before = totals["accepted_before"]
            head = (
                f"pushed {self.items - len(self.skipped)} {noun} in {len(self.batches)} batches "
                f"to {self.collection} at {self.url}"
            )
            lines = [head + (f" ({before} of them accepted before)" if before else "")]
        else:
            how = "run the same command again to resume" if self.state_file else "no state file"
            lines = [f"stopped after {totals['accepted']} of {len(self.batches)} batches; {how}"]
        if totals["batches_with_status"]:
            lines.append(
                f"hub status: {totals['success_count']} succeeded, {totals['failure_count']} "
                f"failed, {totals['pending_count']} pending"
                + ("" if totals["batches_with_status"] == totals["accepted"] else " (so far known)")
            )
        lines += [f"  failed: {f['id']}: {f['message']}" for f in self.failures]
        if self.skipped:
            lines.append(f"{noun} skipped as too large for one request: {len(self.skipped)}")
        return "\n".join(lines)


def push(options: PushOptions, notify: Callable[[str], None]) -> Report:
    """Send the input in batches, skipping those an earlier run got accepted; stop at the first
    refusal. Raises PushError (nothing sent) for a bad input, key or hub."""
    url = _check_url(options.url, notify)
    credentials = Credentials.parse(options.key)
    raw = _read_input(options.source)
    fmt = detect_format(options.source, raw, options.fmt)
    check_tlp(fmt, options.tlp)
    client = HubClient(url, credentials, retries=options.retries, notify=notify)
    limit = client.max_content_length()
    headroom = max(256, limit // 100)  # for a proxy in front of the hub that counts differently
    fresh = PlanParams(fmt, limit - headroom, options.batch_objects, options.tlp)
    state_path = _state_path(options)
    target = {
        "input_sha256": hashlib.sha256(raw).hexdigest(),
        "url": url,
        "collection": options.collection,
    }
    params, accepted, notice = resume_point(read_state(state_path, notify), target, fresh)
    if notice:
        notify(notice)
    plan = make_plan(raw, params)
    if any(index >= len(plan.batches) for index in accepted):
        notify("the state file does not match the batch plan; starting over")
        accepted = {}
    state = PushState(state_path, target, params, len(plan.batches), accepted)
    state.save()  # fail now, not after the first batch, if it cannot be written
    report = _new_report(options, url, plan, accepted, state_path)
    _send_all(client, plan, state, report, options, notify)
    if report.complete and not report.interrupted:
        if options.wait:
            _wait(client, plan, report, options.wait_timeout, notify)
        if not (report.error or report.interrupted):
            state.discard()
    report.failures = _first_failures(report)
    return report


def _check_url(url: str, notify: Callable[[str], None]) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("--url must be the hub's http:// or https:// address")
    if parts.username or parts.password:
        raise InputError("give the key with --key or $HUB_PUSH_KEY, not in the URL")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        notify("warning: over http:// the API key travels unencrypted; use https://")
    return url


def _read_input(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from None


def _state_path(options: PushOptions) -> Path | None:
    if options.state_file:
        return Path(options.state_file)
    return None if options.source == "-" else Path(options.source + STATE_SUFFIX)


def _new_report(
    options: PushOptions, url: str, plan: Plan, accepted: dict[int, str], state: Path | None
) -> Report:
    results = [BatchResult(b.index, b.items, len(b.body)) for b in plan.batches]
    for result in results:
        if result.index in accepted:
            result.submission_id, result.sent = accepted[result.index], "before"
    return Report(
        source=options.source,
        url=url,
        collection=options.collection,
        fmt=plan.params.fmt,
        max_bytes=plan.params.max_bytes,
        max_items=plan.params.max_items,
        items=plan.items,
        batches=results,
        skipped=plan.skipped,
        state_file=str(state) if state else None,
    )


def _send_all(
    client: HubClient,
    plan: Plan,
    state: PushState,
    report: Report,
    options: PushOptions,
    notify: Callable[[str], None],
) -> None:
    """POST every batch not accepted before, recording each acceptance as it comes."""
    content_type, noun = _CONTENT_TYPES[plan.params.fmt], _NOUNS[plan.params.fmt]
    with _progress(plan.items, options.progress) as advance:
        done = sum(b.items for b in plan.batches if b.index in state.accepted)
        advance(done + len(plan.skipped))
        try:
            for batch, result in zip(plan.batches, report.batches, strict=True):
                if batch.index in state.accepted:
                    continue
                answer = client.submit(batch.body, content_type, options.collection)
                result.submission_id, result.sent = answer["id"], "now"
                status = answer.get("status")
                result.status = compact_status(status, batch) if isinstance(status, dict) else None
                state.record(batch.index, answer["id"])
                advance(batch.items)
                if not options.progress:
                    notify(
                        f"batch {batch.index + 1}/{len(plan.batches)}: {batch.items} {noun} "
                        f"accepted (submission {answer['id']})"
                    )
        except PushError as exc:
            report.error = str(exc)
        except KeyboardInterrupt:
            report.interrupted, report.error = True, "interrupted"


def _wait(
    client: HubClient, plan: Plan, report: Report, timeout: float, notify: Callable[[str], None]
) -> None:
    """Poll each submission until the hub has processed all of it, or the time is up."""
    deadline = time.monotonic() + timeout
    try:
        for batch, result in zip(plan.batches, report.batches, strict=True):
            delay = 0.2
            while result.status is None or result.status.get("status") != "complete":
                if result.status is not None:
                    if time.monotonic() >= deadline:
                        notify(f"still pending after {timeout:g}s: the totals are not final")
                        return
                    _sleep(delay)
                    delay = min(delay * 1.5, 3.0)
                status = client.status(str(result.submission_id))
                result.status = compact_status(status, batch)
    except PushError as exc:
        report.error = f"while waiting for the hub: {exc}"
    except KeyboardInterrupt:
        report.interrupted, report.error = True, "interrupted while waiting"


def compact_status(status: dict[str, Any], batch: Batch) -> dict[str, Any]:
    """A status resource without its success and pending lists, its failures naming CSV and
    text lines as in the input."""
    kept = {k: status.get(k) for k in ("id", "status", *_COUNTS)}
    failures = status.get("failures")
    kept["failures"] = [
        {**failure, "id": batch.input_ref(str(failure.get("id", "")))}
        for failure in (failures if isinstance(failures, list) else [])
        if isinstance(failure, dict)
    ]
    return kept


def _first_failures(report: Report) -> list[dict[str, str]]:
    """The first failures the hub reported, in input order."""
    found = [
        {k: str(v) for k, v in failure.items()}
        for result in report.batches
        for failure in (result.status or {}).get("failures", [])
    ]
    return found[:FAILURES_SHOWN]


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr over objects or rows, or nothing."""
    if not enabled:
        yield lambda _steps: None
        return
    with click.progressbar(length=total, label="pushing", file=sys.stderr, show_pos=True) as bar:
        yield bar.update
