"""The object-version store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import replace as dataclass_replace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.services import Hub, membership
from hub.services import collections as collection_service
from hub.stix.timestamps import format_us, parse_us
from hub.storage.objects import BodyPage, NewVersion, ObjectQuery, ObjectRepository
from tests.support.hubs import make_hub

T0 = parse_us("2026-01-01T00:00:00Z")
DAY = 86_400_000_000


def new_collection(hub: Hub) -> str:
    return collection_service.add_collection(
        hub, f"c-{uuid.uuid4().hex[:8]}", "test", readers=["*"], writers=["*"]
    ).id


def version(object_id: str, when_us: int | None, obj_type: str = "indicator") -> NewVersion:
    text = format_us(when_us) if when_us is not None else None
    body = orjson.dumps({"id": object_id, "type": obj_type, "modified": text}).decode()
    return NewVersion(object_id, obj_type, "2.1", when_us, text, body)


def add(hub: Hub, collection_id: str, *items: NewVersion, by: str | None = None) -> list[bool]:
    with hub.db.write() as conn:
        return [o.stored for o in ObjectRepository(conn).add(collection_id, list(items), by)]


def page(hub: Hub, collection_id: str, query: ObjectQuery, after: int = 0, limit: int = 1000):  # type: ignore[no-untyped-def]
    with hub.db.read() as conn:
        return ObjectRepository(conn).page(collection_id, query, after_seq=after, limit=limit)


ALL = ObjectQuery(versions=("all",))


def test_each_version_is_stored_once(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    a = "indicator--" + str(uuid.uuid4())
    assert add(any_hub, cid, version(a, T0), version(a, T0 + DAY)) == [True, True]
    assert add(any_hub, cid, version(a, T0), version(a, T0 + DAY), version(a, T0)) == [False] * 3
    rows = page(any_hub, cid, ALL).rows
    assert [r.version_us for r in rows] == [T0, T0 + DAY]


def test_duplicate_within_one_batch_is_stored_once(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    a = "indicator--" + str(uuid.uuid4())
    assert add(any_hub, cid, version(a, T0), version(a, T0)) == [True, False]


def test_unversioned_objects_are_stored_once(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    sco = "ipv4-addr--" + str(uuid.uuid4())
    assert add(any_hub, cid, version(sco, None, "ipv4-addr")) == [True]
    assert add(any_hub, cid, version(sco, None, "ipv4-addr")) == [False]
    (row,) = page(any_hub, cid, ALL).rows
    assert row.version_us == row.date_added_us  # the version of an unversioned object


def test_sequence_and_date_added_increase_strictly(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    for _ in range(3):
        add(any_hub, cid, *(version("indicator--" + str(uuid.uuid4()), T0) for _ in range(50)))
    rows = page(any_hub, cid, ALL).rows
    assert [r.seq for r in rows] == list(range(1, 151))
    added = [r.date_added_us for r in rows]
    assert all(b > a for a, b in itertools.pairwise(added))


def test_latest_and_first_follow_modified_not_arrival(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    a = "indicator--" + str(uuid.uuid4())
    add(any_hub, cid, version(a, T0 + DAY))
    add(any_hub, cid, version(a, T0 + 3 * DAY), version(a, T0))  # newest and oldest arrive late
    add(any_hub, cid, version(a, T0 + 2 * DAY))
    last = page(any_hub, cid, ObjectQuery(versions=("last",))).rows
    first = page(any_hub, cid, ObjectQuery(versions=("first",))).rows
    both = page(any_hub, cid, ObjectQuery(versions=("first", "last"))).rows
    exact = page(any_hub, cid, ObjectQuery(versions=(), version_us=(T0 + DAY,))).rows
    assert [r.version_us for r in last] == [T0 + 3 * DAY]
    assert [r.version_us for r in first] == [T0]
    assert sorted(r.version_us for r in both) == [T0, T0 + 3 * DAY]
    assert [r.version_us for r in exact] == [T0 + DAY]


def test_filters_on_type_id_spec_version_and_added_after(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    ids = ["indicator--" + str(uuid.uuid4()) for _ in range(4)]
    mal = "malware--" + str(uuid.uuid4())
    add(any_hub, cid, *(version(i, T0) for i in ids[:2]))
    add(any_hub, cid, version(mal, T0, "malware"), *(version(i, T0) for i in ids[2:]))
    by_type = page(any_hub, cid, ObjectQuery(types=("malware",))).rows
    assert [r.object_id for r in by_type] == [mal]
    by_id = page(any_hub, cid, ObjectQuery(ids=(ids[3], ids[0]))).rows
    assert [r.object_id for r in by_id] == [ids[0], ids[3]]
    assert page(any_hub, cid, ObjectQuery(spec_versions=("2.0",))).rows == []
    second_added = page(any_hub, cid, ALL).rows[1].date_added_us
    after = page(any_hub, cid, ObjectQuery(added_after_us=second_added)).rows
    assert [r.object_id for r in after] == [mal, ids[2], ids[3]]
    far_future = page(any_hub, cid, ObjectQuery(added_after_us=T0 + 10_000 * DAY))
    assert far_future.rows == []
    assert not far_future.more


def test_keyset_pages_cover_everything_once(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    ids = ["indicator--" + str(uuid.uuid4()) for _ in range(95)]
    add(any_hub, cid, *(version(i, T0) for i in ids))
    seen: list[str] = []
    after, more = 0, True
    while more:
        result = page(any_hub, cid, ObjectQuery(), after=after, limit=10)
        seen += [r.object_id for r in result.rows]
        after, more = result.rows[-1].seq, result.more
    assert seen == ids


def test_delete_of_the_latest_promotes_the_previous(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    member = membership.add_member(any_hub, "Deleter", "industry")
    a = "indicator--" + str(uuid.uuid4())
    add(any_hub, cid, version(a, T0), version(a, T0 + DAY), by=member.id)
    with any_hub.db.write() as conn:
        removed = ObjectRepository(conn).delete(
            cid, a, ObjectQuery(versions=(), version_us=(T0 + DAY,)), member.id
        )
    assert removed == 1
    last = page(any_hub, cid, ObjectQuery()).rows
    assert [r.version_us for r in last] == [T0]


def test_delete_only_touches_the_submitters_versions(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    one = membership.add_member(any_hub, "One", "industry")
    two = membership.add_member(any_hub, "Two", "industry")
    a = "indicator--" + str(uuid.uuid4())
    add(any_hub, cid, version(a, T0), by=one.id)
    add(any_hub, cid, version(a, T0 + DAY), by=two.id)
    with any_hub.db.write() as conn:
        assert ObjectRepository(conn).delete(cid, a, ALL, one.id) == 1
    assert [r.version_us for r in page(any_hub, cid, ALL).rows] == [T0 + DAY]


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """Adds and deletes of versions (day offsets) of three objects."""
    op = st.tuples(st.sampled_from(["add", "add", "delete"]), st.integers(0, 2), st.integers(0, 5))
    return draw(st.lists(op, min_size=1, max_size=25))


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One SQLite hub for every example of the property test (a new collection per example)."""
    hub = make_hub(tmp_path_factory.mktemp("prop") / "var")
    yield hub
    hub.close()


