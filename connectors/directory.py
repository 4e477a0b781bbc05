"""A watched folder: STIX bundles, CSV and plain-text indicator lists, MISP events and feeds.

In the folder (not below it):

- `*.json`: a STIX 2.1 bundle or TAXII envelope, or one MISP event (`{"Event": {...}}`);
- `*.csv`, `*.txt`: indicator lists, in the hub's CSV and plain-text formats;
- a sub-folder holding a `manifest.json`: a MISP feed (and the folder itself, if it holds one).

Names starting with `.` or ending in `.part`, `.tmp` or `~` are left alone (write a file under
such a name and rename it when complete); so is a file that changes while it is read. A file is
imported once per content (its SHA-256): an unchanged file is not sent again, a changed one is
imported again. One that cannot be read as its kind is recorded as failed with the reason, left
where it is, and tried again only once its content changes. With `archive_dir`, imported files
are moved there.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from connectors import misp
from connectors.engine import Engine
from connectors.remote import version_of
from connectors.retry import ConnectorError
from connectors.state import Batch
from hub.push import InputError, PlanParams, detect_format, make_plan

SUFFIXES = {".json": "json", ".csv": "csv", ".txt": "text"}
_CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "text": "text/plain; charset=utf-8"}
_IGNORED_ENDINGS = (".part", ".tmp", "~")


class SourceError(ValueError):
    """A file or event that cannot be imported; the message says why."""


class DirectorySource:
    def __init__(self, folder: Path, *, archive: Path | None, tlp: str | None) -> None:
        self.folder = folder
        self.archive = archive
        self.tlp = tlp
        self.description = f"folder {folder}"

    def close(self) -> None:
        """Nothing to close: the folder is read file by file."""

    def collect(self, engine: Engine) -> None:
        if not self.folder.is_dir():
            raise ConnectorError(f"the folder {self.folder} does not exist")
        if (self.folder / misp.MANIFEST).is_file():
            self._feed(engine, self.folder)
            return
        for entry in self._entries():
            if entry.is_dir():
                if (entry / misp.MANIFEST).is_file():
                    self._feed(engine, entry)
            elif entry.suffix.lower() in SUFFIXES:
                self._file(engine, entry)

    def _entries(self) -> Iterator[Path]:
        for entry in sorted(self.folder.iterdir()):
            if entry.name.startswith(".") or entry.name.endswith(_IGNORED_ENDINGS):
                continue
            if self.archive is not None and entry.resolve() == self.archive.resolve():
                continue
            yield entry

    # --- one file ---------------------------------------------------------------------------

    def _file(self, engine: Engine, path: Path) -> None:
        name = f"file:{path.name}"
        before = path.stat()
        quick = f"{before.st_size}:{before.st_mtime_ns}"
        record = engine.state.item(name)
        if record is not None and record["fingerprint"].endswith(f" {quick}"):
            self._archive(engine, path, record["state"])
            return
        raw = path.read_bytes()
        after = path.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            engine.event(logging.INFO, "file_changing", f"{path.name} is being written; later")
            return
        digest = hashlib.sha256(raw).hexdigest()
        fingerprint = f"{digest} {quick}"
        if record is not None and record["fingerprint"].split(" ")[0] == digest:
            with engine.state.transaction():  # touched, not changed
                engine.state.set_item(name, fingerprint, record["state"], record["error"])
            self._archive(engine, path, record["state"])
            return
        try:
            batches, fetched, too_large = self._batches(engine, path, raw)
        except SourceError as exc:
            self._failed(engine, name, fingerprint, f"{path.name}: {exc}")
            return
        self._stage(engine, name, fingerprint, f"file {path.name}", batches, fetched, too_large)
        self._archive(engine, path, "done")

    def _batches(
        self, engine: Engine, path: Path, raw: bytes
    ) -> tuple[list[Batch], int, list[tuple[Any, int]]]:
        fmt = detect_format(str(path), raw, SUFFIXES.get(path.suffix.lower()))
        source = f"file {path.name}"
        if fmt == "json":
            objects = self._json_objects(raw)
            fresh, skipped = self._fresh(engine, objects)
            batches, too_large = engine.object_batches(source, fresh, self.tlp)
            with engine.state.transaction():
                engine.state.count(skipped=skipped)
            return batches, len(objects), too_large
        max_bytes, max_items = engine.limits
        try:
            plan = make_plan(raw, PlanParams(fmt, max_bytes, max_items, None))
        except InputError as exc:
            raise SourceError(str(exc)) from None
        params = {"tlp": self.tlp} if self.tlp else {}
        batches = [
            Batch(
                source=f"{source} #{b.index + 1}",
                content_type=_CONTENT_TYPES[fmt],
                body=b.body,
                items=b.items,
                params=params,
                versions=[],
            )
            for b in plan.batches
        ]
        return batches, plan.items, [({"id": s.ref}, s.size) for s in plan.skipped]

    def _json_objects(self, raw: bytes) -> list[Any]:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"not valid JSON: {exc}") from None
        if isinstance(document, dict) and isinstance(document.get("Event"), dict):
            try:
                return misp.event_objects(raw, self.tlp)
            except misp.MispError as exc:
                raise SourceError(f"MISP event: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("objects"), list):
            raise SourceError(
                "neither a STIX bundle or TAXII envelope (an object with 'objects') "
                "nor a MISP event (an object with 'Event')"
            )
        objects: list[Any] = document["objects"]
        return objects

    # --- a MISP feed ------------------------------------------------------------------------

    def _feed(self, engine: Engine, folder: Path) -> None:
        label = "." if folder == self.folder else folder.name
        try:
            events = misp.read_manifest((folder / misp.MANIFEST).read_bytes())
        except misp.MispError as exc:
            self._failed(engine, f"misp:{label}", "-", f"MISP feed {label}: {exc}")
            return
        for uuid, timestamp in sorted(events.items(), key=lambda e: (e[1], e[0])):
            name = f"misp:{label}/{uuid}"
            record = engine.state.item(name)
            if record is not None and record["fingerprint"] == timestamp:
                continue
            path = folder / f"{uuid}.json"
            if not path.is_file():
                engine.event(
                    logging.WARNING,
                    "event_missing",
                    f"MISP feed {label}: event {uuid} is in the manifest but {path.name} is not "
                    "there yet; trying again next run",
                )
                continue
            source = f"MISP event {uuid}"
            try:
                objects = misp.event_objects(path.read_bytes(), self.tlp)
            except misp.MispError as exc:
                self._failed(engine, name, timestamp, f"{source} ({label}): {exc}")
                continue
            fresh, skipped = self._fresh(engine, objects)
            batches, too_large = engine.object_batches(source, fresh, None)
            with engine.state.transaction():
                engine.state.count(skipped=skipped)
            self._stage(engine, name, timestamp, source, batches, len(objects), too_large)

    # --- shared -----------------------------------------------------------------------------

    def _fresh(self, engine: Engine, objects: list[Any]) -> tuple[list[Any], int]:
        """The objects whose version was not delivered before, and how many were."""
        known = engine.state.known(version_of(o) for o in objects)
        fresh = [o for o in objects if not (version_of(o)[0] and version_of(o) in known)]
        return fresh, len(objects) - len(fresh)

    def _stage(
        self,
        engine: Engine,
        name: str,
        fingerprint: str,
        source: str,
        batches: list[Batch],
        fetched: int,
        too_large: list[tuple[Any, int]],
    ) -> None:
        with engine.state.transaction():
            engine.state.stage(batches)
            failed = engine.reject_too_large(source, too_large)
            engine.state.set_item(name, fingerprint, "done")
            engine.state.count(fetched=fetched, failed=failed)
        engine.event(
            logging.INFO,
            "item_read",
            f"{source}: {fetched} objects read, {len(batches)} batches staged",
            fetched=fetched,
        )
        engine.flush()

    def _failed(self, engine: Engine, name: str, fingerprint: str, error: str) -> None:
        with engine.state.transaction():
            engine.state.set_item(name, fingerprint, "failed", error)
            engine.state.count(failed=1)
        engine.event(logging.ERROR, "item_failed", f"{error}; left in place, not imported")

    def _archive(self, engine: Engine, path: Path, state: str) -> None:
        """Move an imported file (all of it delivered) to archive_dir, when there is one."""
        if self.archive is None or state != "done" or engine.state.outbox_size()[0]:
            return
        self.archive.mkdir(parents=True, exist_ok=True)
        target = self.archive / path.name
        number = 1
        while target.exists():
            target = self.archive / f"{path.stem}.{number}{path.suffix}"
            number += 1
        shutil.move(path, target)
        engine.event(logging.INFO, "file_archived", f"{path.name} moved to {target}")
