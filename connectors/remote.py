"""A TAXII 2.1 collection on another server, reached with taxii2-client.

taxii2-client does the TAXII work (discovery, API root, collections, envelopes, status). Around
it we add what a long-running client needs: a timeout on every request (taxii2-client sets
none), the `X-TAXII-Date-Added-Last` header of each page (taxii2-client returns only the body;
a session response hook keeps the headers), and the lookup of a collection by id, alias or
title.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests
import requests.adapters
import requests.auth
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import ValidationError
from taxii2client.v21 import ApiRoot, Collection, Server, Status

from connectors.retry import ConnectorError
from hub.stix.timestamps import TimestampError, format_us, parse_us

USER_AGENT = "sharing-hub-connector/1"
MANIFEST_IDS_PER_QUERY = 50  # ids per match[id] filter, keeping the URL short


class TimeoutAdapter(requests.adapters.HTTPAdapter):
    """Gives every request a timeout unless the caller set one."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


@dataclass(frozen=True)
class Page:
    """One page of a collection's objects."""

    objects: list[Any]
    more: bool
    next: str | None
    date_added_last: str | None  # the server's X-TAXII-Date-Added-Last, when it sends one


def connection(
    auth: requests.auth.AuthBase | None, verify: bool | str, timeout: float
) -> _HTTPConnection:
    """A taxii2-client connection with a timeout on every request."""
    conn = _HTTPConnection(verify=verify, auth=auth, version="2.1", user_agent=USER_AGENT)
    adapter = TimeoutAdapter(timeout)
    conn.session.mount("http://", adapter)
    conn.session.mount("https://", adapter)
    return conn


def version_of(obj: Any) -> tuple[str, str]:
    """(id, version) of an object: its `modified`, else `created`, as microseconds (so that
    `…48Z` and `…48.000Z` are one version); "-" for an object with neither."""
    if not isinstance(obj, dict):
        return ("", "")
    object_id = obj.get("id")
    stamp = obj.get("modified", obj.get("created"))
    try:
        version = str(parse_us(stamp)) if stamp is not None else "-"
    except TimestampError:
        version = str(stamp)
    return (object_id if isinstance(object_id, str) else "", version)


class TaxiiCollection:
    """One collection of a TAXII 2.1 API root, as taxii2-client reaches it."""

    def __init__(
        self,
        url: str,
        collection: str,
        *,
        auth: requests.auth.AuthBase | None,
        verify: bool | str = True,
        timeout: float = 60.0,
    ) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.ref = collection
        self.conn = connection(auth, verify, timeout)
        self._headers: requests.structures.CaseInsensitiveDict[str] | None = None
        self.conn.session.hooks["response"].append(self._keep_headers)
        self._api_root: ApiRoot | None = None
        self._collection: Collection | None = None

    def _keep_headers(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._headers = response.headers

    def close(self) -> None:
        self.conn.close()

    @property
    def api_root(self) -> ApiRoot:
        """The API root at `url`, or the default one of the discovery resource at `url`."""
        if self._api_root is None:
            root = ApiRoot(self.url, conn=self.conn)
            try:
                root.refresh_information()
            except ValidationError:
                # A discovery URL: its default API root, on our connection (taxii2-client
                # would open the API roots it lists with new, timeout-less connections).
                server = Server(self.url, conn=self.conn)
                default = server.default or (server.api_roots[0] if server.api_roots else None)
                if default is None:
                    raise ConnectorError(f"{self.url} is not a TAXII 2.1 API root") from None
                root = ApiRoot(default.url, conn=self.conn)
                root.refresh_information()
            self._api_root = root
        return self._api_root

    @property
    def collection(self) -> Collection:
        """The collection named by id, else alias, else title."""
        if self._collection is None:
            found = self.api_root.collections
            for attribute in ("id", "alias", "title"):
                matches = [c for c in found if getattr(c, attribute, None) == self.ref]
                if len(matches) == 1:
                    self._collection = matches[0]
                    break
            else:
                names = ", ".join(f"{c.alias or c.title} ({c.id})" for c in found) or "none"
                raise ConnectorError(
                    f"{self.api_root.url} has no collection {self.ref!r} that these "
                    f"credentials can see; it offers: {names}"
                )
        return self._collection

    @property
    def max_content_length(self) -> int:
        value = self.api_root.max_content_length
        if not isinstance(value, int) or value < 1:
            raise ConnectorError(f"{self.api_root.url} announces no usable max_content_length")
        return value

    def page(
        self, *, added_after: str | None, next_token: str | None, limit: int, types: Iterable[str]
    ) -> Page:
        """One page of objects added after `added_after` (following `next_token`)."""
        self._headers = None
        filters: dict[str, Any] = {"limit": limit}
        if added_after:
            filters["added_after"] = added_after
        if next_token:
            filters["next"] = next_token
        if types:
            filters["type"] = list(types)
        envelope = self.collection.get_objects(**filters)
        if not isinstance(envelope, dict):
            raise ConnectorError(f"{self.collection.url} answered a page that is not an envelope")
        objects = envelope.get("objects") or []
        if not isinstance(objects, list):
            raise ConnectorError(f"{self.collection.url} answered objects that are not a list")
        last = self._headers.get("X-TAXII-Date-Added-Last") if self._headers else None
        token = envelope.get("next")
        return Page(
            objects=objects,
            more=bool(envelope.get("more")) and isinstance(token, str) and bool(token),
            next=token if isinstance(token, str) and token else None,
            date_added_last=_normal_timestamp(last),
        )

    def add(self, body: bytes) -> Status:
        """POST an envelope; the status resource as the server answered it."""
        return self.collection.add_objects(body, wait_for_completion=False)

    def status(self, status_id: str) -> Status:
        return self.api_root.get_status(status_id)

    def present(self, versions: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of `versions` the collection holds already (read from its manifest)."""
        wanted = set(versions)
        ids = sorted({object_id for object_id, _ in versions})
        found: set[tuple[str, str]] = set()
        for start in range(0, len(ids), MANIFEST_IDS_PER_QUERY):
            chunk = ids[start : start + MANIFEST_IDS_PER_QUERY]
            token: str | None = None
            while True:
                filters: dict[str, Any] = {"id": chunk, "version": "all"}
                if token:
                    filters["next"] = token
                manifest = self.collection.get_manifest(**filters)
                for record in manifest.get("objects") or []:
                    object_id = record.get("id")
                    version = record.get("version")
                    key = version_of({"id": object_id, "modified": version})
                    found.add(key)
                    found.add((str(object_id), "-"))  # an unversioned object: its id is enough
                token = manifest.get("next")
                if not (manifest.get("more") and token):
                    break
        return found & wanted


def _normal_timestamp(value: str | None) -> str | None:
    """A header timestamp as a STIX timestamp with microseconds, or None if unreadable."""
    if not value:
        return None
    try:
        return format_us(parse_us(value.strip()))
    except TimestampError:
        return None


def later(a: str | None, b: str | None) -> str | None:
    """The later of two STIX timestamps (either may be None)."""
    if a is None or b is None:
        return a or b
    return a if parse_us(a) >= parse_us(b) else b


def just_before(stamp: str) -> str:
    """The instant one microsecond before `stamp`: `added_after` it includes `stamp` again."""
    return format_us(parse_us(stamp) - 1)