@settings(max_examples=40, deadline=None)
@given(ops=operations())
def test_latest_and_first_match_a_model(shared_hub: Hub, ops: list[tuple[str, int, int]]) -> None:
    hub = shared_hub
    cid = new_collection(hub)
    ids = ["indicator--" + str(uuid.uuid4()) for _ in range(3)]
    model: dict[str, set[int]] = {i: set() for i in ids}
    for action, which, day in ops:
        object_id, when = ids[which], T0 + day * DAY
        if action == "add":
            add(hub, cid, version(object_id, when))
            model[object_id].add(when)
        else:
            with hub.db.write() as conn:
                ObjectRepository(conn).delete(
                    cid, object_id, ObjectQuery(versions=(), version_us=(when,)), None
                )
            model[object_id].discard(when)
    last = {r.object_id: r.version_us for r in page(hub, cid, ObjectQuery()).rows}
    first = {
        r.object_id: r.version_us for r in page(hub, cid, ObjectQuery(versions=("first",))).rows
    }
    assert last == {i: max(v) for i, v in model.items() if v}
    assert first == {i: min(v) for i, v in model.items() if v}
    every = page(hub, cid, ALL).rows
    assert sorted((r.object_id, r.version_us) for r in every) == sorted(
        (i, v) for i, vs in model.items() for v in vs
    )


