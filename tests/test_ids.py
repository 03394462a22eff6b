"""Ids: `<kind>-<environment>-<uuid4>`, the uuid4 text from batched random bytes."""

from __future__ import annotations

import os
import uuid

from antechamber import ids


def test_uuid4_text_is_a_canonical_version_4_uuid() -> None:
    for _ in range(3 * ids._BATCH):
        text = ids.uuid4_text()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # Every variant digit shows up (8, 9, a, b): its two random bits are kept.
    assert {ids.uuid4_text()[19] for _ in range(400)} == set("89ab")


def test_ids_do_not_repeat() -> None:
    many = [ids.request_id() for _ in range(10 * ids._BATCH)]
    assert len(set(many)) == len(many)
    assert all(i.startswith("request-id-test-") and len(i) == 16 + 36 for i in many)
    assert ids.new_id("member", "live").startswith("member-live-")


def test_a_forked_child_does_not_reuse_the_parents_batch() -> None:
    ids.uuid4_text()  # a batch in hand
    parent_next = list(ids._pool)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.write(write, ids.uuid4_text().encode())
        os._exit(0)
    os.close(write)
    got = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(child, 0)
    assert got not in parent_next
