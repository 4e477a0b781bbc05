"""Telling transient failures from lasting ones, and waiting between attempts with jitter.

Transient: the network (refused, reset, timed out), 408, 425, 429 and 5xx answers. A 429 or 503
with `Retry-After` is waited out as asked (within the cap). Anything else (401, 403, 404, a
malformed answer) will not go away by asking again and ends the run with its reason.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import requests
from taxii2client.exceptions import TAXIIServiceException

T = TypeVar("T")
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
BASE_DELAY = 1.0


class ConnectorError(Exception):
    """A reason a run stopped, worded for the operator in one line."""


class Rejected(ConnectorError):
    """The remote refused a request for what it carries (400, 413, 422): retrying cannot help."""


class TransientError(ConnectorError):
    """A failure that may pass: the network, 429 or 5xx."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def sleep(seconds: float) -> None:
    """Wait between attempts (a seam: tests record the delays instead of waiting)."""
    time.sleep(seconds)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: attempt n waits between d/2 and d, where
    d = min(cap, base * 2**n), so many connectors failing together do not retry in step."""

    cap: float
    base: float = BASE_DELAY
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        ceiling = min(self.cap, self.base * 2 ** min(attempt, 30))
        return float(ceiling / 2 + self.rng() * ceiling / 2)


def classify(exc: BaseException, what: str) -> ConnectorError:
    """The ConnectorError for an exception raised while doing `what` (e.g. 'GET upstream')."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return from_response(exc.response, what)
    if isinstance(exc, requests.Timeout):
        return TransientError(f"{what}: timed out")
    if isinstance(exc, requests.ConnectionError):
        return TransientError(f"{what}: cannot connect: {_cause(exc)}")
    if isinstance(exc, TAXIIServiceException):
        return ConnectorError(f"{what}: {exc}".splitlines()[0])
    if isinstance(exc, ValueError):  # a body that is not JSON, a malformed resource
        return ConnectorError(f"{what}: the answer cannot be read: {exc}")
    raise exc


def from_response(response: requests.Response, what: str) -> ConnectorError:
    """The ConnectorError for an HTTP error answer."""
    status = response.status_code
    message = f"{what}: {status} {response.reason or ''}".rstrip()
    detail = _detail(response)
    if detail:
        message = f"{message}: {detail}"
    if status in TRANSIENT_STATUSES:
        return TransientError(message, retry_after(response))
    if status in (400, 409, 413, 422):
        return Rejected(message)
    if status == 401:
        return ConnectorError(f"{message} (the credentials were refused)")
    return ConnectorError(message)


def with_retries(
    call: Callable[[], T],
    *,
    what: str,
    attempts: int,
    backoff: Backoff,
    notify: Callable[[str, float, int], None],
) -> T:
    """`call()`, repeated while it fails transiently, `attempts` extra times at most."""
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            error = classify(exc, what)
            if not isinstance(error, TransientError) or attempt >= attempts:
                raise error from None
            delay = backoff.delay(attempt, error.retry_after)
            notify(str(error), delay, attempt + 1)
            sleep(delay)
            attempt += 1


def retry_after(response: requests.Response) -> float | None:
    """The answer's Retry-After in seconds (it may be a number or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _detail(response: requests.Response) -> str:
    """The error's own words: a problem's `detail`, a TAXII error's `description`."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("detail", "description", "title"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:300]
    return ""


def _cause(exc: Exception) -> str:
    match = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))
    return match.group().strip() if match else type(exc).__name__