def bodies(hub: Hub, collection_id: str, query: ObjectQuery, **kwargs: Any) -> BodyPage:
    with hub.db.read() as conn:
        return ObjectRepository(conn).bodies(collection_id, query, **kwargs)


def test_bodies_come_back_as_the_stored_json_byte_for_byte(any_hub: Hub) -> None:
    cid = new_collection(any_hub)
    texts = [
        {"name": "Café \u00e9t\u00e9 \u2013 \u65e5\u672c \U0001f600"},
        {"pattern": "[file:name = 'C:\\\\temp\\\\x41.exe' AND x = '\\'q\\'']"},
        {"description": 'a "quoted" \\x41 \\u0041 \\n line'},
    ]
    items = []
    for extra in texts:
        object_id = "indicator--" + str(uuid.uuid4())
        body = orjson.dumps({"id": object_id, "type": "indicator", **extra}).decode()
        items.append(NewVersion(object_id, "indicator", "2.1", T0, format_us(T0), body))
    add(any_hub, cid, *items)
    page_ = bodies(any_hub, cid, ObjectQuery(), after_seq=0, limit=10)
    assert page_.bodies == [item.body.encode("utf-8") for item in items]
    assert [orjson.loads(b)["id"] for b in page_.bodies] == [item.object_id for item in items]


QUERIES = [
    ObjectQuery(),
    ALL,
    ObjectQuery(versions=("first",)),
    ObjectQuery(versions=("first", "last")),
    ObjectQuery(versions=(), version_us=(T0 + DAY,)),
    ObjectQuery(versions=("first",), version_us=(T0 + 2 * DAY, T0 + 5 * DAY)),
    ObjectQuery(versions=("all",), version_us=(T0,)),
    ObjectQuery(versions=(), version_us=()),
    ObjectQuery(types=("malware",)),
    ObjectQuery(types=("indicator", "malware"), versions=("all",)),
    ObjectQuery(spec_versions=("2.1",)),
    ObjectQuery(spec_versions=("2.0",)),
    ObjectQuery(versions=("all",), added_after_us=T0),
]


@pytest.mark.parametrize("query", QUERIES)
def test_bodies_page_through_the_same_versions_as_rows(any_hub: Hub, query: ObjectQuery) -> None:
    cid = new_collection(any_hub)
    ids = ["indicator--" + str(uuid.uuid4()) for _ in range(5)]
    mal = "malware--" + str(uuid.uuid4())
    add(any_hub, cid, *(version(i, T0 + n * DAY) for n, i in enumerate(ids)))
    add(any_hub, cid, version(mal, T0, "malware"), version(ids[0], T0 + 2 * DAY))
    add(any_hub, cid, version(ids[1], T0), version(mal, T0 + 5 * DAY, "malware"))
    for object_id in (None, ids[0], mal):
        scoped = query if object_id is None else dataclass_replace(query, ids=(), types=())
        queries = [scoped, dataclass_replace(scoped, ids=(mal, ids[1], ids[0]))]
        for q in queries:
            after = 0
            while True:
                with any_hub.db.read() as conn:
                    repo = ObjectRepository(conn)
                    rows = repo.page(cid, q, after_seq=after, limit=2, object_id=object_id)
                    got = repo.bodies(cid, q, after_seq=after, limit=2, object_id=object_id)
                as_read = [orjson.loads(b) for b in got.bodies]
                assert [(o["id"], o["modified"]) for o in as_read] == [
                    (r.object_id, r.version_text) for r in rows.rows
                ]
                assert got.more == rows.more
                if not rows.rows:
                    assert got == BodyPage()
                    break
                assert got.last_seq == rows.rows[-1].seq
                assert got.first_added_us == rows.rows[0].date_added_us
                assert got.last_added_us == rows.rows[-1].date_added_us
                if not rows.more:
                    break
                after = got.last_seq
