"""Where a connector delivers batches: the hub's REST API, or a TAXII 2.1 collection.

The hub (taxii-pull, directory): `POST /api/v1/submissions` with an `Idempotency-Key` derived
from the batch, so a batch sent again after a crash (its answer lost) names the submission the
hub already has instead of making a second. A downstream TAXII server (taxii-push) has no such
key, so before sending a batch again we read the collection's manifest and send only the
versions it does not hold yet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import requests

from connectors.credentials import HubKey
from connectors.remote import USER_AGENT, TaxiiCollection, TimeoutAdapter, version_of
from connectors.retry import ConnectorError, classify, from_response
from connectors.state import Staged

TAXII_21 = "application/taxii+json;version=2.1"


@dataclass
class Outcome:
    """What the target said of a delivered batch."""

    submitted: int
    succeeded: int = 0
    failed: int = 0
    follow_up: str | None = None  # a status id to check again: not finished when answered
    failures: list[dict[str, Any]] = field(default_factory=list)
    reference: str | None = None  # the submission or status id, for logs


class Target(Protocol):
    description: str

    def limits(self) -> tuple[int, int]:
        """(bytes, objects) one request may carry."""

    def deliver(self, batch: Staged, *, again: bool) -> Outcome:
        """Send a batch (`again`: it may have arrived before)."""

    def follow(self, status_id: str) -> Outcome | None:
        """The final outcome of an earlier delivery, or None while it is still pending."""

    def close(self) -> None:
        """Close its connections."""


def _counts(status: Any) -> tuple[int, int, int, list[dict[str, Any]]]:
    """(successes, failures, pending, failure details) of a status resource (dict or Status)."""
    get = status.get if isinstance(status, dict) else lambda k, d=None: getattr(status, k, d)
    failures = get("failures") or []
    return (
        int(get("success_count") or 0),
        int(get("failure_count") or 0),
        int(get("pending_count") or 0),
        [f for f in failures if isinstance(f, dict)],
    )


class HubTarget:
    """The hub's member REST API, as the connector's member (write key)."""

    def __init__(
        self, hub_url: str, key: HubKey, connector: str, collection: str, timeout: float
    ) -> None:
        self.url = hub_url.rstrip("/")
        self.connector = connector
        self.collection = collection
        self.description = f"the hub's {collection} collection"
        self.session = requests.Session()
        self.session.auth = key.auth()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = TimeoutAdapter(timeout)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.taxii = TaxiiCollection(
            f"{self.url}/taxii2/", collection, auth=key.auth(), timeout=timeout
        )

    def limits(self) -> tuple[int, int]:
        limit = self.taxii.max_content_length
        return limit - max(256, limit // 100), 0  # headroom for a proxy that counts otherwise

    def idempotency_key(self, batch: Staged) -> str:
        return f"connector:{self.connector}:{hashlib.sha256(batch.body).hexdigest()[:48]}"

    def deliver(self, batch: Staged, *, again: bool) -> Outcome:
        params = {"collection": self.collection, **batch.params}
        response = self.session.post(
            f"{self.url}/api/v1/submissions",
            params=params,
            data=batch.body,
            headers={
                "Content-Type": batch.content_type,
                "Accept": "application/json",
                "Idempotency-Key": self.idempotency_key(batch),
            },
        )
        if not response.ok:
            raise from_response(response, f"POST {self.description}")
        answer = _json(response, "the hub's answer to a submission")
        submission_id = answer.get("id")
        status = answer.get("status")
        if not isinstance(submission_id, str) or not isinstance(status, dict):
            raise ConnectorError("the hub accepted a batch but named no submission and status")
        return self._outcome(batch.items, submission_id, status)

    def _outcome(self, items: int, submission_id: str, status: dict[str, Any]) -> Outcome:
        succeeded, failed, pending, failures = _counts(status)
        return Outcome(
            submitted=items,
            succeeded=succeeded,
            failed=failed,
            follow_up=submission_id if pending else None,
            failures=failures,
            reference=submission_id,
        )

    def follow(self, status_id: str) -> Outcome | None:
        try:
            response = self.session.get(
                f"{self.url}/api/v1/submissions/{status_id}", headers={"Accept": "application/json"}
            )
        except requests.RequestException as exc:
            raise classify(exc, "GET a submission's status from the hub") from None
        if not response.ok:
            raise from_response(response, "GET a submission's status from the hub")
        status = _json(response, "the hub's submission").get("status")
        if not isinstance(status, dict) or status.get("status") != "complete":
            return None
        return self._outcome(0, status_id, status)

    def close(self) -> None:
        self.session.close()
        self.taxii.close()


class TaxiiTarget:
    """A collection on a downstream TAXII 2.1 server (taxii-push)."""

    def __init__(self, remote: TaxiiCollection) -> None:
        self.remote = remote
        self.description = f"{remote.url} collection {remote.ref!r}"

    def limits(self) -> tuple[int, int]:
        limit = self.remote.max_content_length
        return limit - max(256, limit // 100), 0

    def deliver(self, batch: Staged, *, again: bool) -> Outcome:
        body = batch.body
        items = batch.items
        if again and batch.versions:
            # An earlier attempt may have arrived (its answer lost): what the collection now
            # holds counts as delivered, and only the rest is sent.
            body, items = self._missing(batch)
            if not items:
                return Outcome(batch.items, batch.items, reference="already there")
        status = self.remote.add(body)
        succeeded, failed, pending, failures = _counts(status)
        return Outcome(
            submitted=batch.items,
            succeeded=succeeded + batch.items - items,
            failed=failed,
            follow_up=status.id if pending else None,
            failures=failures,
            reference=status.id,
        )

    def _missing(self, batch: Staged) -> tuple[bytes, int]:
        """The envelope of the versions in `batch` the collection does not hold yet."""
        if not self.remote.collection.can_read:
            return batch.body, batch.items  # cannot look: at least once is the best we can do
        present = self.remote.present(batch.versions)
        envelope = orjson.loads(batch.body)
        kept = [
            obj
            for obj in envelope.get("objects", [])
            if version_of(obj) not in present and (version_of(obj)[0], "-") not in present
        ]
        return orjson.dumps({"objects": kept}), len(kept)

    def follow(self, status_id: str) -> Outcome | None:
        status = self.remote.status(status_id)
        if status.status != "complete":
            return None
        succeeded, failed, _, failures = _counts(status)
        return Outcome(submitted=0, succeeded=succeeded, failed=failed, failures=failures)

    def close(self) -> None:
        self.remote.close()


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ConnectorError(f"{what} is not a JSON object")
    return body
